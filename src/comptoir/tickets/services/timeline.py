"""The timeline's door for other apps: SLA clocks and routing write what they decided."""

from __future__ import annotations

from typing import Any

from comptoir.core.actor import Actor
from comptoir.tickets.models import EventKind, Ticket, TicketEvent
from comptoir.tickets.services._common import _record

#: The kinds other apps may append: they record a decision about the ticket, not a change to
#: one of its fields, which only the ticket services make.
FOREIGN_KINDS = frozenset(
    {
        EventKind.SLA_RETARGETED,
        EventKind.SLA_WARNING,
        EventKind.SLA_MET,
        EventKind.SLA_BREACHED,
        EventKind.ESCALATED,
        EventKind.ROUTED,
    }
)


def append_event(
    *,
    actor: Actor,
    ticket: Ticket,
    kind: str,
    after: dict[str, Any],
    before: dict[str, Any] | None = None,
    at=None,
) -> TicketEvent:
    """Append a decision (an SLA met or breached, a routing choice) to a ticket's timeline."""
    if kind not in FOREIGN_KINDS:
        raise ValueError(f"{kind!r} is written by the ticket services only.")
    return _record(ticket, actor, kind, before=before, after=after, at=at)


def set_sla_summary(ticket_id: int, *, due_at, breached: bool) -> None:
    """Store the SLA clocks' summary on the ticket row, for list filters and sorting by due."""
    Ticket.objects.filter(pk=ticket_id).exclude(sla_due_at=due_at, sla_breached=breached).update(
        sla_due_at=due_at, sla_breached=breached
    )
