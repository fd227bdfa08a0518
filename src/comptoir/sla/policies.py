"""SLA policies: which tickets they match, their targets, and the checks made before saving one.

A policy that could never apply (its conditions contradict each other, or a policy before it
matches every ticket) is refused when it is saved, with the reason, rather than found out the
day a ticket misses its target.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from comptoir.accounts.models import Organisation, Team
from comptoir.accounts.permissions import is_manager_on
from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.desks.models import BusinessCalendar, Category, Desk
from comptoir.desks.priority import Priority
from comptoir.desks.selectors import category_lineage
from comptoir.sla.models import CalendarSource, Metric, Recipient, Scope, SlaPolicy
from comptoir.tickets.conditions import Conditions
from comptoir.tickets.lifecycle import ALL_STATES, LIFECYCLES, StatusCategory, TicketKind
from comptoir.tickets.models import Ticket, TicketChannel

#: Statuses in which a ticket is done with (resolved or closed, whatever its kind).
FINISHED_STATES = frozenset(
    state
    for lifecycle in LIFECYCLES.values()
    for state in ALL_STATES
    if state in lifecycle.states
    and lifecycle.category(state) in (StatusCategory.RESOLVED, StatusCategory.CLOSED)
)
CONDITIONS = ("kinds", "priorities", "channels", "categories", "organisations", "teams")
MAX_TARGET_MINUTES = 366 * 24 * 60


def matches(policy: SlaPolicy, ticket: Ticket, lineage: frozenset[int] | None = None) -> bool:
    organisation = ticket.organisation
    holds = Conditions.of(policy).hold(
        kind=ticket.kind,
        priority=ticket.priority,
        channel=ticket.channel,
        organisation_id=ticket.organisation_id,
        is_vip=organisation is not None and organisation.is_vip,
        lineage=lineage
        if lineage is not None
        else (lambda: category_lineage(ticket.desk_id, ticket.category_id)),
    )
    if not holds:
        return False
    teams = {t.pk for t in policy.teams.all()}
    if teams and ticket.team_id not in teams:
        return False
    return not (policy.scope == Scope.OLA and ticket.team_id is None)


def target_minutes(policy: SlaPolicy, metric: str, priority: int) -> int | None:
    general = None
    for entry in policy.targets or []:
        if entry.get("metric") != metric:
            continue
        if entry.get("priority") == priority:
            return int(entry["minutes"])
        if entry.get("priority") is None:
            general = int(entry["minutes"])
    return general


def is_catch_all(policy: SlaPolicy) -> bool:
    return Conditions.of(policy).is_empty and not policy.teams.exists()


# --- validation -------------------------------------------------------------------------------


def _invalid(message: str, field: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, {"field": field})


def _subset(values: Any, allowed: set, field: str, what: str) -> list:
    if values is None:
        return []
    if not isinstance(values, list):
        raise _invalid(f"{field} must be a list.", field)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise _invalid(f"Unknown {what}: {', '.join(map(str, unknown))}.", field)
    return list(dict.fromkeys(values))


def clean_targets(raw: Any, scope: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise _invalid("A policy needs at least one target.", "targets")
    metrics = {Metric.RESOLUTION.value} if scope == Scope.OLA else set(Metric.values)
    cleaned: list[dict[str, Any]] = []
    seen: set[tuple[str, int | None]] = set()
    for entry in raw:
        if not isinstance(entry, dict):
            raise _invalid("Each target is {metric, minutes, priority?}.", "targets")
        metric = entry.get("metric")
        if metric not in metrics:
            raise _invalid(f"Target metric must be one of {', '.join(sorted(metrics))}.", "targets")
        minutes = entry.get("minutes")
        if (
            not isinstance(minutes, int)
            or isinstance(minutes, bool)
            or not 0 < minutes <= MAX_TARGET_MINUTES
        ):
            raise _invalid("A target is a whole number of minutes, 1 to a year.", "targets")
        priority = entry.get("priority")
        if priority is not None and priority not in Priority.values:
            raise _invalid("A target's priority is 1 to 5.", "targets")
        if (metric, priority) in seen:
            raise _invalid(f"Two targets for {metric} at the same priority.", "targets")
        seen.add((metric, priority))
        cleaned.append({"metric": metric, "minutes": minutes, "priority": priority})
    return cleaned


def _clean_percentages(raw: Any) -> list[int]:
    if raw is None:
        return []
    if not isinstance(raw, list) or any(
        not isinstance(v, int) or isinstance(v, bool) or not 0 < v < 100 for v in raw
    ):
        raise _invalid("Warnings are percentages of the target between 1 and 99.", "warn_at")
    return sorted(set(raw))


def _never_matches(policy: SlaPolicy, organisations: list[Organisation]) -> str | None:
    if policy.vip_only and organisations and not any(o.is_vip for o in organisations):
        return "it asks for VIP organisations but names only organisations that are not VIP"
    if policy.priorities:
        named = {t.get("priority") for t in policy.targets}
        if None not in named and not named & set(policy.priorities):
            return "its targets are all for priorities its conditions exclude"
    return None


def _shadowing_problem(desk: Desk, scope: str) -> str | None:
    """A policy that can never be reached because a catch-all policy comes before it."""
    ordered = list(
        SlaPolicy.objects.filter(desk=desk, scope=scope, is_active=True).order_by("position", "id")
    )
    for index, policy in enumerate(ordered):
        if is_catch_all(policy) and index + 1 < len(ordered):
            hidden = ordered[index + 1]
            return (
                f"Policy '{hidden.name}' can never match: '{policy.name}' comes before it and "
                "matches every ticket. Move the general policy last."
            )
    return None


_SIMPLE = (
    "name",
    "scope",
    "position",
    "is_active",
    "kinds",
    "priorities",
    "channels",
    "vip_only",
    "calendar_source",
    "pause_states",
    "targets",
    "warn_at",
    "warn_notify",
    "breach_notify",
    "breach_raise_priority",
)
_RELATED = ("categories", "organisations", "teams", "calendar", "breach_reassign_team")
FIELDS = _SIMPLE + _RELATED


def _resolve_many(model, desk: Desk | None, values: Any, field: str) -> list:
    if values is None:
        return []
    if not isinstance(values, list):
        raise _invalid(f"{field} must be a list.", field)
    found = []
    for value in values:
        query = model.objects.all()
        if desk is not None:
            query = query.filter(desk=desk)
        key = "pk" if isinstance(value, int) else "slug"
        item = query.filter(**{key: value}).first()
        if item is None:
            raise _invalid(f"Unknown {field[:-1]} {value!r}.", field)
        found.append(item)
    return found


def _apply(policy: SlaPolicy, desk: Desk, values: dict[str, Any]) -> dict[str, list]:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise _invalid(f"Unknown field(s): {', '.join(unknown)}.", unknown[0])
    for name in _SIMPLE:
        if name in values and values[name] is not None:
            setattr(policy, name, values[name])
    policy.name = str(policy.name or "").strip()
    if not policy.name:
        raise _invalid("A policy needs a name.", "name")
    if policy.scope not in Scope.values:
        raise _invalid("Scope is sla or ola.", "scope")
    policy.kinds = _subset(policy.kinds, set(TicketKind.values), "kinds", "ticket kind")
    policy.priorities = _subset(policy.priorities, set(Priority.values), "priorities", "priority")
    policy.channels = _subset(policy.channels, set(TicketChannel.values), "channels", "channel")
    policy.pause_states = _subset(
        policy.pause_states, set(ALL_STATES) - FINISHED_STATES, "pause_states", "open status"
    )
    policy.warn_at = _clean_percentages(policy.warn_at)
    recipients = set(Recipient.values)
    policy.warn_notify = _subset(policy.warn_notify, recipients, "warn_notify", "recipient")
    policy.breach_notify = _subset(policy.breach_notify, recipients, "breach_notify", "recipient")
    policy.targets = clean_targets(policy.targets, policy.scope)
    if policy.calendar_source not in CalendarSource.values:
        raise _invalid(
            f"Business hours come from one of: {', '.join(CalendarSource.values)}.",
            "calendar_source",
        )
    if "calendar" in values:
        calendar = values["calendar"]
        if calendar in (None, ""):
            policy.calendar = None
        else:
            key = "pk" if isinstance(calendar, int) else "name"
            policy.calendar = BusinessCalendar.objects.filter(**{key: calendar}).first()
            if policy.calendar is None:
                raise _invalid(f"Unknown calendar {calendar!r}.", "calendar")
    if policy.calendar_source == CalendarSource.FIXED and policy.calendar is None:
        raise _invalid("Name the calendar the policy runs on.", "calendar")
    if "breach_reassign_team" in values:
        team = values["breach_reassign_team"]
        policy.breach_reassign_team = None
        if team not in (None, ""):
            policy.breach_reassign_team = _resolve_many(Team, desk, [team], "teams")[0]
    related = {
        name: _resolve_many(model, scope_desk, values[name], name)
        for name, model, scope_desk in (
            ("categories", Category, desk),
            ("organisations", Organisation, None),
            ("teams", Team, desk),
        )
        if name in values
    }
    organisations = related.get("organisations")
    if organisations is None and policy.pk:
        organisations = list(policy.organisations.all())
    problem = _never_matches(policy, organisations or [])
    if problem:
        raise _invalid(f"This policy can never match: {problem}.", "conditions")
    duplicate = SlaPolicy.objects.filter(desk=desk, name__iexact=policy.name)
    if policy.pk:
        duplicate = duplicate.exclude(pk=policy.pk)
    if duplicate.exists():
        raise _invalid("This desk has a policy of that name already.", "name")
    return related


def check_policy(policy: SlaPolicy) -> None:
    """The checks of a save, for a form that sets the fields itself (the admin)."""
    if policy.desk_id is None:
        raise _invalid("Choose the desk.", "desk")
    _apply(policy, policy.desk, {})


def _require_manager(actor: Actor, desk: Desk) -> None:
    if not is_manager_on(actor, desk):
        raise PermissionDenied("Only the desk's managers define its SLA policies.")


def _save(actor: Actor, policy: SlaPolicy, desk: Desk, values: dict[str, Any]) -> SlaPolicy:
    before = snapshot(policy) if policy.pk else None
    related = _apply(policy, desk, values)
    policy.save()
    for name, items in related.items():
        getattr(policy, name).set(items)
    problem = _shadowing_problem(desk, policy.scope)
    if problem:
        raise _invalid(problem, "position")
    record_audit(
        actor=actor,
        action="update" if before else "create",
        obj=policy,
        before=before,
        after=snapshot(policy),
    )
    return policy


@transaction.atomic
def create_policy(*, actor: Actor, desk: Desk, **values: Any) -> SlaPolicy:
    _require_manager(actor, desk)
    return _save(actor, SlaPolicy(desk=desk), desk, values)


@transaction.atomic
def update_policy(*, actor: Actor, policy: SlaPolicy, **values: Any) -> SlaPolicy:
    _require_manager(actor, policy.desk)
    locked = SlaPolicy.objects.select_for_update().get(pk=policy.pk)
    return _save(actor, locked, policy.desk, values)


@transaction.atomic
def delete_policy(*, actor: Actor, policy: SlaPolicy) -> None:
    _require_manager(actor, policy.desk)
    record_audit(actor=actor, action="delete", obj=policy, before=snapshot(policy))
    policy.delete()
