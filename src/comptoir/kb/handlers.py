"""What the knowledge base does when tickets change."""

from __future__ import annotations

from datetime import timedelta

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

    One UPDATE on the recent suggestions of that desk; the portal also calls
    ``services.note_ticket_opened`` for a reader known only by their browser session.
    """
    since = timezone.now() - timedelta(minutes=deflection_minutes())
    requester = Ticket.objects.filter(pk=event.ticket_id).values("requester_id")
    Deflection.objects.filter(
        desk_id=event.desk_id, ticket__isnull=True, created_at__gte=since, user_id__in=requester
    ).update(ticket_id=event.ticket_id)
