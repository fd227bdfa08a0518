"""Routing follows the tickets' events: a new ticket is sent where the desk's rules say.

The decision is queued (after the creation committed) for the background worker; tests and
``COMPTOIR_TASKS_IMMEDIATE`` make it at once. A desk without an active rule queues nothing.
"""

from __future__ import annotations

from comptoir.core.events import subscribe
from comptoir.core.lookups import any_row
from comptoir.routing.models import RoutingRule
from comptoir.routing.tasks import route_ticket_task
from comptoir.tickets import events as ev


@subscribe(ev.TicketCreated)
def route_new_ticket(event: ev.TicketCreated) -> None:
    if any_row(RoutingRule, desk_id=event.desk_id, is_active=True):
        route_ticket_task(event.ticket_id)
