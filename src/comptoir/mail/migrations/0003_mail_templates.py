import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0002_mailbox_imap"),
    ]

    operations = [
        migrations.CreateModel(
            name="MailTemplate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("acknowledgement", "Acknowledgement of a ticket opened by mail"),
                            ("reply", "An agent's public reply"),
                            ("waiting", "The desk waits on the requester"),
                            ("reopened", "Reopened by the desk"),
                            ("cancelled", "Cancelled by the desk"),
                            ("rejected", "Change rejected"),
                            ("merged", "Merged into another ticket"),
                            ("resolved", "Resolved"),
                            ("notification", "A notice to an agent (SLA, assignment…)"),
                        ],
                        max_length=30,
                        verbose_name="kind",
                    ),
                ),
                (
                    "locale",
                    models.CharField(
                        choices=[("en", "English"), ("fr", "French")],
                        max_length=5,
                        verbose_name="language",
                    ),
                ),
                ("subject", models.CharField(max_length=300, verbose_name="subject")),
                ("body", models.TextField(verbose_name="body")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "desk",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="mail_templates",
                        to="desks.desk",
                    ),
                ),
            ],
            options={
                "ordering": ["desk_id", "kind", "locale"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("desk", "kind", "locale"), name="mail_template_unique"
                    )
                ],
            },
        ),
    ]
