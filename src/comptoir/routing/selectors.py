"""Reads for routing: the desk's rules, its agents and their availability, their open work."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from comptoir.accounts.models import Membership, Team, User
from comptoir.accounts.permissions import is_staff_on, staff_desk_ids
from comptoir.accounts.roles import STAFF_ROLES
from comptoir.core.actor import Actor
from comptoir.core.errors import NotFound
from comptoir.desks.models import Desk
from comptoir.routing import decisions
from comptoir.routing.models import AgentSkill, RoutingRule
from comptoir.tickets.conditions import Conditions
from comptoir.tickets.lifecycle import StatusCategory
from comptoir.tickets.models import Ticket

#: Tickets that count as someone's work in hand.
LIVE = (StatusCategory.OPEN.value, StatusCategory.PENDING.value)


# --- rules ------------------------------------------------------------------------------------


def rules_of(desk: Desk | int) -> QuerySet[RoutingRule]:
    """A desk's rules in the order they are tried, with what their answers show."""
    return (
        RoutingRule.objects.filter(desk=desk)
        .select_related("desk", "team", "team__calendar")
        .prefetch_related("categories", "organisations", "sites")
        .order_by("position", "id")
    )


def rules_visible_to(actor: Actor, desk: Desk | None = None) -> QuerySet[RoutingRule]:
    """Rules of the desks where the actor is staff (of ``desk`` only, when given)."""
    if desk is not None:
        return rules_of(desk) if is_staff_on(actor, desk) else RoutingRule.objects.none()
    rules = (
        RoutingRule.objects.select_related("desk", "team", "team__calendar")
        .prefetch_related("categories", "organisations", "sites")
        .order_by("desk__name", "position", "id")
    )
    if actor.is_system or actor.is_superuser:
        return rules
    return rules.filter(desk_id__in=staff_desk_ids(actor))


def get_rule_for(actor: Actor, rule_id: int) -> RoutingRule:
    """One rule of a desk the actor works on; any other is missing, as elsewhere in the API."""
    rule = rules_visible_to(actor).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("routing rule", {"id": rule_id})
    return rule


def rule_facts(rule: RoutingRule) -> decisions.RuleFacts:
    """A rule as the pure decision functions read it (its relations prefetched)."""
    return decisions.RuleFacts(
        id=rule.pk,
        name=rule.name,
        team_id=rule.team_id,
        method=rule.method,
        follow_the_sun=rule.follow_the_sun,
        conditions=Conditions.of(rule),
        sites=frozenset(s.pk for s in rule.sites.all()),
    )


# --- teams ------------------------------------------------------------------------------------


def is_on_shift(team: Team, at: datetime) -> bool:
    """A team without a calendar is always on shift."""
    if team.calendar is None:
        return True
    return team.calendar.schedule().is_open(at)


def follow_the_sun_teams(desk_id: int) -> list[Team]:
    """The desk's teams that take part in follow-the-sun, in the order they are offered work."""
    return list(
        Team.objects.filter(desk_id=desk_id, follow_the_sun=True)
        .select_related("calendar")
        .order_by("name", "id")
    )


def team_on_shift(desk_id: int, at: datetime, *, besides: Team | None = None) -> Team | None:
    """The first follow-the-sun team of the desk on shift at ``at`` (by name), if any."""
    for team in follow_the_sun_teams(desk_id):
        if besides is not None and team.pk == besides.pk:
            continue
        if is_on_shift(team, at):
            return team
    return None


# --- agents -----------------------------------------------------------------------------------


def is_available(user: User, today: date) -> bool:
    """May the agent be given work today (``today`` in the desk's time zone)?"""
    return decisions.is_available(user.availability, user.away_until, today)


def today_on(desk: Desk, at: datetime) -> date:
    return at.astimezone(ZoneInfo(desk.time_zone)).date()


def _holds_staff_role(desk_id: int) -> Exists:
    return Exists(
        Membership.objects.filter(user=OuterRef("pk"), desk_id=desk_id, role__in=STAFF_ROLES)
    )


def team_agents(team: Team) -> list[User]:
    """Active members of the team who are staff on its desk, by id (one query).

    A superuser counts as staff everywhere, as for every other permission.
    """
    return list(
        team.members.filter(
            Q(_holds_staff_role(team.desk_id)) | Q(is_superuser=True), is_active=True
        ).order_by("id")
    )


def open_loads(user_ids: Iterable[int]) -> dict[int, int]:
    """How many open or pending tickets each person has assigned, on any desk (one query)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = (
        Ticket.objects.filter(assignee_id__in=ids, status_category__in=LIVE)
        .order_by()
        .values("assignee_id")
        .annotate(count=Count("id"))
        .values_list("assignee_id", "count")
    )
    return dict(rows)


def skilled_among(user_ids: Iterable[int], category_ids: Iterable[int]) -> set[int]:
    """The people who have a skill on one of these categories (one query)."""
    ids, categories = list(user_ids), list(category_ids)
    if not ids or not categories:
        return set()
    return set(
        AgentSkill.objects.filter(user_id__in=ids, category_id__in=categories).values_list(
            "user_id", flat=True
        )
    )


def agents_of_desk(desk: Desk) -> QuerySet[User]:
    """The desk's staff with their availability, their teams and skills on this desk."""
    return (
        User.objects.filter(_holds_staff_role(desk.pk), is_active=True)
        .prefetch_related(
            Prefetch("teams", queryset=Team.objects.filter(desk=desk).order_by("name")),
            Prefetch(
                "skills",
                queryset=AgentSkill.objects.filter(category__desk=desk)
                .select_related("category")
                .order_by("category__path"),
            ),
        )
        .order_by("email")
    )


def agent_choices_of(desk_ids: list[int]) -> list[tuple[int, str]]:
    """The active people holding a staff role on one of these desks, as (id, name), by name:
    values, not people, since every list page offers them and a large desk has hundreds."""
    rows = (
        User.objects.filter(
            is_active=True, memberships__desk_id__in=desk_ids, memberships__role__in=STAFF_ROLES
        )
        .values_list("pk", "display_name", "email")
        .distinct()
    )
    return sorted(((pk, shown or email) for pk, shown, email in rows), key=lambda a: a[1].lower())


def staff_desks_of(user: User) -> set[int]:
    """Desks where ``user`` holds a staff role."""
    return set(
        Membership.objects.filter(user=user, role__in=STAFF_ROLES).values_list("desk_id", flat=True)
    )


def get_agent_for(actor: Actor, email: str) -> User:
    """An agent the actor may see: themself, or staff of a desk where the actor is staff too."""
    agent = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    desks = staff_desks_of(agent) if agent is not None else set()
    if agent is None or not desks:
        raise NotFound("agent", {"email": email})
    if actor.user is not None and actor.user.pk == agent.pk:
        return agent
    if actor.is_system or actor.is_superuser or desks & staff_desk_ids(actor):
        return agent
    raise NotFound("agent", {"email": email})
