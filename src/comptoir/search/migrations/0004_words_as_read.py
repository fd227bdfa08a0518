from django.db import migrations


def refresh(apps, schema_editor):
    """PostgreSQL only: each document's vector computed again from its words as a search reads
    them, split at every punctuation mark (``search.fulltext.search_words``), so that an
    address, a host name or a file name is found. Minutes at a million tickets."""
    from comptoir.search import fulltext

    fulltext.refresh(schema_editor.connection, vendors=("postgresql",))


class Migration(migrations.Migration):
    dependencies = [("search", "0003_index_layout")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop, elidable=False)]
