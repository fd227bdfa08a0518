"""Where a new ticket goes: rules in order, follow-the-sun, the methods, availability, hand-over."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from comptoir.accounts.models import Availability, Team
from comptoir.core.actor import Actor
from comptoir.desks.models import BusinessCalendar
from comptoir.routing import decisions
from comptoir.routing.models import AgentSkill, Method
from comptoir.routing.services import hand_over, route_ticket
from comptoir.routing.tasks import hand_over_tickets_task
from comptoir.tickets import services as tickets
from comptoir.tickets.conditions import Conditions
from comptoir.tickets.models import EventKind, Ticket, TicketEvent
from tests.factories import CategoryFactory, OrganisationFactory, SiteFactory, agent_on, make_ticket
from tests.routing.conftest import (
    WEDNESDAY,
    WEEKDAYS_9_TO_5,
    add_rule,
    paris_time,
    routed_events,
)

pytestmark = pytest.mark.django_db

MORNING = paris_time(10)  # Paris L1 on shift, Montréal L1 (04:00) off
EVENING = paris_time(20)  # Paris L1 off, Montréal L1 (14:00) on shift
NIGHT = paris_time(3, day=WEDNESDAY + timedelta(days=1))  # both off (21:00 in Montréal)


def new_ticket(world, **kwargs) -> Ticket:
    return make_ticket(desk=world.desk, requester=world.requester, **kwargs)


def agent_of(ticket: Ticket) -> str | None:
    ticket.refresh_from_db()
    return ticket.assignee.email if ticket.assignee else None


# --- the pure decision ------------------------------------------------------------------------


def test_round_robin_takes_the_next_id_after_the_last_and_wraps_round():
    assert decisions.next_in_turn([3, 5, 9], None) == 3
    assert decisions.next_in_turn([3, 5, 9], 3) == 5
    assert decisions.next_in_turn([3, 5, 9], 4) == 5  # the last one left the team
    assert decisions.next_in_turn([3, 5, 9], 9) == 3
    assert decisions.next_in_turn([], 9) is None


def test_least_loaded_takes_the_fewest_open_tickets_and_breaks_ties_by_id():
    assert decisions.least_loaded([1, 2, 3], {1: 4, 2: 1, 3: 1}) == 2
    assert decisions.least_loaded([1, 2, 3], {1: 2, 2: 2}) == 3  # no open ticket at all
    assert decisions.least_loaded([], {}) is None


@pytest.mark.parametrize(
    ("availability", "away_until", "available"),
    [
        ("available", None, True),
        ("away", None, False),
        ("off", None, False),
        ("on_leave", None, False),
        ("on_leave", date(2026, 6, 10), False),  # the last day of leave is today
        ("on_leave", date(2026, 6, 9), True),  # back today
        ("away", date(2026, 6, 9), False),
    ],
)
def test_an_agent_is_available_unless_away_off_or_still_on_leave(
    availability, away_until, available
):
    assert decisions.is_available(availability, away_until, date(2026, 6, 10)) is available


def test_a_rule_matches_when_every_condition_it_sets_holds():
    ticket = decisions.TicketFacts(
        kind="incident",
        priority=2,
        channel="email",
        lineage=frozenset({7, 3}),
        organisation_id=1,
        is_vip=False,
        site_id=4,
    )
    rule = decisions.RuleFacts(id=1, name="r", team_id=1, method="queue", follow_the_sun=True)
    assert rule.is_catch_all and decisions.rule_matches(rule, ticket)
    for conditions, matches in [
        ({"kinds": frozenset({"incident"}), "priorities": frozenset({1, 2})}, True),
        ({"kinds": frozenset({"change"})}, False),
        ({"channels": frozenset({"phone"})}, False),
        ({"categories": frozenset({3})}, True),  # an ancestor of the ticket's category
        ({"categories": frozenset({8})}, False),
        ({"organisations": frozenset({1}), "sites": frozenset({4})}, True),
        ({"sites": frozenset({5})}, False),
        ({"vip_only": True}, False),
    ]:
        sites = conditions.pop("sites", frozenset())
        candidate = decisions.RuleFacts(
            id=2,
            name="c",
            team_id=1,
            method="queue",
            follow_the_sun=True,
            conditions=Conditions(**conditions),
            sites=sites,
        )
        assert not candidate.is_catch_all
        assert decisions.rule_matches(candidate, ticket) is matches, conditions


def test_a_category_lineage_climbs_to_the_root(world):
    from comptoir.desks.selectors import category_lineage

    root = CategoryFactory(desk=world.desk, name="Hardware", slug="hardware")
    laptop = CategoryFactory(desk=world.desk, name="Laptop", slug="laptop", parent=root)
    battery = CategoryFactory(desk=world.desk, name="Battery", slug="battery", parent=laptop)
    assert category_lineage(world.desk.pk, battery.pk) == {battery.pk, laptop.pk, root.pk}
    assert category_lineage(world.desk.pk, root.pk) == {root.pk}
    assert category_lineage(world.desk.pk, None) == frozenset()


# --- rules ------------------------------------------------------------------------------------


def test_the_first_matching_rule_in_position_order_wins(world, floor):
    add_rule(world.desk, floor.montreal, "Incidents", kinds=["incident"], position=20)
    add_rule(world.desk, floor.paris, "Priority 3", priorities=[3], position=10)
    ticket = new_ticket(world)  # a medium/medium incident: priority 3

    decision = route_ticket(ticket.pk, now=MORNING)

    assert decision is not None and decision.rule == "Priority 3"
    ticket.refresh_from_db()
    assert ticket.team == floor.paris


def test_a_category_condition_matches_the_subcategories(world, floor):
    network = CategoryFactory(desk=world.desk, name="Network", slug="network")
    wifi = CategoryFactory(desk=world.desk, name="Wi-Fi", slug="wifi", parent=network)
    add_rule(world.desk, floor.paris, "Network", categories=[network.pk])

    ticket = new_ticket(world, category=wifi)
    route_ticket(ticket.pk, now=MORNING)

    ticket.refresh_from_db()
    assert ticket.team == floor.paris


def test_a_site_condition_reads_the_requesters_site_and_vip_only_the_organisation(world, floor):
    lyon = SiteFactory(organisation=world.requester.organisation, name="Lyon")
    add_rule(world.desk, floor.montreal, "Lyon", sites=[lyon.pk], follow_the_sun=False)
    add_rule(world.desk, floor.paris, "VIP", vip_only=True, follow_the_sun=False)
    from_paris = new_ticket(world)  # the requester works in Paris: neither rule

    route_ticket(from_paris.pk, now=MORNING)
    assert routed_events(from_paris)[-1]["rule"] is None

    world.colleague.site = lyon
    world.colleague.save()
    from_lyon = make_ticket(desk=world.desk, requester=world.colleague)
    route_ticket(from_lyon.pk, now=MORNING)
    assert routed_events(from_lyon)[-1]["rule"] == "Lyon"

    vip = OrganisationFactory(name="Initech", slug="initech", is_vip=True)
    boss = agent_on(world.other_desk, email="boss@initech.test", organisation=vip)
    from_vip = make_ticket(desk=world.desk, requester=boss)
    route_ticket(from_vip.pk, now=MORNING)
    assert routed_events(from_vip)[-1]["rule"] == "VIP"


def test_no_matching_rule_keeps_the_default_team_and_says_so(world, floor):
    add_rule(world.desk, floor.paris, "Changes", kinds=["change"])
    ticket = new_ticket(world)

    decision = route_ticket(ticket.pk, now=MORNING)

    assert decision is not None and decision.rule is None
    ticket.refresh_from_db()
    assert ticket.team == floor.support and ticket.assignee is None
    assert routed_events(ticket) == [
        {
            "rule": None,
            "team": "Support",
            "team_id": floor.support.pk,
            "agent": None,
            "method": None,
            "off_shift": None,
            "reason": "No routing rule matched; the ticket stays with Support.",
        }
    ]
    assert not TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ASSIGNED).exists()


def test_a_desk_without_active_rules_routes_nothing_and_writes_nothing(world, floor):
    add_rule(world.desk, floor.paris, "Switched off", is_active=False)
    ticket = new_ticket(world)
    events = TicketEvent.objects.count()

    assert route_ticket(ticket.pk, now=MORNING) is None

    assert TicketEvent.objects.count() == events
    ticket.refresh_from_db()
    assert ticket.team == floor.support


def test_a_team_named_by_the_creator_is_not_routed(world, floor):
    add_rule(world.desk, floor.paris, "Everything")
    ticket = make_ticket(
        desk=world.desk, requester=world.requester, by=world.agent, team=floor.montreal
    )

    assert route_ticket(ticket.pk, now=MORNING) is None

    ticket.refresh_from_db()
    assert ticket.team == floor.montreal and routed_events(ticket) == []


def test_a_ticket_given_to_an_agent_before_routing_is_not_routed(world, floor):
    add_rule(world.desk, floor.paris, "Everything", method=Method.ROUND_ROBIN)
    ticket = new_ticket(world)
    tickets.assign_ticket(
        actor=Actor.for_user(world.agent), ticket=ticket, team=floor.support, agent=world.agent
    )

    assert route_ticket(ticket.pk, now=MORNING) is None

    assert agent_of(ticket) == world.agent.email and routed_events(ticket) == []


def test_a_ticket_is_routed_once(world, floor):
    add_rule(world.desk, floor.paris, "Everything")
    ticket = new_ticket(world)

    assert route_ticket(ticket.pk, now=MORNING) is not None
    assert route_ticket(ticket.pk, now=EVENING) is None

    assert len(routed_events(ticket)) == 1


def test_a_new_ticket_is_routed_once_its_creation_commits(
    world, floor, django_capture_on_commit_callbacks
):
    floor.paris.calendar = None  # always on shift, whatever the time the test runs
    floor.paris.save()
    add_rule(world.desk, floor.paris, "Everything", method=Method.ROUND_ROBIN)

    with django_capture_on_commit_callbacks(execute=True):
        ticket = new_ticket(world)

    ticket.refresh_from_db()
    assert ticket.team == floor.paris and ticket.assignee == floor.ana
    assert routed_events(ticket)[0]["reason"] == (
        "Rule 'Everything' matched; Paris L1 takes it; round robin chose ana@acme.test."
    )


# --- follow-the-sun ---------------------------------------------------------------------------


def test_a_ticket_goes_to_montreal_when_paris_is_off_shift_and_to_paris_when_it_is_on(world, floor):
    add_rule(world.desk, floor.paris, "Everything")
    evening, morning = new_ticket(world), new_ticket(world)

    route_ticket(evening.pk, now=EVENING)
    route_ticket(morning.pk, now=MORNING)

    evening.refresh_from_db()
    morning.refresh_from_db()
    assert evening.team == floor.montreal
    assert morning.team == floor.paris
    assert routed_events(evening)[0]["off_shift"] == "Paris L1"
    assert routed_events(evening)[0]["reason"] == (
        "Rule 'Everything' matched; Paris L1 is off shift, so Montréal L1 (on shift) takes it; "
        "it waits in the team's queue."
    )


def test_when_no_team_is_on_shift_the_rules_team_keeps_the_ticket(world, floor):
    add_rule(world.desk, floor.paris, "Everything")
    ticket = new_ticket(world)

    route_ticket(ticket.pk, now=NIGHT)

    ticket.refresh_from_db()
    assert ticket.team == floor.paris
    assert routed_events(ticket)[0]["reason"] == (
        "Rule 'Everything' matched; Paris L1 is off shift and no follow-the-sun team is on "
        "shift, so Paris L1 keeps it; it waits in the team's queue."
    )


def test_a_rule_without_follow_the_sun_keeps_its_team_off_shift(world, floor):
    add_rule(world.desk, floor.paris, "Everything", follow_the_sun=False)
    ticket = new_ticket(world)

    route_ticket(ticket.pk, now=EVENING)

    ticket.refresh_from_db()
    assert ticket.team == floor.paris


def test_the_team_on_shift_picks_its_agent_by_the_rules_method(world, floor):
    add_rule(world.desk, floor.paris, "Everything", method=Method.ROUND_ROBIN)
    ticket = new_ticket(world)

    decision = route_ticket(ticket.pk, now=EVENING)

    assert decision is not None
    assert decision.facts() == {
        "rule": "Everything",
        "team": "Montréal L1",
        "team_id": floor.montreal.pk,
        "agent": "max@acme.test",
        "method": "round_robin",
        "off_shift": "Paris L1",
        "reason": "Rule 'Everything' matched; Paris L1 is off shift, so Montréal L1 (on shift) "
        "takes it; round robin chose max@acme.test.",
    }
    assert agent_of(ticket) == "max@acme.test"
    assert routed_events(ticket) == [decision.facts()]


# --- within the team --------------------------------------------------------------------------


def test_round_robin_rotates_and_skips_an_agent_on_leave(world, floor):
    add_rule(world.desk, floor.paris, "Everything", method=Method.ROUND_ROBIN)
    floor.bea.availability = Availability.ON_LEAVE
    floor.bea.away_until = WEDNESDAY + timedelta(days=3)
    floor.bea.save()

    chosen = []
    for _ in range(4):
        ticket = new_ticket(world)
        route_ticket(ticket.pk, now=MORNING)
        chosen.append(agent_of(ticket))

    assert chosen == ["ana@acme.test", "cyd@acme.test", "ana@acme.test", "cyd@acme.test"]
    floor.paris.refresh_from_db()
    assert floor.paris.round_robin_last == floor.cyd


def test_an_agent_back_from_leave_takes_turns_again(world, floor):
    add_rule(world.desk, floor.paris, "Everything", method=Method.ROUND_ROBIN)
    floor.ana.availability = Availability.ON_LEAVE
    floor.ana.away_until = WEDNESDAY - timedelta(days=1)  # the leave ended yesterday
    floor.ana.save()
    floor.cyd.availability = Availability.AWAY
    floor.cyd.save()

    chosen = []
    for _ in range(3):
        ticket = new_ticket(world)
        route_ticket(ticket.pk, now=MORNING)
        chosen.append(agent_of(ticket))

    assert chosen == ["ana@acme.test", "bea@acme.test", "ana@acme.test"]


def test_round_robin_ignores_members_who_are_not_staff_of_the_desk(world, floor):
    add_rule(world.desk, floor.paris, "Everything", method=Method.ROUND_ROBIN)
    floor.paris.members.set([world.requester, floor.bea])

    ticket = new_ticket(world)
    route_ticket(ticket.pk, now=MORNING)

    assert agent_of(ticket) == "bea@acme.test"


def test_least_open_picks_the_least_loaded_agent(world, floor):
    add_rule(world.desk, floor.paris, "Everything", method=Method.LEAST_OPEN)
    system = Actor.system()
    for agent, count in ((floor.ana, 2), (floor.bea, 1), (floor.cyd, 3)):
        for _ in range(count):
            tickets.assign_ticket(
                actor=system, ticket=new_ticket(world), team=floor.support, agent=agent
            )
    solved = new_ticket(world)  # a resolved ticket is not work in hand
    tickets.assign_ticket(actor=system, ticket=solved, team=floor.support, agent=floor.bea)
    tickets.resolve_ticket(actor=system, ticket=solved, resolution="Done.")

    ticket = new_ticket(world)
    route_ticket(ticket.pk, now=MORNING)

    assert agent_of(ticket) == "bea@acme.test"
    assert routed_events(ticket)[0]["reason"] == (
        "Rule 'Everything' matched; Paris L1 takes it; "
        "least open work chose bea@acme.test (1 open ticket)."
    )


def test_skill_picks_the_skilled_agent_even_with_more_work(world, floor):
    network = CategoryFactory(desk=world.desk, name="Network", slug="network")
    wifi = CategoryFactory(desk=world.desk, name="Wi-Fi", slug="wifi", parent=network)
    AgentSkill.objects.create(user=floor.cyd, category=network)
    add_rule(world.desk, floor.paris, "Everything", method=Method.SKILL)
    tickets.assign_ticket(
        actor=Actor.system(), ticket=new_ticket(world), team=floor.support, agent=floor.cyd
    )

    ticket = new_ticket(world, category=wifi)
    route_ticket(ticket.pk, now=MORNING)

    assert agent_of(ticket) == "cyd@acme.test"
    assert routed_events(ticket)[0]["reason"].endswith(
        "among the agents skilled in Network › Wi-Fi, least open work chose cyd@acme.test "
        "(1 open ticket)."
    )


def test_skill_falls_back_to_least_open_when_nobody_available_has_the_skill(world, floor):
    printers = CategoryFactory(desk=world.desk, name="Printers", slug="printers")
    AgentSkill.objects.create(user=floor.ana, category=printers)
    floor.ana.availability = Availability.OFF
    floor.ana.save()
    add_rule(world.desk, floor.paris, "Everything", method=Method.SKILL)
    tickets.assign_ticket(
        actor=Actor.system(), ticket=new_ticket(world), team=floor.support, agent=floor.bea
    )

    ticket = new_ticket(world, category=printers)
    route_ticket(ticket.pk, now=MORNING)

    assert agent_of(ticket) == "cyd@acme.test"
    assert (
        "nobody available is skilled in Printers, so least open work chose cyd"
        in (routed_events(ticket)[0]["reason"])
    )


def test_when_nobody_is_available_the_ticket_waits_in_the_teams_queue(world, floor):
    add_rule(world.desk, floor.paris, "Everything", method=Method.LEAST_OPEN)
    for agent in (floor.ana, floor.bea, floor.cyd):
        agent.availability = Availability.AWAY
        agent.save()

    ticket = new_ticket(world)
    route_ticket(ticket.pk, now=MORNING)

    ticket.refresh_from_db()
    assert ticket.team == floor.paris and ticket.assignee is None
    assert routed_events(ticket)[0]["reason"] == (
        "Rule 'Everything' matched; Paris L1 takes it; "
        "nobody in Paris L1 is available, so it waits in the team's queue."
    )


@pytest.mark.parametrize("method", [Method.ROUND_ROBIN, Method.LEAST_OPEN, Method.SKILL])
@pytest.mark.parametrize("team_size", [3, 40])
def test_routing_runs_a_bounded_number_of_queries_whatever_the_team_size(
    world, floor, method, team_size, django_assert_max_num_queries
):
    network = CategoryFactory(desk=world.desk, name="Network", slug="network")
    wifi = CategoryFactory(desk=world.desk, name="Wi-Fi", slug="wifi", parent=network)
    members = [agent_on(world.desk) for _ in range(team_size)]
    floor.montreal.members.set(members)
    AgentSkill.objects.bulk_create(AgentSkill(user=m, category=network) for m in members[::2])
    for member in members[:5]:
        tickets.assign_ticket(
            actor=Actor.system(), ticket=new_ticket(world), team=floor.support, agent=member
        )
    add_rule(world.desk, floor.paris, "Network", categories=[network.pk], method=method)
    add_rule(world.desk, floor.paris, "Rest", kinds=["incident"], method=method)
    ticket = new_ticket(world, category=wifi)

    with django_assert_max_num_queries(24):
        decision = route_ticket(ticket.pk, now=EVENING)

    assert decision is not None and decision.team == floor.montreal
    assert decision.agent in members


# --- hand-over at the end of a shift ----------------------------------------------------------


def test_hand_over_moves_only_the_unassigned_live_tickets_of_the_team_off_shift(world, floor):
    floor.paris.hand_over_at_shift_end = True
    floor.paris.save()
    system = Actor.system()
    waiting = [new_ticket(world) for _ in range(3)]
    for ticket in waiting:
        tickets.assign_ticket(actor=system, ticket=ticket, team=floor.paris)
    taken = new_ticket(world)
    tickets.assign_ticket(actor=system, ticket=taken, team=floor.paris, agent=floor.ana)
    solved = new_ticket(world)
    tickets.assign_ticket(actor=system, ticket=solved, team=floor.paris)
    tickets.resolve_ticket(actor=system, ticket=solved, resolution="Rebooted.")
    elsewhere = new_ticket(world)  # Support's

    assert hand_over(now=MORNING) == 0  # Paris L1 is on shift
    assert hand_over(now=EVENING, batch=2) == 3

    for ticket in waiting:
        ticket.refresh_from_db()
        assert ticket.team == floor.montreal and ticket.assignee is None
        assert routed_events(ticket) == [
            {
                "rule": None,
                "team": "Montréal L1",
                "team_id": floor.montreal.pk,
                "agent": None,
                "method": "hand_over",
                "off_shift": "Paris L1",
                "reason": "Hand-over at the end of Paris L1's shift; "
                "Montréal L1 (on shift) takes it.",
            }
        ]
    for ticket, team in ((taken, floor.paris), (solved, floor.paris), (elsewhere, floor.support)):
        ticket.refresh_from_db()
        assert ticket.team == team and routed_events(ticket) == []
    assert hand_over(now=EVENING) == 0


def test_hand_over_waits_when_no_team_is_on_shift(world, floor):
    floor.paris.hand_over_at_shift_end = True
    floor.paris.save()
    ticket = new_ticket(world)
    tickets.assign_ticket(actor=Actor.system(), ticket=ticket, team=floor.paris)

    assert hand_over(now=NIGHT) == 0

    ticket.refresh_from_db()
    assert ticket.team == floor.paris


def test_a_team_that_does_not_hand_over_keeps_its_tickets(world, floor):
    ticket = new_ticket(world)
    tickets.assign_ticket(actor=Actor.system(), ticket=ticket, team=floor.paris)

    assert hand_over(now=EVENING) == 0


def test_hand_over_runs_a_bounded_number_of_queries_per_ticket(
    world, floor, django_assert_max_num_queries
):
    floor.paris.hand_over_at_shift_end = True
    floor.paris.save()
    Team.objects.create(
        desk=world.other_desk,
        name="Night",
        slug="night",
        calendar=BusinessCalendar.objects.create(name="Nights", openings=WEEKDAYS_9_TO_5),
        hand_over_at_shift_end=True,
    )
    for _ in range(10):
        tickets.assign_ticket(actor=Actor.system(), ticket=new_ticket(world), team=floor.paris)

    with django_assert_max_num_queries(10 + 10 * 6):
        assert hand_over(now=EVENING) == 10


def test_the_periodic_task_hands_over(world, floor, monkeypatch):
    calls = []
    monkeypatch.setattr("comptoir.routing.tasks.hand_over", lambda: calls.append(1) or 0)

    hand_over_tickets_task.call_local()

    assert calls == [1]


def test_a_desk_without_rules_costs_two_reads_and_no_write(world, django_assert_num_queries):
    ticket = new_ticket(world)
    with django_assert_num_queries(2):  # the ticket's desk, and whether it has an active rule
        assert route_ticket(ticket.pk, now=EVENING) is None
