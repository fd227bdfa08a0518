from django.db import migrations


def bound(apps, schema_editor):
    """PostgreSQL only: each GIN index's pending list bounded to ``fulltext.PENDING_KB``, and
    emptied into the index. Seconds."""
    from comptoir.search import fulltext

    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for index in fulltext.INDEXES:
            cursor.execute(
                f"ALTER INDEX {index.table}_vector "
                f"SET (gin_pending_list_limit = {fulltext.PENDING_KB})"
            )
    for index in fulltext.INDEXES:
        fulltext.settle(connection, index)


class Migration(migrations.Migration):
    dependencies = [("search", "0004_words_as_read")]

    operations = [migrations.RunPython(bound, migrations.RunPython.noop, elidable=False)]
