"""The SLA clocks follow the tickets: every change that can move a clock recomputes it."""

from __future__ import annotations

from comptoir.core.events import subscribe
from comptoir.sla.services import refresh_clocks
from comptoir.tickets import events as ev


@subscribe(ev.TicketEventBase)
def follow_ticket(event: ev.TicketEventBase) -> None:
    if isinstance(event, ev.TicketCommented) and not event.public:
        return  # an internal note moves no clock
    if isinstance(event, ev.TicketUpdated) and not set(event.fields) & RETARGETING_FIELDS:
        return
    refresh_clocks(event.ticket_id)


#: Fields whose change can choose another policy or calendar.
RETARGETING_FIELDS = {"category", "kind", "channel", "organisation", "requester", "priority"}
