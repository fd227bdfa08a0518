"""Reading SLA policies and clocks, for whoever may see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.desks.business_time import Schedule, business_time_between
from comptoir.desks.models import Desk
from comptoir.sla.models import ClockState, SlaClock, SlaPolicy
from comptoir.tickets.models import Ticket


def policies_of(actor: Actor, desk: Desk) -> QuerySet[SlaPolicy]:
    if not is_staff_on(actor, desk):
        return SlaPolicy.objects.none()
    return (
        SlaPolicy.objects.filter(desk=desk)
        .select_related("desk", "calendar", "breach_reassign_team")
        .prefetch_related("categories", "organisations", "teams")
        .order_by("scope", "position", "id")
    )


@dataclass(frozen=True)
class ClockView:
    """A clock as a person sees it: state, due time in their zone, business time left."""

    clock: SlaClock
    status: str  # running, paused, met, breached, stopped (no longer applies; not met)
    due_at: datetime | None
    due_local: datetime | None
    business_seconds_left: int | None
    elapsed_seconds: int


def _schedule_of(clock: SlaClock) -> Schedule:
    if clock.calendar is None:
        return Schedule.twenty_four_seven(clock.time_zone)
    return clock.calendar.schedule()


def clocks_of(ticket: Ticket, *, viewer_zone: str = "UTC", now: datetime | None = None):
    """The ticket's clocks (the caller has already checked the viewer may see the ticket)."""
    now = now or timezone.now()
    zone = ZoneInfo(viewer_zone)
    views = []
    for clock in SlaClock.objects.filter(ticket=ticket).select_related(
        "policy", "calendar", "team"
    ):
        elapsed = timedelta(seconds=clock.elapsed_seconds)
        left: int | None = None
        if clock.state == ClockState.RUNNING and clock.resumed_at is not None:
            schedule = _schedule_of(clock)
            if now > clock.resumed_at:
                elapsed += business_time_between(schedule, clock.resumed_at, now)
        if clock.state != ClockState.STOPPED:
            left = int((timedelta(seconds=clock.target_seconds) - elapsed).total_seconds())
        breached = clock.breached_at is not None or (left is not None and left < 0)
        if clock.state == ClockState.STOPPED:
            status = "breached" if breached else ("met" if clock.met else "stopped")
        elif breached:
            status = "breached"
        else:
            status = str(clock.state)
        due = clock.due_at
        views.append(
            ClockView(
                clock=clock,
                status=status,
                due_at=due,
                due_local=due.astimezone(zone) if due else None,
                business_seconds_left=left,
                elapsed_seconds=int(elapsed.total_seconds()),
            )
        )
    return views
