from django.db import migrations


def fill(apps, schema_editor):
    """PostgreSQL only: the lexicon (``search.fulltext.LEXICON``), the trigger that keeps it,
    and every word the indexes already hold: 97 s at a million bench tickets."""
    from comptoir.search import fulltext

    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in fulltext.pg_setup():
            cursor.execute(statement)
        for index in fulltext.INDEXES:
            cursor.execute(fulltext.pg_fill_lexicon(index))


class Migration(migrations.Migration):
    dependencies = [("search", "0005_pending_list")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=False)]
