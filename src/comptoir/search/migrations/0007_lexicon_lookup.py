from django.db import migrations


def replace(apps, schema_editor):
    """PostgreSQL only: the trigger again, its lexicon lookup planned as one probe of the
    primary key per word, whatever the statistics (``search.fulltext._PG_FUNCTION``)."""
    from comptoir.search import fulltext

    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in fulltext.pg_setup():
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("search", "0006_lexicon")]

    operations = [migrations.RunPython(replace, migrations.RunPython.noop, elidable=False)]
