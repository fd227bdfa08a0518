"""Reading the timeline back: the state of a ticket as its events tell it.

The timeline is the truth (rule 4): replaying a ticket's events must give its current status,
priority and assignment. Tests hold the services to that; reports and SLA clocks rely on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from comptoir.tickets.models import EventKind, TicketEvent

REPLAYED = ("status", "priority", "impact", "urgency", "title", "team", "assignee", "category")


def replay(events: Iterable[TicketEvent]) -> dict[str, Any]:
    """The fields in ``REPLAYED`` after applying ``events`` in order."""
    state: dict[str, Any] = {}
    for event in events:
        if event.kind == EventKind.CREATED:
            state = {key: event.after.get(key) for key in REPLAYED if key != "assignee"}
            state["assignee"] = None
        elif event.kind in (EventKind.STATUS_CHANGED, EventKind.MERGED_INTO):
            state["status"] = event.after["status"]
        elif event.kind == EventKind.PRIORITY_CHANGED:
            state["priority"] = event.after["priority"]
        elif event.kind == EventKind.ASSIGNED:
            state["team"] = event.after.get("team")
            state["assignee"] = event.after.get("assignee")
        elif event.kind == EventKind.FIELD_CHANGED:
            for key in ("title", "impact", "urgency", "category"):
                if key in event.after:
                    state[key] = event.after[key]
    return state


def current(ticket) -> dict[str, Any]:
    """The same fields read from the ticket row, for comparison with ``replay``."""
    return {
        "status": ticket.status,
        "priority": ticket.priority,
        "impact": ticket.impact,
        "urgency": ticket.urgency,
        "title": ticket.title,
        "team": ticket.team_id,
        "assignee": ticket.assignee.email if ticket.assignee_id else None,
        "category": ticket.category_id,
    }
