import django.db.models.deletion
from django.db import migrations

import comptoir.search.models


def partition(apps, schema_editor):
    """PostgreSQL only: the ticket documents partitioned by ticket id (``fulltext.PARTITION``),
    without their foreign key to the tickets (``models.TicketDocument``). The rows are copied
    with their vectors: at a million tickets, a few minutes (docs/subsystems/search.md)."""
    from comptoir.search import fulltext

    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            fulltext.pg_partition_tickets(cursor)
        fulltext.install(schema_editor.connection)  # the trigger's function as it is now


def unpartition(apps, schema_editor):
    from comptoir.search import fulltext

    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            fulltext.pg_unpartition_tickets(cursor)
            cursor.execute(
                f"ALTER TABLE {fulltext.TICKETS.table} ADD CONSTRAINT "
                f"{fulltext.TICKETS.table}_ticket_id_fk FOREIGN KEY (ticket_id) "
                "REFERENCES tickets_ticket (id) DEFERRABLE INITIALLY DEFERRED"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0008_lexicon_by_statement"),
        ("tickets", "0003_rating"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ticketdocument",
                    name="ticket",
                    field=comptoir.search.models.RecordKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="tickets.ticket",
                    ),
                ),
            ],
            # SQLite keeps its foreign key: dropping it would make the table again.
            database_operations=[migrations.RunPython(partition, unpartition, elidable=False)],
        ),
    ]
