"""The SLA clocks follow the tickets: every change that can move a clock recomputes it.

The work is queued (after the change committed) for the background worker, so that a request
pays for one write transaction, not three; tests and ``COMPTOIR_TASKS_IMMEDIATE`` run it at once.
A ticket with no clock, on a desk without an active policy, queues nothing.
"""

from __future__ import annotations

from comptoir.core.events import subscribe
from comptoir.core.lookups import any_row
from comptoir.sla.models import SlaClock, SlaPolicy
from comptoir.sla.tasks import refresh_ticket_clocks
from comptoir.tickets import events as ev


@subscribe(ev.TicketEventBase)
def follow_ticket(event: ev.TicketEventBase) -> None:
    if isinstance(event, ev.TicketCommented) and not event.public:
        return  # an internal note moves no clock
    if isinstance(event, ev.TicketUpdated) and not set(event.fields) & RETARGETING_FIELDS:
        return
    if not any_row(SlaPolicy, desk_id=event.desk_id, is_active=True) and (
        isinstance(event, ev.TicketCreated) or not any_row(SlaClock, ticket_id=event.ticket_id)
    ):
        return  # nothing to start, stop or move
    refresh_ticket_clocks([event.ticket_id])


#: Fields whose change can choose another policy or calendar.
RETARGETING_FIELDS = {"category", "kind", "channel", "organisation", "requester", "priority"}
