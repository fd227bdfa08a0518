from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0002_mailbox_imap"),
    ]

    operations = []
