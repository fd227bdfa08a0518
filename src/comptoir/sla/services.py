"""SLA clocks kept from the timeline, the breach sweep and its escalations.

``refresh_clocks`` recomputes a ticket's clocks from its timeline (the event handlers call it
after every change that matters), stores them, writes what changed to the timeline (re-targeted,
met, breached) and keeps the ticket's SLA summary for the lists. ``sweep`` reads
only the clocks whose next warning or breach moment has come, through the partial index on
``next_check_at``, and acts on each threshold exactly once: a compare-and-set on
``warned_level`` in the same transaction as the notices, the timeline event and the escalation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from comptoir.accounts.models import Membership
from comptoir.accounts.roles import Role
from comptoir.core.actor import Actor, Channel
from comptoir.desks.business_time import Schedule
from comptoir.desks.models import BusinessCalendar
from comptoir.desks.selectors import category_lineage
from comptoir.notifications.services import notify
from comptoir.sla import clocks as pure
from comptoir.sla.models import CalendarSource, ClockState, Metric, Scope, SlaClock, SlaPolicy
from comptoir.sla.policies import FINISHED_STATES, matches, target_minutes
from comptoir.tickets import services as ticket_services
from comptoir.tickets.models import EventKind, Ticket, TicketEvent

logger = logging.getLogger(__name__)

BREACH = 100
_STEP_KINDS = (
    EventKind.CREATED,
    EventKind.STATUS_CHANGED,
    EventKind.MERGED_INTO,
    EventKind.COMMENTED,
    EventKind.ASSIGNED,
)
SLA_ACTOR_LABEL = "SLA"
#: Who "the desk's managers" are for an escalation (a desk admin configures, and is not paged).
DESK_MANAGERS = [Role.MANAGER.value, Role.INCIDENT_MANAGER.value]


def sla_actor() -> Actor:
    return Actor.system(SLA_ACTOR_LABEL, Channel.AUTOMATION)


# --- reading the timeline ------------------------------------------------------------------------


def steps_of(ticket: Ticket) -> list[pure.Step]:
    """The timeline facts the clocks depend on, in order (one query)."""
    rows = (
        TicketEvent.objects.filter(ticket_id=ticket.pk, kind__in=_STEP_KINDS)
        .order_by("created_at", "id")
        .values_list("kind", "created_at", "after", "actor_user_id", "public")
    )
    steps: list[pure.Step] = []
    for kind, at, after, actor_id, public in rows:
        if kind == EventKind.CREATED:
            steps.append(pure.Step(at, pure.STATUS, str(after.get("status", ""))))
            if after.get("team"):
                steps.append(pure.Step(at, pure.TEAM, str(after["team"])))
        elif kind in (EventKind.STATUS_CHANGED, EventKind.MERGED_INTO):
            steps.append(pure.Step(at, pure.STATUS, str(after.get("status", ""))))
        elif kind == EventKind.COMMENTED and public:
            by = after.get("by")
            if by is None:  # written before replies said who wrote them
                by = "customer" if actor_id == ticket.requester_id else "staff"
            if by in ("staff", "customer"):
                steps.append(pure.Step(at, pure.REPLY, by))
        elif kind == EventKind.ASSIGNED:
            steps.append(pure.Step(at, pure.TEAM, str(after.get("team") or "")))
    return steps


# --- which policy, which calendar -----------------------------------------------------------------


# desk id -> (version, policies). The version is read from the database on every use (one
# small aggregate, over the policies and their fixed calendars), so a policy or a calendar
# changed by another process is never used stale.
_policies: dict[int, tuple[tuple[Any, ...], list[SlaPolicy]]] = {}


def _desk_policies(desk_id: int) -> list[SlaPolicy]:
    version = tuple(
        SlaPolicy.objects.filter(desk_id=desk_id)
        .aggregate(
            changed=Max("updated_at"),
            count=Count("id"),
            ids=Sum("id"),
            # A fixed calendar's hours travel with the cached policy: its changes count too.
            calendars=Max("calendar__updated_at"),
        )
        .values()
    )
    cached = _policies.get(desk_id)
    if cached is not None and cached[0] == version:
        return cached[1]
    found = list(
        SlaPolicy.objects.filter(desk_id=desk_id, is_active=True)
        .select_related("calendar", "breach_reassign_team")
        .prefetch_related("categories", "organisations", "teams")
        .order_by("position", "id")
    )
    _policies[desk_id] = (version, found)
    return found


def _schedule(calendar: BusinessCalendar | None, time_zone: str) -> Schedule:
    if calendar is None:
        return Schedule.twenty_four_seven(time_zone)
    return calendar.schedule()


def calendar_for(policy: SlaPolicy, ticket: Ticket) -> BusinessCalendar | None:
    """The calendar a policy's clock runs on for this ticket (``None``: around the clock)."""
    source = policy.calendar_source
    if policy.scope == Scope.OLA or source == CalendarSource.TEAM:
        if ticket.team is not None and ticket.team.calendar_id:
            return ticket.team.calendar
        return ticket.desk.calendar
    if source == CalendarSource.ORGANISATION:
        if ticket.organisation is not None and ticket.organisation.calendar_id:
            return ticket.organisation.calendar
        return ticket.desk.calendar
    if source == CalendarSource.FIXED:
        return policy.calendar
    if source == CalendarSource.ALWAYS:
        return None
    return ticket.desk.calendar


@dataclass
class _Want:
    slot: str
    scope: str
    metric: str
    policy: SlaPolicy
    team_id: int | None
    calendar: BusinessCalendar | None
    spec: pure.Spec


def _wanted(ticket: Ticket, policies: list[SlaPolicy]) -> list[_Want]:
    chosen: dict[str, SlaPolicy] = {}
    lineage = category_lineage(ticket.desk_id, ticket.category_id)
    for policy in policies:
        if policy.scope not in chosen and matches(policy, ticket, lineage):
            chosen[policy.scope] = policy
    wants = []
    for scope, policy in chosen.items():
        calendar = calendar_for(policy, ticket)
        zone = calendar.time_zone if calendar else ticket.desk.time_zone
        schedule = _schedule(calendar, zone)
        metrics = [Metric.RESOLUTION] if scope == Scope.OLA else list(Metric)
        for metric in metrics:
            minutes = target_minutes(policy, metric, ticket.priority)
            if minutes is None:
                continue
            team = str(ticket.team_id) if scope == Scope.OLA else None
            spec = pure.Spec(
                metric=metric.value,
                target=timedelta(minutes=minutes),
                schedule=schedule,
                pause_states=frozenset(policy.pause_states or ()),
                finished_states=FINISHED_STATES,
                team=team,
            )
            slot = f"{scope}:{metric.value}" + (f":{ticket.team_id}" if team else "")
            wants.append(
                _Want(
                    slot,
                    scope,
                    metric.value,
                    policy,
                    ticket.team_id if team else None,
                    calendar,
                    spec,
                )
            )
    return wants


# --- keeping the clocks ---------------------------------------------------------------------------


@dataclass
class RefreshResult:
    clocks: list[SlaClock] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    #: The ticket's ``updated_at`` as the recompute read it: its clocks are true as of then.
    seen: datetime | None = None


def _next_check(
    clock: SlaClock, warn_at: list[int], schedule: Schedule, now: datetime
) -> datetime | None:
    if clock.state != ClockState.RUNNING or clock.resumed_at is None:
        return None
    target = timedelta(seconds=clock.target_seconds)
    elapsed = timedelta(seconds=clock.elapsed_seconds)
    for level in sorted({*warn_at, BREACH}):
        if level > clock.warned_level:
            return pure.threshold_moment(level, target, elapsed, clock.resumed_at, schedule)
    return None


def _clock_facts(clock: SlaClock) -> dict[str, Any]:
    return {
        "metric": clock.metric,
        "scope": clock.scope,
        "policy": clock.policy.name if clock.policy else None,
        "target_minutes": clock.target_seconds // 60,
        "due_at": clock.due_at.isoformat() if clock.due_at else None,
        "team": clock.team_id,
    }


def refresh_clocks(ticket_id: int, *, now: datetime | None = None) -> RefreshResult:
    """Recompute a ticket's clocks from its timeline and store what changed."""
    desk_id = (
        Ticket.objects.filter(pk=ticket_id).order_by().values_list("desk_id", flat=True).first()
    )
    if desk_id is None:
        return RefreshResult()
    policies = _desk_policies(desk_id)
    if not policies and not SlaClock.objects.filter(ticket_id=ticket_id).exists():
        return RefreshResult()  # a desk without SLAs: no write transaction, no lock
    return _refresh(ticket_id, policies, now or timezone.now())


@transaction.atomic
def _refresh(ticket_id: int, policies: list[SlaPolicy], now: datetime) -> RefreshResult:
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("desk__calendar", "organisation__calendar", "team__calendar", "category")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        return RefreshResult()
    result = RefreshResult(seen=ticket.updated_at)
    actor = sla_actor()
    steps = steps_of(ticket)
    existing = {
        c.slot: c for c in SlaClock.objects.filter(ticket_id=ticket.pk).select_related("policy")
    }
    wanted = _wanted(ticket, policies) if steps else []
    seen: set[str] = set()
    for want in wanted:
        derived = pure.derive(want.spec, steps, now)
        if derived is None:
            continue
        seen.add(want.slot)
        clock = existing.get(want.slot)
        fresh = clock is None
        before = _clock_facts(clock) if clock is not None else None
        if clock is None:
            clock = SlaClock(ticket=ticket, slot=want.slot, scope=want.scope, metric=want.metric)
        elif derived.cycle != clock.cycle:
            clock.warned_level = 0  # a new next-response cycle warns afresh
        was_stopped = clock.state == ClockState.STOPPED
        stored_before = None if fresh else _stored(clock)
        clock.team_id = want.team_id
        clock.policy = want.policy
        clock.calendar = want.calendar
        clock.time_zone = want.spec.schedule.tz.key
        clock.cycle = derived.cycle
        clock.target_seconds = int(want.spec.target.total_seconds())
        clock.state = derived.state
        clock.started_at = derived.started_at
        clock.elapsed_seconds = int(derived.elapsed.total_seconds())
        clock.resumed_at = derived.resumed_at
        clock.due_at = derived.due_at
        clock.stopped_at = derived.stopped_at
        clock.breached_at = derived.breached_at
        clock.met = derived.met
        clock.next_check_at = _next_check(
            clock, list(want.policy.warn_at or []), want.spec.schedule, now
        )
        if fresh or _stored(clock) != stored_before:
            clock.save()
        result.clocks.append(clock)
        facts = _clock_facts(clock)
        if (
            not fresh
            and before is not None
            and (
                before["target_minutes"] != facts["target_minutes"]
                or before["policy"] != facts["policy"]
            )
        ):
            _timeline(actor, ticket, EventKind.SLA_RETARGETED, facts, result, before=before)
        if clock.breached_at is not None and clock.warned_level < BREACH:
            _act(clock, BREACH, ticket=ticket, policy=want.policy, now=now, result=result)
        elif clock.met and not was_stopped and clock.breached_at is None:
            met = {**facts, "met_at": clock.stopped_at.isoformat() if clock.stopped_at else None}
            _timeline(actor, ticket, EventKind.SLA_MET, met, result)
    for slot, clock in existing.items():
        if slot not in seen and clock.state != ClockState.STOPPED:
            _stop_unwanted(actor, ticket, clock, steps, now, result)
    clocks = [*existing.values(), *(c for c in result.clocks if c.slot not in existing)]
    _summarise(ticket.pk, clocks, stored=(ticket.sla_due_at, ticket.sla_breached))
    return result


def _stop_unwanted(
    actor: Actor,
    ticket: Ticket,
    clock: SlaClock,
    steps: list[pure.Step],
    now: datetime,
    result: RefreshResult,
) -> None:
    """Stop a clock whose target no longer applies, with the business time it did use.

    A team's OLA stops when the ticket left the team; any other target stops now (its policy no
    longer matches the ticket). Neither is met; a target already late stays breached.
    """
    end = now
    if clock.scope == Scope.OLA and clock.team_id is not None:
        left = [s.at for s in steps if s.kind == pure.TEAM and s.value != str(clock.team_id)]
        end = max([*left[-1:], clock.started_at]) if left else now
    before = _clock_facts(clock)
    if clock.state == ClockState.RUNNING and clock.resumed_at is not None:
        schedule = _schedule(clock.calendar, clock.time_zone)
        elapsed = pure.elapsed_at(
            timedelta(seconds=clock.elapsed_seconds), clock.resumed_at, schedule, end
        )
        clock.elapsed_seconds = int(elapsed.total_seconds())
    clock.state = ClockState.STOPPED
    clock.stopped_at = end
    clock.resumed_at = None
    clock.due_at = clock.breached_at  # for a stopped clock, the breach moment if any
    clock.next_check_at = None
    clock.met = False
    clock.save()
    after = {**before, "target_minutes": None, "due_at": None, "stopped_at": end.isoformat()}
    _timeline(actor, ticket, EventKind.SLA_RETARGETED, after, result, before=before)


_STORED = (
    "team_id",
    "policy_id",
    "calendar_id",
    "time_zone",
    "cycle",
    "target_seconds",
    "state",
    "started_at",
    "elapsed_seconds",
    "resumed_at",
    "due_at",
    "stopped_at",
    "breached_at",
    "met",
    "next_check_at",
    "warned_level",
)


def _stored(clock: SlaClock) -> tuple[Any, ...]:
    return tuple(getattr(clock, name) for name in _STORED)


def _timeline(
    actor: Actor,
    ticket: Ticket,
    kind: str,
    after: dict[str, Any],
    result: RefreshResult,
    before: dict[str, Any] | None = None,
) -> None:
    ticket_services.append_event(actor=actor, ticket=ticket, kind=kind, after=after, before=before)
    result.events.append(kind)


def _summarise(
    ticket_id: int,
    clocks: Iterable[SlaClock] | None = None,
    *,
    stored: tuple[datetime | None, bool] | None = None,
) -> None:
    """Store the ticket's SLA summary (``set_sla_summary``) from its clocks: ``clocks``, every
    one the ticket has as a recompute left them, or else read here. ``stored``: the summary
    the ticket's row holds, read under its lock; the same summary is not written again."""
    rows = (
        [(c.scope, c.state, c.due_at, c.breached_at) for c in clocks]
        if clocks is not None
        else SlaClock.objects.filter(ticket_id=ticket_id).values_list(
            "scope", "state", "due_at", "breached_at"
        )
    )
    due = [d for scope, state, d, _ in rows if scope == Scope.SLA and state == "running" and d]
    breached = any(b is not None for scope, _, _, b in rows if scope == Scope.SLA)
    summary = (min(due) if due else None, breached)
    if summary != stored:
        ticket_services.set_sla_summary(ticket_id, due_at=summary[0], breached=summary[1])


# --- thresholds, exactly once ---------------------------------------------------------------------


def _claim(clock: SlaClock, level: int) -> bool:
    """Advance ``warned_level`` to ``level`` unless someone did: the winner alone acts."""
    won = (
        SlaClock.objects.filter(pk=clock.pk, cycle=clock.cycle, warned_level__lt=level).update(
            warned_level=level
        )
        == 1
    )
    if won:
        clock.warned_level = level
    return won


def _recipients(ticket: Ticket, who: list[str]) -> set[int]:
    ids: set[int] = set()
    if "assignee" in who and ticket.assignee_id:
        ids.add(ticket.assignee_id)
    if "team_lead" in who and ticket.team is not None and ticket.team.lead_id:
        ids.add(ticket.team.lead_id)
    if "desk_manager" in who:
        ids.update(
            Membership.objects.filter(
                desk_id=ticket.desk_id, role__in=DESK_MANAGERS, user__is_active=True
            ).values_list("user_id", flat=True)
        )
    return ids


def _act(
    clock: SlaClock,
    level: int,
    *,
    ticket: Ticket,
    policy: SlaPolicy | None,
    now: datetime,
    result: RefreshResult | None = None,
) -> bool:
    """Do what ``level`` asks (a warning, or the breach's escalation), once. Returns whether."""
    if not _claim(clock, level):
        return False
    actor = sla_actor()
    metric = Metric(clock.metric).label
    facts = {**_clock_facts(clock), "level": level}
    breach = level >= BREACH
    if breach:
        title = f"{ticket.ref}: {metric} target breached"
        ticket_services.append_event(
            actor=actor,
            ticket=ticket,
            kind=EventKind.SLA_BREACHED,
            after={**facts, "breached_at": (clock.breached_at or now).isoformat()},
        )
    else:
        title = f"{ticket.ref}: {metric} at {level} % of its target"
        ticket_services.append_event(
            actor=actor, ticket=ticket, kind=EventKind.SLA_WARNING, after=facts
        )
    who = list((policy.breach_notify if breach else policy.warn_notify) or []) if policy else []
    recipients = _recipients(ticket, who)
    sent = notify(
        recipients=recipients,
        kind="sla_breached" if breach else "sla_warning",
        key=f"sla:{clock.pk}:{clock.cycle}:{level}",
        title=title,
        body=ticket.title,
        ticket=ticket,
        data=facts,
    )
    if result is not None:
        result.events.append(EventKind.SLA_BREACHED if breach else EventKind.SLA_WARNING)
    if breach and policy is not None and ticket.is_live:
        _escalate(ticket, policy, clock)
    logger.debug("%s on %s (%d notices)", title, clock.slot, sent)
    return True


def _escalate(ticket: Ticket, policy: SlaPolicy, clock: SlaClock) -> None:
    actor = sla_actor()
    done: dict[str, Any] = {}
    team = policy.breach_reassign_team
    if team is not None and team.pk != ticket.team_id and team.desk_id == ticket.desk_id:
        ticket_services.assign_ticket(actor=actor, ticket=ticket, team=team, agent=None)
        done["reassigned_to"] = team.name
    if policy.breach_raise_priority and ticket.priority > 1:
        raised = ticket.priority - 1
        ticket_services.update_ticket(
            actor=actor,
            ticket=ticket,
            changes={
                "priority": raised,
                "priority_reason": f"{Metric(clock.metric).label} target breached",
            },
        )
        done["priority"] = raised
    if done:
        ticket_services.append_event(
            actor=actor,
            ticket=ticket,
            kind=EventKind.ESCALATED,
            after={"metric": clock.metric, "policy": policy.name, **done},
        )


# --- the sweep ------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    examined: int = 0
    warnings: int = 0
    breaches: int = 0


def sweep(*, now: datetime | None = None, batch: int = 500) -> SweepReport:
    """Act on every clock whose next warning or breach moment has come."""
    now = now or timezone.now()
    report = SweepReport()
    while True:
        ids = list(
            SlaClock.objects.filter(next_check_at__lte=now)
            .order_by("next_check_at")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return report
        progressed = False
        for clock_id in ids:
            report.examined += 1
            try:
                level = _check(clock_id, now)
            except Exception:
                logger.exception("SLA check of clock %s failed", clock_id)
                continue
            if level is not None:
                progressed = True
                if level >= BREACH:
                    report.breaches += 1
                else:
                    report.warnings += 1
            elif SlaClock.objects.filter(pk=clock_id, next_check_at__lte=now).exists():
                continue
            else:
                progressed = True
        if not progressed or len(ids) < batch:
            return report


@transaction.atomic
def _check(clock_id: int, now: datetime) -> int | None:
    """Act on one due clock; returns the level acted on, if any."""
    locking = SlaClock.objects.select_for_update(
        skip_locked=connection.features.has_select_for_update_skip_locked, of=("self",)
    )
    clock = (
        locking.select_related("calendar", "policy")
        .filter(pk=clock_id, next_check_at__lte=now)
        .first()
    )
    if clock is None:
        return None  # another worker has it, or it moved on
    policy = clock.policy
    warn_at = list(policy.warn_at or []) if policy else []
    schedule = _schedule(clock.calendar, clock.time_zone)
    target = timedelta(seconds=clock.target_seconds)
    acted: int | None = None
    if clock.state == ClockState.RUNNING and clock.resumed_at is not None:
        elapsed = pure.elapsed_at(
            timedelta(seconds=clock.elapsed_seconds), clock.resumed_at, schedule, now
        )
        reached = [
            level
            for level in sorted({*warn_at, BREACH})
            if level > clock.warned_level and elapsed >= target * level / 100
        ]
        if reached:
            level = reached[-1]
            if level >= BREACH and clock.breached_at is None:
                clock.breached_at = clock.due_at or now
                SlaClock.objects.filter(pk=clock.pk).update(breached_at=clock.breached_at)
            ticket = Ticket.objects.select_related("team").get(pk=clock.ticket_id)
            if _act(clock, level, ticket=ticket, policy=policy, now=now):
                acted = level
    clock.next_check_at = _next_check(clock, warn_at, schedule, now)
    if clock.next_check_at is not None and clock.next_check_at <= now and acted is None:
        # Not reached by a rounding hair: look again at the next sweep, never spin on it.
        clock.next_check_at = now + timedelta(minutes=1)
    SlaClock.objects.filter(pk=clock.pk).update(next_check_at=clock.next_check_at)
    if acted is not None and acted >= BREACH:
        _summarise(clock.ticket_id)
    return acted
