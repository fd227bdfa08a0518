"""Routing tickets: where a new ticket goes, and hand-over at the end of a shift.

``route_ticket`` and ``hand_over`` decide with :mod:`comptoir.routing.decisions`, assign through
``tickets.services.assign_ticket`` and write why on the ticket's timeline (a ``routed`` event).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from comptoir.accounts.models import Team, User
from comptoir.core.actor import Actor, Channel
from comptoir.desks.selectors import category_lineage
from comptoir.routing import decisions, selectors
from comptoir.routing.decisions import Reason
from comptoir.routing.models import Method, RoutingRule
from comptoir.tickets.models import EventKind, Ticket, TicketEvent
from comptoir.tickets.services import append_event, assign_ticket

#: Tickets moved per transaction by a hand-over.
HAND_OVER_BATCH = 200


def routing_actor() -> Actor:
    """Who routing acts as, on the timeline and in the audit log."""
    return Actor.system("routing", Channel.AUTOMATION)


@dataclass(frozen=True)
class Decision:
    """Where routing sent a ticket, and why."""

    rule: str | None
    team: Team | None
    agent: User | None
    method: str | None
    reason: str
    off_shift: Team | None = None  # the rule's team, when it was off shift and another took over

    def facts(self) -> dict[str, Any]:
        """The ``after`` of the ticket's ``routed`` event."""
        return {
            "rule": self.rule,
            "team": self.team.name if self.team else None,
            "team_id": self.team.pk if self.team else None,
            "agent": self.agent.email if self.agent else None,
            "method": self.method,
            "off_shift": self.off_shift.name if self.off_shift else None,
            "reason": self.reason,
        }


# --- routing a new ticket ---------------------------------------------------------------------


def _routable(ticket: Ticket) -> bool:
    """Unassigned, live, not routed yet, and nobody chose its team."""
    if ticket.assignee_id is not None or ticket.status_category not in selectors.LIVE:
        return False
    written = dict(
        TicketEvent.objects.filter(
            ticket=ticket, kind__in=[EventKind.CREATED, EventKind.ROUTED]
        ).values_list("kind", "after")
    )
    if EventKind.ROUTED in written:
        return False
    return (written.get(EventKind.CREATED) or {}).get("team_source") != "given"


def _facts_of(ticket: Ticket, lineage: frozenset[int]) -> decisions.TicketFacts:
    organisation = ticket.organisation
    return decisions.TicketFacts(
        kind=ticket.kind,
        priority=ticket.priority,
        channel=ticket.channel,
        lineage=lineage,
        organisation_id=ticket.organisation_id,
        is_vip=bool(organisation is not None and organisation.is_vip),
        site_id=ticket.site_id or ticket.requester.site_id,
    )


def _team_for(
    team: Team, follow_the_sun: bool, desk_id: int, now: datetime, reason: Reason
) -> tuple[Team, Team | None]:
    """The rule's team, or the follow-the-sun team on shift when the rule's team is not."""
    if not follow_the_sun or selectors.is_on_shift(team, now):
        reason.add(f"{team.name} takes it")
        return team, None
    other = selectors.team_on_shift(desk_id, now, besides=team)
    if other is None:
        reason.add(
            f"{team.name} is off shift and no follow-the-sun team is on shift, "
            f"so {team.name} keeps it"
        )
        return team, None
    reason.add(f"{team.name} is off shift, so {other.name} (on shift) takes it")
    return other, team


def _least_open(pool: list[int], agents: dict[int, User], reason: Reason, why: str) -> User | None:
    loads = selectors.open_loads(pool)
    chosen = decisions.least_loaded(pool, loads)
    if chosen is None:
        return None
    reason.add(f"{why} chose {agents[chosen].email} ({decisions.tickets(loads.get(chosen, 0))})")
    return agents[chosen]


def _agent_for(
    team: Team,
    method: str,
    ticket: Ticket,
    lineage: frozenset[int],
    now: datetime,
    reason: Reason,
) -> User | None:
    """The agent of ``team`` the rule's method picks, or None to leave it in the team's queue."""
    if method == Method.QUEUE:
        reason.add("it waits in the team's queue")
        return None
    today = selectors.today_on(ticket.desk, now)
    available = [a for a in selectors.team_agents(team) if selectors.is_available(a, today)]
    if not available:
        reason.add(f"nobody in {team.name} is available, so it waits in the team's queue")
        return None
    agents = {a.pk: a for a in available}
    ids = list(agents)  # ascending ids
    if method == Method.ROUND_ROBIN:
        # The team row is the turn's pointer: locking it makes concurrent routings take turns.
        locked = Team.objects.select_for_update().only("pk", "round_robin_last").get(pk=team.pk)
        chosen = decisions.next_in_turn(ids, locked.round_robin_last_id)
        assert chosen is not None
        Team.objects.filter(pk=team.pk).update(round_robin_last=chosen)
        reason.add(f"round robin chose {agents[chosen].email}")
        return agents[chosen]
    if method == Method.SKILL:
        category = ticket.category.path if ticket.category else ""
        skilled = selectors.skilled_among(ids, lineage)
        if skilled:
            pool = [i for i in ids if i in skilled]
            return _least_open(
                pool, agents, reason, f"among the agents skilled in {category}, least open work"
            )
        why = (
            f"nobody available is skilled in {category}, so least open work"
            if category
            else "the ticket has no category, so least open work"
        )
        return _least_open(ids, agents, reason, why)
    return _least_open(ids, agents, reason, "least open work")


def _decide(ticket: Ticket, rules: list[RoutingRule], now: datetime) -> Decision:
    lineage = category_lineage(ticket.desk_id, ticket.category_id)
    matched = decisions.first_match(
        [selectors.rule_facts(r) for r in rules], _facts_of(ticket, lineage)
    )
    if matched is None:
        stays = (
            f"the ticket stays with {ticket.team.name}"
            if ticket.team
            else "the ticket stays unassigned"
        )
        reason = Reason().add("no routing rule matched").add(stays)
        return Decision(rule=None, team=ticket.team, agent=None, method=None, reason=str(reason))
    rule = next(r for r in rules if r.pk == matched.id)
    reason = Reason().add(f"rule '{rule.name}' matched")
    team, off_shift = _team_for(rule.team, rule.follow_the_sun, ticket.desk_id, now, reason)
    agent = _agent_for(team, rule.method, ticket, lineage, now, reason)
    return Decision(
        rule=rule.name,
        team=team,
        agent=agent,
        method=rule.method,
        reason=str(reason),
        off_shift=off_shift,
    )


def route_ticket(ticket_id: int, *, now: datetime | None = None) -> Decision | None:
    """Send a new ticket where the desk's rules say, and write why on its timeline.

    Only a ticket without an assignee whose team nobody chose is routed, once. A desk without
    active rules routes nothing. Returns the decision, or None when nothing was decided.
    """
    now = now or timezone.now()
    desk_id = Ticket.objects.filter(pk=ticket_id).values_list("desk_id", flat=True).first()
    if desk_id is None or not selectors.rules_of(desk_id).filter(is_active=True).exists():
        return None  # nothing to decide: no write transaction, no lock
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("desk", "organisation", "requester", "team", "category")
            .filter(pk=ticket_id)
            .first()
        )
        if ticket is None:
            return None
        rules = list(selectors.rules_of(ticket.desk_id).filter(is_active=True))
        if not rules or not _routable(ticket):
            return None
        decision = _decide(ticket, rules, now)
        actor = routing_actor()
        if decision.team is not None and (
            decision.team.pk != ticket.team_id or decision.agent is not None
        ):
            assign_ticket(actor=actor, ticket=ticket, team=decision.team, agent=decision.agent)
        append_event(actor=actor, ticket=ticket, kind=EventKind.ROUTED, after=decision.facts())
    return decision


# --- hand-over at the end of a shift ----------------------------------------------------------


def _hand_over_team(team: Team, receiver: Team, batch: int) -> int:
    actor = routing_actor()
    reason = Reason().add(f"hand-over at the end of {team.name}'s shift")
    reason.add(f"{receiver.name} (on shift) takes it")
    after = Decision(
        rule=None,
        team=receiver,
        agent=None,
        method="hand_over",
        reason=str(reason),
        off_shift=team,
    ).facts()
    moved, last = 0, 0
    while True:
        with transaction.atomic():
            rows = list(
                Ticket.objects.select_for_update(of=("self",))
                .filter(
                    team=team,
                    assignee__isnull=True,
                    status_category__in=selectors.LIVE,
                    pk__gt=last,
                )
                .order_by("pk")[:batch]
            )
            for ticket in rows:
                assign_ticket(actor=actor, ticket=ticket, team=receiver)
                append_event(actor=actor, ticket=ticket, kind=EventKind.ROUTED, after=after)
        moved += len(rows)
        if len(rows) < batch:
            return moved
        last = rows[-1].pk


def hand_over(*, now: datetime | None = None, batch: int = HAND_OVER_BATCH) -> int:
    """Teams off shift that hand over give their unassigned live tickets to the team on shift.

    The receiving team is the desk's first follow-the-sun team on shift (by name); the tickets
    wait in its queue. Returns how many tickets moved. Running it twice moves nothing more.
    """
    now = now or timezone.now()
    moved = 0
    teams = (
        Team.objects.filter(hand_over_at_shift_end=True, calendar__isnull=False)
        .select_related("calendar")
        .order_by("desk_id", "name")
    )
    for team in teams:
        if selectors.is_on_shift(team, now):
            continue
        receiver = selectors.team_on_shift(team.desk_id, now, besides=team)
        if receiver is not None:
            moved += _hand_over_team(team, receiver, batch)
    return moved
