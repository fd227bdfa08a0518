from django.db import migrations


def install(apps, schema_editor):
    from comptoir.search import fulltext

    fulltext.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from comptoir.search import fulltext

    fulltext.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
