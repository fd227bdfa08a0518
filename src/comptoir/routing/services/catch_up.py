"""Routing what a lost job left unrouted.

A new ticket is routed by a job queued after its creation. That job can be lost: the worker
that took it was killed, or Redis restarted before a worker took it. The database alone says
what is left to do: a live, unassigned ticket of a desk with active rules (that were there when
it came), whose team nobody chose and which has no ``routed`` event. ``route_unrouted`` routes those, once a grace period
has passed (the queued job normally does it within a second), through ``route_ticket``, which
routes a ticket once whoever calls it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from comptoir.routing import selectors
from comptoir.routing.models import RoutingRule
from comptoir.routing.services.assignment import route_ticket
from comptoir.tickets.models import EventKind, Ticket, TicketEvent

logger = logging.getLogger(__name__)

#: How far back a ticket left unrouted is looked for.
LOOKBACK = timedelta(days=1)


def grace() -> timedelta:
    """How old undone work must be before a sweep does it in place of its job."""
    return timedelta(seconds=max(int(settings.COMPTOIR_CATCH_UP_AFTER_SECONDS), 0))


def unrouted_ids(*, now: datetime, batch: int) -> list[int]:
    """Tickets created between ``LOOKBACK`` and the grace period ago that routing should have
    decided on and did not, oldest first."""
    routed = TicketEvent.objects.filter(ticket_id=OuterRef("pk"), kind=EventKind.ROUTED)
    team_given = TicketEvent.objects.filter(
        ticket_id=OuterRef("pk"), kind=EventKind.CREATED, after__team_source="given"
    )
    # A rule of the ticket's desk, active and unchanged since before the ticket came: its job
    # was queued. A desk's first rule does not route the tickets that came before it.
    ruled = RoutingRule.objects.filter(
        desk_id=OuterRef("desk_id"), is_active=True, updated_at__lte=OuterRef("created_at")
    )
    return list(
        Ticket.objects.filter(
            Exists(ruled),
            assignee__isnull=True,
            status_category__in=selectors.LIVE,
            created_at__gt=now - LOOKBACK,
            created_at__lte=now - grace(),
        )
        .exclude(Exists(routed))
        .exclude(Exists(team_given))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:batch]
    )


def route_unrouted(*, now: datetime | None = None, batch: int = 500) -> int:
    """Route the tickets a lost job left unrouted; returns how many were routed."""
    now = now or timezone.now()
    done = 0
    for ticket_id in unrouted_ids(now=now, batch=batch):
        try:
            if route_ticket(ticket_id) is not None:
                done += 1
        except Exception:  # one ticket's trouble never stops the others; the next sweep retries
            logger.exception("Routing ticket %s failed", ticket_id)
    return done
