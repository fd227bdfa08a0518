"""What the knowledge base does when tickets change."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from comptoir.core.events import subscribe
from comptoir.kb.models import Deflection
from comptoir.kb.services.readers import deflection_minutes
from comptoir.tickets.events import TicketCreated
from comptoir.tickets.models import Ticket


@subscribe(TicketCreated)
def _ticket_created(event: TicketCreated) -> None:
    """Whatever the door (portal, mail, phone), a ticket its requester opened on a desk soon
    after reading a suggested article there means the article did not deflect it.

    One indexed read first (is any suggestion of that desk still open?), so that the common case,
    nobody on that desk having read a suggestion lately, writes nothing (on SQLite an UPDATE is a
    write transaction of its own, even when it changes no row); then one UPDATE. The portal also
    calls ``services.note_ticket_opened`` for a reader known only by their browser session.
    """
    since = timezone.now() - timedelta(minutes=deflection_minutes())
    if not _open_suggestions(event.desk_id, since):
        return
    requester = Ticket.objects.filter(pk=event.ticket_id).values("requester_id")
    Deflection.objects.filter(
        desk_id=event.desk_id, ticket__isnull=True, created_at__gte=since, user_id__in=requester
    ).update(ticket_id=event.ticket_id)


def _open_suggestions(desk_id: int, since) -> bool:
    """Whether the desk has a suggestion shown since ``since`` and not yet followed by a
    ticket: one statement on the ``(desk, created_at)`` index, written out since it runs after
    every ticket created."""
    table = connection.ops.quote_name(Deflection._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE desk_id = %s AND created_at >= %s "  # noqa: S608
            "AND ticket_id IS NULL LIMIT 1",
            [desk_id, connection.ops.adapt_datetimefield_value(since)],
        )
        return cursor.fetchone() is not None
