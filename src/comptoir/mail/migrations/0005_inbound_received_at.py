import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """A message's time of arrival is set when it comes in: its row is now written once, after
    the message is sorted out. No change to the table."""

    dependencies = [
        ("mail", "0004_mailbox_oauth"),
    ]

    operations = [
        migrations.AlterField(
            model_name="inboundmessage",
            name="received_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
    ]
