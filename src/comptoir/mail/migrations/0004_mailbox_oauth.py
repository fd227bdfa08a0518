from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0003_mail_templates"),
    ]

    operations = []
