"""The rows of a ticket list, worked out in Python once per page so that the template only prints.

Through template tags and lazy labels, each row cost about two URL reversals, a dozen
translations and an SLA computation: most of a 50-row page's time. Here a page reverses one URL,
translates each status and priority once, and reads the clock once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone

from comptoir.core.templatetags.comptoir_ui import sla_state, status_label
from comptoir.tickets.models import Ticket

#: Stands for the reference in the one reversed URL (references are letters, digits and "-").
_MARK = "REF0"


@dataclass(frozen=True, slots=True)
class Row:
    ticket: Ticket
    href: str
    status: str
    priority: str
    sla: dict[str, str]  # sla_state's css, text and title; an empty text shows no badge


def list_rows(tickets: Iterable[Ticket]) -> list[Row]:
    """The rows of ``tickets`` (read through ``selectors.row_query``), in their order."""
    href = reverse("workspace:ticket", kwargs={"ref": _MARK})
    now = timezone.now()
    statuses: dict[tuple[str, str], str] = {}
    priorities: dict[int, str] = {}
    rows = []
    for ticket in tickets:
        status = statuses.get((ticket.kind, ticket.status))
        if status is None:
            status = statuses[ticket.kind, ticket.status] = status_label(ticket)
        priority = priorities.get(ticket.priority)
        if priority is None:
            priority = priorities[ticket.priority] = str(ticket.get_priority_display())
        rows.append(
            Row(
                ticket=ticket,
                href=href.replace(_MARK, quote(ticket.ref)),
                status=status,
                priority=priority,
                sla=sla_state(ticket, now),
            )
        )
    return rows
