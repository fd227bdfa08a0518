"""Routing's settings: rules, agents' availability and skills, teams' shifts.

Each service checks permission, validates, saves and writes the audit log, in one transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.db import models, transaction
from django.utils import timezone

from comptoir.accounts.models import Availability, Organisation, Site, Team, User
from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.lookups import slug_or_id
from comptoir.desks.models import BusinessCalendar, Category, Desk
from comptoir.desks.priority import Priority
from comptoir.routing import selectors
from comptoir.routing.models import AgentSkill, Method, RoutingRule
from comptoir.routing.permissions import can_change_routing, can_set_availability
from comptoir.tickets.lifecycle import TicketKind
from comptoir.tickets.models import TicketChannel

# --- shared checks ----------------------------------------------------------------------------


def _invalid(message: str, field: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, {"field": field})


def _require_manager(actor: Actor, desk: Desk | int, what: str) -> None:
    if not can_change_routing(actor, desk):
        raise PermissionDenied(f"Only the desk's managers change {what}.")


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(f"{field} is true or false.", field)
    return value


def _subset(values: Any, allowed: list, field: str, what: str) -> list:
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise _invalid(f"{field} must be a list.", field)
    unknown = [v for v in values if v not in allowed or isinstance(v, bool)]
    if unknown:
        raise _invalid(
            f"Unknown {what}: {', '.join(map(str, unknown))} "
            f"(one of {', '.join(map(str, allowed))}).",
            field,
        )
    return list(dict.fromkeys(values))


def _text(value: Any) -> str:
    return str(value.pk if isinstance(value, models.Model) else value).strip()


def _of_desk(query: models.QuerySet, desk: Desk, value: Any, field: str, what: str) -> models.Model:
    """A team or (active) category of ``desk`` by id, slug or instance; another desk's is refused."""
    text = _text(value)
    found = query.filter(desk=desk).filter(slug_or_id(text)).first()
    if found is not None:
        return found
    if text.isdigit() and query.filter(pk=int(text)).exists():
        raise _invalid(f"The {what} {text} belongs to another desk.", field)
    raise _invalid(f"No {what} {text!r} on desk {desk.slug}.", field)


def _category(desk: Desk, value: Any) -> Category:
    found = _of_desk(Category.objects.filter(is_active=True), desk, value, "categories", "category")
    assert isinstance(found, Category)
    return found


def _many(values: Any, field: str, one) -> list:
    if values is None:
        return []
    if not isinstance(values, list | tuple | models.QuerySet):
        raise _invalid(f"{field} must be a list.", field)
    return list({item.pk: item for item in (one(v) for v in values)}.values())


def _site(desk: Desk, value: Any) -> Site:
    text = _text(value)
    site = Site.objects.filter(pk=int(text)).first() if text.isdigit() else None
    if site is None:
        raise _invalid(f"No site {text!r} (name sites by id).", "sites")
    if not desk.serves_all_sites and not desk.served_sites.filter(pk=site.pk).exists():
        raise _invalid(f"The site {site} is not served by desk {desk.slug}.", "sites")
    return site


def _organisation(value: Any) -> Organisation:
    text = _text(value)
    found = Organisation.objects.filter(slug_or_id(text)).first()
    if found is None:
        raise _invalid(f"No organisation {text!r}.", "organisations")
    return found


# --- routing rules ---------------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "position",
    "is_active",
    "kinds",
    "priorities",
    "channels",
    "categories",
    "organisations",
    "sites",
    "vip_only",
    "team",
    "method",
    "follow_the_sun",
)
MAX_POSITION = 1_000_000


def clean_rule(rule: RoutingRule, desk: Desk, values: dict[str, Any]) -> dict[str, list]:
    """Set and check a rule's fields from ``values``; returns its relations to set once saved."""
    unknown = sorted(set(values) - set(RULE_FIELDS))
    if unknown:
        raise _invalid(f"Unknown field(s): {', '.join(unknown)}.", unknown[0])
    if "name" in values:
        rule.name = str(values["name"] or "").strip()
    if not rule.name:
        raise _invalid("A rule needs a name.", "name")
    if len(rule.name) > 120:
        raise _invalid("A rule's name has 120 characters at most.", "name")
    if values.get("position") is not None:
        position = values["position"]
        if not isinstance(position, int) or isinstance(position, bool):
            raise _invalid("The position is a whole number.", "position")
        if not 0 <= position <= MAX_POSITION:
            raise _invalid(f"The position is between 0 and {MAX_POSITION}.", "position")
        rule.position = position
    for name in ("is_active", "vip_only", "follow_the_sun"):
        if values.get(name) is not None:
            setattr(rule, name, _bool(values[name], name))
    if "kinds" in values:
        rule.kinds = _subset(values["kinds"], TicketKind.values, "kinds", "ticket kind")
    if "priorities" in values:
        rule.priorities = _subset(values["priorities"], Priority.values, "priorities", "priority")
    if "channels" in values:
        rule.channels = _subset(values["channels"], TicketChannel.values, "channels", "channel")
    if values.get("method") is not None:
        if values["method"] not in Method.values:
            raise _invalid(
                f"Unknown method {values['method']!r} (one of {', '.join(Method.values)}).",
                "method",
            )
        rule.method = values["method"]
    if "team" in values:
        if values["team"] in (None, ""):
            raise _invalid("A rule sends tickets to a team: name it.", "team")
        team = _of_desk(Team.objects.all(), desk, values["team"], "team", "team")
        assert isinstance(team, Team)
        rule.team = team
    if rule.team_id is None:
        raise _invalid("A rule sends tickets to a team: name it.", "team")
    related: dict[str, list] = {}
    if "categories" in values:
        related["categories"] = _many(
            values["categories"], "categories", lambda v: _category(desk, v)
        )
    if "organisations" in values:
        related["organisations"] = _many(values["organisations"], "organisations", _organisation)
    if "sites" in values:
        related["sites"] = _many(values["sites"], "sites", lambda v: _site(desk, v))
    duplicate = RoutingRule.objects.filter(desk=desk, name__iexact=rule.name)
    if rule.pk:
        duplicate = duplicate.exclude(pk=rule.pk)
    if duplicate.exists():
        raise _invalid(f"Desk {desk.slug} has a rule named {rule.name!r} already.", "name")
    return related


def _unreachable(rule: RoutingRule) -> str | None:
    """Why an active rule can never match, or would keep another from ever matching."""
    if not rule.is_active:
        return None
    ordered = [
        selectors.rule_facts(r) for r in selectors.rules_of(rule.desk_id).filter(is_active=True)
    ]
    index = next(i for i, r in enumerate(ordered) if r.id == rule.pk)
    for earlier in ordered[:index]:
        if earlier.is_catch_all:
            return (
                f"This rule can never match: rule '{earlier.name}' comes before it and has "
                "no condition, so it takes every ticket. Give this rule a smaller position, "
                f"or add a condition to '{earlier.name}'."
            )
    if ordered[index].is_catch_all and index + 1 < len(ordered):
        later = ordered[index + 1]
        return (
            f"This rule has no condition, so it takes every ticket and rule '{later.name}' "
            "after it could never match. Give this rule the last position, or add a condition."
        )
    return None


def _save_rule(actor: Actor, rule: RoutingRule, desk: Desk, values: dict[str, Any]) -> RoutingRule:
    before = snapshot(rule) if rule.pk else None
    related = clean_rule(rule, desk, values)
    if rule.pk is None and values.get("position") is None:
        last = RoutingRule.objects.filter(desk=desk).aggregate(last=models.Max("position"))["last"]
        rule.position = min(MAX_POSITION, (last or 0) + 10)
    rule.save()
    for name, items in related.items():
        getattr(rule, name).set(items)
    problem = _unreachable(rule)
    if problem:
        raise _invalid(problem, "position")
    record_audit(
        actor=actor,
        action="update" if before else "create",
        obj=rule,
        before=before,
        after=snapshot(rule),
    )
    return rule


@transaction.atomic
def create_rule(*, actor: Actor, desk: Desk, **values: Any) -> RoutingRule:
    """Add a routing rule to a desk; without a position it goes last."""
    _require_manager(actor, desk, "routing rules")
    return _save_rule(actor, RoutingRule(desk=desk), desk, values)


@transaction.atomic
def update_rule(*, actor: Actor, rule: RoutingRule, **values: Any) -> RoutingRule:
    _require_manager(actor, rule.desk_id, "routing rules")
    locked = RoutingRule.objects.select_for_update().select_related("desk").get(pk=rule.pk)
    return _save_rule(actor, locked, locked.desk, values)


@transaction.atomic
def delete_rule(*, actor: Actor, rule: RoutingRule) -> None:
    _require_manager(actor, rule.desk_id, "routing rules")
    record_audit(actor=actor, action="delete", obj=rule, before=snapshot(rule))
    rule.delete()


# --- agents and teams ------------------------------------------------------------------------

UNSET: Any = object()


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise _invalid(f"{value!r} is not a date (YYYY-MM-DD).", "away_until") from exc


@transaction.atomic
def set_availability(
    *, actor: Actor, agent: User, availability: Any = UNSET, away_until: Any = UNSET
) -> User:
    """Set whether routing may give the agent work; ``away_until`` is a leave's last day."""
    desks = selectors.staff_desks_of(agent)
    if not desks:
        raise _invalid(f"{agent.email} is not an agent.", "agent")
    if not can_set_availability(actor, agent, desks):
        raise PermissionDenied("Only the agent or a manager of their desk sets their availability.")
    agent = User.objects.select_for_update().get(pk=agent.pk)
    before = {"availability": agent.availability, "away_until": _iso(agent.away_until)}
    if availability is not UNSET:
        if availability not in Availability.values:
            raise _invalid(
                f"Availability is one of {', '.join(Availability.values)}.", "availability"
            )
        agent.availability = availability
        if availability != Availability.ON_LEAVE and away_until is UNSET:
            agent.away_until = None
    if away_until is not UNSET:
        agent.away_until = _date(away_until)
    if agent.away_until is not None:
        if agent.availability != Availability.ON_LEAVE:
            raise _invalid("A return date goes with availability on_leave only.", "away_until")
        if agent.away_until < timezone.now().astimezone(ZoneInfo(agent.time_zone)).date():
            raise _invalid("The last day of leave is in the past.", "away_until")
    agent.save(update_fields=["availability", "away_until"])
    after = {"availability": agent.availability, "away_until": _iso(agent.away_until)}
    if after != before:
        record_audit(actor=actor, action="set_availability", obj=agent, before=before, after=after)
    return agent


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


@transaction.atomic
def set_skills(*, actor: Actor, agent: User, desk: Desk, categories: Any) -> list[Category]:
    """Replace the agent's skills on ``desk`` (categories of the desk; other desks' stay)."""
    _require_manager(actor, desk, "agents' skills")
    if not is_staff_on(Actor.for_user(agent), desk):
        raise _invalid(f"{agent.email} is not an agent of desk {desk.slug}.", "agent")
    wanted = _many(categories, "categories", lambda v: _category(desk, v))
    held = AgentSkill.objects.filter(user=agent, category__desk=desk)
    before = sorted(held.values_list("category_id", flat=True))
    after = sorted(c.pk for c in wanted)
    if before != after:
        held.exclude(category_id__in=after).delete()
        AgentSkill.objects.bulk_create(
            [AgentSkill(user=agent, category_id=pk) for pk in after if pk not in before]
        )
        record_audit(
            actor=actor,
            action="set_skills",
            obj=agent,
            before={"desk": desk.slug, "categories": before},
            after={"desk": desk.slug, "categories": after},
        )
    return sorted(wanted, key=lambda c: c.path)


SHIFT_FIELDS = ("calendar", "follow_the_sun", "hand_over_at_shift_end")


@transaction.atomic
def set_team_shift(*, actor: Actor, team: Team, **values: Any) -> Team:
    """A team's shifts: its calendar, follow-the-sun, and hand-over at the end of a shift."""
    _require_manager(actor, team.desk_id, "teams' shifts")
    unknown = sorted(set(values) - set(SHIFT_FIELDS))
    if unknown:
        raise _invalid(f"Unknown field(s): {', '.join(unknown)}.", unknown[0])
    team = Team.objects.select_for_update().get(pk=team.pk)
    before = snapshot(team)
    if "calendar" in values:
        team.calendar = _calendar(values["calendar"])
    for name in ("follow_the_sun", "hand_over_at_shift_end"):
        if values.get(name) is not None:
            setattr(team, name, _bool(values[name], name))
    if team.hand_over_at_shift_end and team.calendar is None:
        raise _invalid(
            "A team without a calendar is always on shift, so it never hands over: "
            "give it a calendar first.",
            "hand_over_at_shift_end",
        )
    team.save(update_fields=list(SHIFT_FIELDS))
    record_audit(actor=actor, action="set_shift", obj=team, before=before, after=snapshot(team))
    return Team.objects.select_related("desk", "calendar").get(pk=team.pk)


def _calendar(value: Any) -> BusinessCalendar | None:
    if value in (None, ""):
        return None
    if isinstance(value, BusinessCalendar):
        return value
    key = "pk" if isinstance(value, int) and not isinstance(value, bool) else "name"
    found = BusinessCalendar.objects.filter(**{key: value}).first()
    if found is None:
        raise _invalid(f"No calendar {value!r}.", "calendar")
    return found
