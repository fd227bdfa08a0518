from django.db import migrations


def replace(apps, schema_editor):
    """PostgreSQL only: the lexicon's new words added once per statement, in one order
    (``search.fulltext._PG_LEXICON_FUNCTION``), instead of row by row in the vector trigger:
    two statements writing many documents at once no longer deadlock."""
    from comptoir.search import fulltext

    if schema_editor.connection.vendor == "postgresql":
        fulltext.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("search", "0007_lexicon_lookup")]

    operations = [migrations.RunPython(replace, migrations.RunPython.noop, elidable=False)]
