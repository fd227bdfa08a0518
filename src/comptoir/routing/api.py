"""The routing API: rules, team shifts, agents' availability and skills.

Managers of a desk write, its staff read; anyone else is told the rule, agent or team does not
exist (404) or, on a desk they can see, that they may not (403).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import Field

from comptoir.accounts.models import Team, User
from comptoir.accounts.permissions import is_staff_on
from comptoir.core.api import ErrorOut, actor_of
from comptoir.core.errors import NotFound, PermissionDenied
from comptoir.desks.models import Desk
from comptoir.desks.selectors import resolve_desk, teams_visible_to
from comptoir.routing import selectors, services
from comptoir.routing.models import RoutingRule

router = Router(tags=["routing"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class Ref(Schema):
    id: int
    name: str
    slug: str | None = None


class CalendarRef(Schema):
    id: int
    name: str


class RuleIn(Schema):
    desk: str = Field(description="Desk slug, prefix or id.")
    name: str
    team: int | str = Field(
        description="The team of the desk that receives the tickets: id or slug."
    )
    position: int | None = Field(
        None, description="Rules are tried in ascending order; default last."
    )
    is_active: bool = True
    kinds: list[str] = Field(default_factory=list, description="Ticket kinds; empty for any.")
    priorities: list[int] = Field(default_factory=list, description="1 to 5; empty for any.")
    channels: list[str] = Field(
        default_factory=list, description="web, email, phone…; empty for any."
    )
    categories: list[int | str] = Field(
        default_factory=list,
        description="Category ids or slugs; a category matches its subcategories.",
    )
    organisations: list[int | str] = Field(
        default_factory=list, description="Organisation ids or slugs."
    )
    sites: list[int] = Field(default_factory=list, description="The requester's site, by id.")
    vip_only: bool = False
    method: str = Field("queue", description="queue, round_robin, least_open or skill.")
    follow_the_sun: bool = True


class RulePatch(Schema):
    name: str | None = None
    team: int | str | None = None
    position: int | None = None
    is_active: bool | None = None
    kinds: list[str] | None = None
    priorities: list[int] | None = None
    channels: list[str] | None = None
    categories: list[int | str] | None = None
    organisations: list[int | str] | None = None
    sites: list[int] | None = None
    vip_only: bool | None = None
    method: str | None = None
    follow_the_sun: bool | None = None


class RuleOut(Schema):
    id: int
    desk: str
    name: str
    position: int
    is_active: bool
    kinds: list[str]
    priorities: list[int]
    channels: list[str]
    categories: list[Ref]
    organisations: list[Ref]
    sites: list[Ref]
    vip_only: bool
    team: Ref
    method: str
    follow_the_sun: bool
    updated_at: datetime


class AgentOut(Schema):
    email: str
    name: str
    availability: str
    away_until: date | None
    available: bool = Field(description="Whether routing may give them work today.")
    teams: list[Ref]
    skills: list[Ref]


class AvailabilityIn(Schema):
    availability: str | None = Field(None, description="available, away, off or on_leave.")
    away_until: date | None = Field(None, description="With on_leave: the last day of leave.")


class AvailabilityOut(Schema):
    email: str
    name: str
    availability: str
    away_until: date | None
    available: bool


class SkillsIn(Schema):
    desk: str = Field(description="Desk slug, prefix or id.")
    categories: list[int | str] = Field(description="Category ids or slugs of the desk.")


class ShiftIn(Schema):
    calendar: int | str | None = Field(
        None, description="Calendar id or name; null for always on shift."
    )
    follow_the_sun: bool | None = None
    hand_over_at_shift_end: bool | None = None


class ShiftOut(Schema):
    id: int
    slug: str
    name: str
    desk: str
    calendar: CalendarRef | None
    follow_the_sun: bool
    hand_over_at_shift_end: bool
    on_shift: bool


# --- answers ----------------------------------------------------------------------------------


def rule_out(rule: RoutingRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "desk": rule.desk.slug,
        "name": rule.name,
        "position": rule.position,
        "is_active": rule.is_active,
        "kinds": rule.kinds,
        "priorities": rule.priorities,
        "channels": rule.channels,
        "categories": [{"id": c.pk, "name": c.path, "slug": c.slug} for c in rule.categories.all()],
        "organisations": [
            {"id": o.pk, "name": o.name, "slug": o.slug} for o in rule.organisations.all()
        ],
        "sites": [{"id": s.pk, "name": s.name} for s in rule.sites.all()],
        "vip_only": rule.vip_only,
        "team": {"id": rule.team.pk, "name": rule.team.name, "slug": rule.team.slug},
        "method": rule.method,
        "follow_the_sun": rule.follow_the_sun,
        "updated_at": rule.updated_at,
    }


def agent_out(agent: User, desk: Desk) -> dict[str, Any]:
    today = selectors.today_on(desk, timezone.now())
    return {
        "email": agent.email,
        "name": agent.name,
        "availability": agent.availability,
        "away_until": agent.away_until,
        "available": selectors.is_available(agent, today),
        "teams": [{"id": t.pk, "name": t.name, "slug": t.slug} for t in agent.teams.all()],
        "skills": [
            {"id": s.category.pk, "name": s.category.path, "slug": s.category.slug}
            for s in agent.skills.all()
        ],
    }


def availability_out(agent: User) -> dict[str, Any]:
    today = timezone.now().astimezone(ZoneInfo(agent.time_zone)).date()
    return {
        "email": agent.email,
        "name": agent.name,
        "availability": agent.availability,
        "away_until": agent.away_until,
        "available": selectors.is_available(agent, today),
    }


def shift_out(team: Team) -> dict[str, Any]:
    calendar = team.calendar
    return {
        "id": team.pk,
        "slug": team.slug,
        "name": team.name,
        "desk": team.desk.slug,
        "calendar": {"id": calendar.pk, "name": calendar.name} if calendar else None,
        "follow_the_sun": team.follow_the_sun,
        "hand_over_at_shift_end": team.hand_over_at_shift_end,
        "on_shift": selectors.is_on_shift(team, timezone.now()),
    }


def _staff_desk(request: HttpRequest, value: str) -> Desk:
    """A desk named in the query or body, whose configuration only its staff reads."""
    actor = actor_of(request)
    desk = resolve_desk(actor, value)
    if not is_staff_on(actor, desk):
        raise PermissionDenied("Only the desk's staff see its routing.")
    return desk


def _team(request: HttpRequest, team_id: int) -> Team:
    team = teams_visible_to(actor_of(request)).select_related("calendar").filter(pk=team_id).first()
    if team is None:
        raise NotFound("team", {"id": team_id})
    return team


# --- rules ------------------------------------------------------------------------------------


@router.get("/routing/rules", response={200: list[RuleOut], **ERRORS}, summary="Routing rules")
def list_rules(request: HttpRequest, desk: str | None = None):
    actor = actor_of(request)
    found = _staff_desk(request, desk) if desk else None
    return [rule_out(r) for r in selectors.rules_visible_to(actor, found)]


@router.post("/routing/rules", response={201: RuleOut, **ERRORS}, summary="Add a routing rule")
def create_rule(request: HttpRequest, payload: RuleIn):
    actor = actor_of(request)
    values = payload.model_dump()
    desk = resolve_desk(actor, values.pop("desk"))
    rule = services.create_rule(actor=actor, desk=desk, **values)
    return Status(201, rule_out(selectors.get_rule_for(actor, rule.pk)))


@router.get("/routing/rules/{rule_id}", response={200: RuleOut, **ERRORS}, summary="One rule")
def get_rule(request: HttpRequest, rule_id: int):
    return rule_out(selectors.get_rule_for(actor_of(request), rule_id))


@router.patch(
    "/routing/rules/{rule_id}", response={200: RuleOut, **ERRORS}, summary="Change a rule"
)
def update_rule(request: HttpRequest, rule_id: int, payload: RulePatch):
    actor = actor_of(request)
    rule = selectors.get_rule_for(actor, rule_id)
    services.update_rule(actor=actor, rule=rule, **payload.model_dump(exclude_unset=True))
    return rule_out(selectors.get_rule_for(actor, rule_id))


@router.delete("/routing/rules/{rule_id}", response={204: None, **ERRORS}, summary="Delete a rule")
def delete_rule(request: HttpRequest, rule_id: int):
    actor = actor_of(request)
    services.delete_rule(actor=actor, rule=selectors.get_rule_for(actor, rule_id))
    return Status(204, None)


# --- agents -----------------------------------------------------------------------------------


@router.get(
    "/agents",
    response={200: list[AgentOut], **ERRORS},
    summary="A desk's agents: availability, teams, skills",
)
def list_agents(request: HttpRequest, desk: str):
    found = _staff_desk(request, desk)
    return [agent_out(a, found) for a in selectors.agents_of_desk(found)]


@router.patch(
    "/agents/{email}/availability",
    response={200: AvailabilityOut, **ERRORS},
    summary="Set an agent's availability",
)
def set_availability(request: HttpRequest, email: str, payload: AvailabilityIn):
    actor = actor_of(request)
    agent = selectors.get_agent_for(actor, email)
    agent = services.set_availability(
        actor=actor, agent=agent, **payload.model_dump(exclude_unset=True)
    )
    return availability_out(agent)


@router.put(
    "/agents/{email}/skills",
    response={200: AgentOut, **ERRORS},
    summary="Set an agent's skills on a desk",
)
def set_skills(request: HttpRequest, email: str, payload: SkillsIn):
    actor = actor_of(request)
    agent = selectors.get_agent_for(actor, email)
    desk = _staff_desk(request, payload.desk)
    services.set_skills(actor=actor, agent=agent, desk=desk, categories=payload.categories)
    return agent_out(selectors.agents_of_desk(desk).get(pk=agent.pk), desk)


# --- team shifts ------------------------------------------------------------------------------


@router.get("/teams/{team_id}/shift", response={200: ShiftOut, **ERRORS}, summary="A team's shifts")
def get_shift(request: HttpRequest, team_id: int):
    return shift_out(_team(request, team_id))


@router.patch(
    "/teams/{team_id}/shift",
    response={200: ShiftOut, **ERRORS},
    summary="Set a team's calendar, follow-the-sun and hand-over",
)
def set_shift(request: HttpRequest, team_id: int, payload: ShiftIn):
    actor = actor_of(request)
    team = services.set_team_shift(
        actor=actor, team=_team(request, team_id), **payload.model_dump(exclude_unset=True)
    )
    return shift_out(team)
