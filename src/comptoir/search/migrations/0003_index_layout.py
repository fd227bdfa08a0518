from django.db import migrations


def refresh(apps, schema_editor):
    """The index in its new layout: FTS5 with ``detail=column`` on SQLite; on PostgreSQL the
    staff notes and the visibility and age tokens as lexemes no query word can produce
    (``search.fulltext``). Every document is indexed again: minutes at a million tickets."""
    from comptoir.search import fulltext

    fulltext.refresh(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("search", "0002_fulltext")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop, elidable=False)]
