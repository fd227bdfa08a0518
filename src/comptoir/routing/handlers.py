"""Routing follows the tickets' events: a new ticket is sent where the desk's rules say."""

from __future__ import annotations

from comptoir.core.events import subscribe
from comptoir.routing.services import route_ticket
from comptoir.tickets import events as ev


@subscribe(ev.TicketCreated)
def route_new_ticket(event: ev.TicketCreated) -> None:
    route_ticket(event.ticket_id)
