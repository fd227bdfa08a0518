"""The routing API: managers write, the desk's staff read, anyone else is refused; bad input is
refused with the field at fault, and a refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from comptoir.accounts.models import Availability, Team, User
from comptoir.core.models import AuditEntry
from comptoir.routing.models import AgentSkill, Method, RoutingRule
from comptoir.tickets.timeline import current, replay
from tests.api.helpers import (
    FORBIDDEN,
    HIDDEN,
    UNAUTHENTICATED,
    Denied,
    error,
    expect,
    matrix,
    person,
)
from tests.factories import CategoryFactory, SiteFactory, TeamFactory, agent_on, make_ticket
from tests.routing.conftest import add_rule, paris_time

pytestmark = pytest.mark.django_db

INVALID = Denied(422, "validation_error")


def rows() -> dict:
    """What a refused write must leave as it was."""
    return {
        "rules": list(RoutingRule.objects.order_by("id").values()),
        "skills": list(AgentSkill.objects.order_by("id").values_list("user_id", "category_id")),
        "people": list(User.objects.order_by("id").values_list("availability", "away_until")),
        "teams": list(
            Team.objects.order_by("id").values_list(
                "calendar_id", "follow_the_sun", "hand_over_at_shift_end"
            )
        ),
        # (a client's token is created, and audited, as the client is)
        "audit": AuditEntry.objects.exclude(object_type="accounts.apitoken").count(),
    }


def attempt(outcome, call):
    before = rows()
    response = call()
    if outcome == 204:
        assert response.status_code == 204, response.content[:500]
        return None
    body = expect(response, outcome)
    if isinstance(outcome, Denied):
        assert rows() == before, "a refused request changed something"
    return body


def table(anonymous, requesters, other_agent, agent, change_manager, managers):
    """Outcomes for the personas, grouped as the routing endpoints treat them."""
    return {
        "anonymous": anonymous,
        "requester": requesters,
        "colleague": requesters,
        "outsider": requesters,
        "other_agent": other_agent,
        "agent": agent,
        "manager": managers,
        "change_manager": change_manager,
        "admin": managers,
        "superuser": managers,
    }


@pytest.fixture
def rule(world, floor) -> RoutingRule:
    return add_rule(world.desk, floor.paris, "Network", kinds=["incident"], position=10)


# --- rules: who may ---------------------------------------------------------------------------

READ_LIST = table(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, 200, 200, 200)
READ_ONE = table(UNAUTHENTICATED, HIDDEN, HIDDEN, 200, 200, 200)
CREATE = table(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, 201)
CHANGE = table(UNAUTHENTICATED, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, 200)
DELETE = table(UNAUTHENTICATED, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, 204)


@pytest.mark.parametrize(("persona", "outcome"), matrix(READ_LIST))
def test_the_desks_staff_list_its_rules(world, client, rule, persona, outcome):
    body = attempt(
        outcome, lambda: client(person(world, persona)).get("routing/rules", {"desk": "it"})
    )
    if outcome == 200:
        assert [r["name"] for r in body] == ["Network"]
        assert body[0]["team"] == {"id": rule.team_id, "name": "Paris L1", "slug": "paris-l1"}


@pytest.mark.parametrize(("persona", "outcome"), matrix(READ_ONE))
def test_the_desks_staff_read_a_rule_and_others_are_told_it_does_not_exist(
    world, client, rule, persona, outcome
):
    body = attempt(outcome, lambda: client(person(world, persona)).get(f"routing/rules/{rule.pk}"))
    if outcome == 200:
        assert body["name"] == "Network" and body["kinds"] == ["incident"]


@pytest.mark.parametrize(("persona", "outcome"), matrix(CREATE))
def test_managers_add_rules(world, floor, client, persona, outcome):
    payload = {"desk": "it", "name": "VIP", "team": "paris-l1", "vip_only": True}
    body = attempt(outcome, lambda: client(person(world, persona)).post("routing/rules", payload))
    if outcome == 201:
        assert body["vip_only"] is True and body["method"] == "queue"
        assert body["position"] == 10  # the first rule of the desk
        assert AuditEntry.objects.filter(
            object_type="routing.routingrule", action="create"
        ).exists()


@pytest.mark.parametrize(("persona", "outcome"), matrix(CHANGE))
def test_managers_change_rules(world, client, rule, persona, outcome):
    body = attempt(
        outcome,
        lambda: client(person(world, persona)).patch(
            f"routing/rules/{rule.pk}", {"method": "round_robin", "priorities": [1, 2]}
        ),
    )
    if outcome == 200:
        assert body["method"] == "round_robin" and body["priorities"] == [1, 2]
        assert body["kinds"] == ["incident"]  # a PATCH leaves the fields it does not send


@pytest.mark.parametrize(("persona", "outcome"), matrix(DELETE))
def test_managers_delete_rules(world, client, rule, persona, outcome):
    attempt(outcome, lambda: client(person(world, persona)).delete(f"routing/rules/{rule.pk}"))
    if outcome == 204:
        assert not RoutingRule.objects.exists()


def test_a_rule_of_another_desk_is_hidden_from_its_staff(world, client, floor):
    payroll = TeamFactory(desk=world.other_desk, name="Payroll", slug="payroll")
    hr_rule = add_rule(world.other_desk, payroll, "Payslips")

    error(client(world.manager).get(f"routing/rules/{hr_rule.pk}"), 404, "not_found")
    assert client(world.manager).get("routing/rules").json() == []
    assert [r["name"] for r in client(world.other_agent).get("routing/rules").json()] == [
        "Payslips"
    ]


# --- rules: bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"team": "payroll"}, "team", "No team 'payroll' on desk it"),
        ({"team": ""}, "team", "sends tickets to a team"),
        ({"kinds": ["outage"]}, "kinds", "Unknown ticket kind: outage"),
        ({"priorities": [0, 3]}, "priorities", "Unknown priority: 0"),
        ({"channels": ["fax"]}, "channels", "Unknown channel: fax"),
        ({"method": "lottery"}, "method", "Unknown method 'lottery'"),
        ({"name": "  "}, "name", "needs a name"),
        ({"position": -1}, "position", "between 0 and"),
        ({"organisations": ["nobody"]}, "organisations", "No organisation 'nobody'"),
        ({"sites": [999]}, "sites", "No site"),
    ],
)
def test_a_rule_with_a_bad_value_is_refused_with_the_field(
    world, floor, client, changes, field, says
):
    payload = {"desk": "it", "name": "Network", "team": "paris-l1", **changes}
    body = attempt(INVALID, lambda: client(world.manager).post("routing/rules", payload))
    assert body["details"]["field"] == field and says in body["message"], body


def test_a_team_or_category_of_another_desk_is_refused(world, floor, client):
    payroll = TeamFactory(desk=world.other_desk, name="Payroll", slug="payroll")
    benefits = CategoryFactory(desk=world.other_desk, name="Benefits", slug="benefits")
    manager = client(world.manager)

    body = attempt(
        INVALID,
        lambda: manager.post("routing/rules", {"desk": "it", "name": "A", "team": payroll.pk}),
    )
    assert body["details"]["field"] == "team" and "another desk" in body["message"]
    body = attempt(
        INVALID,
        lambda: manager.post(
            "routing/rules",
            {"desk": "it", "name": "A", "team": "paris-l1", "categories": [benefits.pk]},
        ),
    )
    assert body["details"]["field"] == "categories" and "another desk" in body["message"]


def test_a_site_the_desk_does_not_serve_is_refused(world, floor, client):
    world.desk.serves_all_sites = False
    world.desk.save()
    served = SiteFactory(organisation=world.requester.organisation, name="Lyon")
    world.desk.served_sites.add(served)
    elsewhere = SiteFactory(organisation=world.requester.organisation, name="Nantes")
    manager = client(world.manager)

    body = attempt(
        INVALID,
        lambda: manager.post(
            "routing/rules",
            {"desk": "it", "name": "A", "team": "paris-l1", "sites": [elsewhere.pk]},
        ),
    )
    assert body["details"]["field"] == "sites" and "not served" in body["message"]
    response = manager.post(
        "routing/rules", {"desk": "it", "name": "A", "team": "paris-l1", "sites": [served.pk]}
    )
    assert response.status_code == 201 and response.json()["sites"][0]["id"] == served.pk


def test_a_rule_after_a_rule_without_conditions_is_refused_naming_it(world, floor, client):
    add_rule(world.desk, floor.support, "Everything else", position=100)
    manager = client(world.manager)

    body = attempt(
        INVALID,
        lambda: manager.post(
            "routing/rules",
            {"desk": "it", "name": "Network", "team": "paris-l1", "kinds": ["incident"]},
        ),
    )
    assert "'Everything else'" in body["message"] and "never match" in body["message"]
    created = manager.post(
        "routing/rules",
        {"desk": "it", "name": "Network", "team": "paris-l1", "kinds": ["incident"], "position": 5},
    )
    assert created.status_code == 201
    inactive = manager.post(
        "routing/rules",
        {"desk": "it", "name": "Later", "team": "paris-l1", "kinds": ["task"], "is_active": False},
    )
    assert inactive.status_code == 201  # an inactive rule is never tried: nothing to warn about


def test_a_rule_without_conditions_before_other_rules_is_refused(world, floor, client, rule):
    add_rule(world.desk, floor.support, "Tasks", kinds=["task"], position=20)
    body = attempt(
        INVALID,
        lambda: client(world.manager).post(
            "routing/rules", {"desk": "it", "name": "All", "team": "support", "position": 1}
        ),
    )
    assert "'Network'" in body["message"] and "last position" in body["message"]
    body = attempt(
        INVALID,
        lambda: client(world.manager).patch(f"routing/rules/{rule.pk}", {"kinds": []}),
    )
    assert body["details"]["field"] == "position"


def test_two_rules_of_a_desk_cannot_share_a_name(world, client, rule):
    body = attempt(
        INVALID,
        lambda: client(world.manager).post(
            "routing/rules",
            {"desk": "it", "name": "network", "team": "paris-l1", "kinds": ["task"]},
        ),
    )
    assert body["details"]["field"] == "name"


def test_a_rule_round_trips_its_conditions(world, floor, client):
    network = CategoryFactory(desk=world.desk, name="Network", slug="network")
    payload = {
        "desk": "it",
        "name": "Network",
        "team": floor.paris.pk,
        "kinds": ["incident", "incident"],
        "priorities": [1, 2],
        "channels": ["email"],
        "categories": ["network"],
        "organisations": ["acme"],
        "method": "skill",
        "follow_the_sun": False,
    }
    body = client(world.manager).post("routing/rules", payload).json()

    assert body["kinds"] == ["incident"]
    assert body["categories"] == [{"id": network.pk, "name": "Network", "slug": "network"}]
    assert body["organisations"][0]["slug"] == "acme"
    assert body["method"] == Method.SKILL and body["follow_the_sun"] is False
    assert client(world.agent).get(f"routing/rules/{body['id']}").json() == body


# --- agents -----------------------------------------------------------------------------------

AGENTS = table(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, 200, 200, 200)


@pytest.mark.parametrize(("persona", "outcome"), matrix(AGENTS))
def test_the_desks_staff_list_its_agents_with_availability_teams_and_skills(
    world, floor, client, persona, outcome
):
    network = CategoryFactory(desk=world.desk, name="Network", slug="network")
    AgentSkill.objects.create(user=floor.ana, category=network)
    floor.bea.availability = Availability.ON_LEAVE
    floor.bea.save()

    body = attempt(outcome, lambda: client(person(world, persona)).get("agents", {"desk": "it"}))

    if outcome == 200:
        by_email = {a["email"]: a for a in body}
        assert world.requester.email not in by_email and world.other_agent.email not in by_email
        assert by_email["ana@acme.test"]["teams"] == [
            {"id": floor.paris.pk, "name": "Paris L1", "slug": "paris-l1"}
        ]
        assert by_email["ana@acme.test"]["skills"][0]["slug"] == "network"
        assert by_email["bea@acme.test"]["availability"] == "on_leave"
        assert by_email["bea@acme.test"]["available"] is False
        assert by_email["max@acme.test"]["available"] is True


@pytest.mark.parametrize("extra", [0, 30])
def test_the_agent_list_runs_a_bounded_number_of_queries(
    world, floor, client, extra, django_assert_max_num_queries
):
    for _ in range(extra):
        floor.paris.members.add(agent_on(world.desk))
    manager = client(world.manager)
    manager.get("agents", {"desk": "it"})  # the token's first use writes its last-use time

    with django_assert_max_num_queries(8):
        response = manager.get("agents", {"desk": "it"})

    assert len(response.json()) == 8 + extra  # the desk's four people, ana, bea, cyd and max


def test_an_agent_goes_on_leave_and_comes_back(world, floor, client):
    until = (timezone.now() + timedelta(days=10)).date().isoformat()
    me = client(floor.ana)

    body = me.patch(
        "agents/ana@acme.test/availability", {"availability": "on_leave", "away_until": until}
    ).json()
    assert body == {
        "email": "ana@acme.test",
        "name": floor.ana.name,
        "availability": "on_leave",
        "away_until": until,
        "available": False,
    }
    entry = AuditEntry.objects.get(action="set_availability")
    assert entry.actor_user == floor.ana and entry.after["away_until"] == until

    body = me.patch("agents/ana@acme.test/availability", {"availability": "available"}).json()
    assert body["away_until"] is None and body["available"] is True


AVAILABILITY = table(UNAUTHENTICATED, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, 200)


@pytest.mark.parametrize(("persona", "outcome"), matrix(AVAILABILITY))
def test_a_manager_of_the_agents_desk_sets_their_availability(
    world, floor, client, persona, outcome
):
    body = attempt(
        outcome,
        lambda: client(person(world, persona)).patch(
            "agents/bea@acme.test/availability", {"availability": "away"}
        ),
    )
    if outcome == 200:
        assert body["availability"] == "away"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"availability": "sleeping"}, "availability"),
        ({"availability": "available", "away_until": "2099-01-01"}, "away_until"),
        ({"availability": "on_leave", "away_until": "2000-01-01"}, "away_until"),
    ],
)
def test_a_bad_availability_is_refused(world, floor, client, payload, field):
    body = attempt(
        INVALID, lambda: client(floor.ana).patch("agents/ana@acme.test/availability", payload)
    )
    assert body["details"]["field"] == field


def test_an_unknown_agent_or_a_person_who_is_not_one_is_not_found(world, floor, client):
    manager = client(world.manager)
    payload = {"availability": "away"}
    error(manager.patch("agents/nobody@acme.test/availability", payload), 404, "not_found")
    error(manager.patch(f"agents/{world.requester.email}/availability", payload), 404, "not_found")
    error(
        manager.patch(f"agents/{world.other_agent.email}/availability", payload), 404, "not_found"
    )


SKILLS = table(UNAUTHENTICATED, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, 200)


@pytest.mark.parametrize(("persona", "outcome"), matrix(SKILLS))
def test_managers_set_an_agents_skills(world, floor, client, persona, outcome):
    network = CategoryFactory(desk=world.desk, name="Network", slug="network")
    printers = CategoryFactory(desk=world.desk, name="Printers", slug="printers")
    AgentSkill.objects.create(user=floor.ana, category=printers)

    body = attempt(
        outcome,
        lambda: client(person(world, persona)).put(
            "agents/ana@acme.test/skills", {"desk": "it", "categories": ["network", network.pk]}
        ),
    )

    if outcome == 200:
        assert [s["slug"] for s in body["skills"]] == ["network"]
        assert list(AgentSkill.objects.values_list("category_id", flat=True)) == [network.pk]


def test_skills_on_another_desks_category_are_refused(world, floor, client):
    benefits = CategoryFactory(desk=world.other_desk, name="Benefits", slug="benefits")
    body = attempt(
        INVALID,
        lambda: client(world.manager).put(
            "agents/ana@acme.test/skills", {"desk": "it", "categories": [benefits.pk]}
        ),
    )
    assert body["details"]["field"] == "categories"


# --- team shifts ------------------------------------------------------------------------------

SHIFT = table(UNAUTHENTICATED, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, 200)


@pytest.mark.parametrize(("persona", "outcome"), matrix(SHIFT))
def test_managers_set_a_teams_shifts(world, floor, client, persona, outcome):
    body = attempt(
        outcome,
        lambda: client(person(world, persona)).patch(
            f"teams/{floor.support.pk}/shift",
            {"calendar": "Paris office", "hand_over_at_shift_end": True},
        ),
    )
    if outcome == 200:
        assert body["calendar"] == {"id": floor.paris.calendar_id, "name": "Paris office"}
        assert body["hand_over_at_shift_end"] is True and body["follow_the_sun"] is False
        assert AuditEntry.objects.filter(action="set_shift").count() == 1


def test_the_desks_staff_read_a_teams_shifts(world, floor, client):
    body = client(world.agent).get(f"teams/{floor.paris.pk}/shift").json()
    assert body["calendar"]["name"] == "Paris office" and body["follow_the_sun"] is True
    error(client(world.requester).get(f"teams/{floor.paris.pk}/shift"), 404, "not_found")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"calendar": "Atlantis"}, "calendar"),
        ({"calendar": 9999}, "calendar"),
        ({"calendar": None, "hand_over_at_shift_end": True}, "hand_over_at_shift_end"),
    ],
)
def test_a_bad_shift_is_refused(world, floor, client, payload, field):
    body = attempt(
        INVALID, lambda: client(world.manager).patch(f"teams/{floor.paris.pk}/shift", payload)
    )
    assert body["details"]["field"] == field


def test_a_team_with_no_calendar_is_always_on_shift(world, floor, client):
    body = (
        client(world.manager)
        .patch(f"teams/{floor.paris.pk}/shift", {"calendar": None, "follow_the_sun": False})
        .json()
    )
    assert body["calendar"] is None and body["on_shift"] is True


# --- the timeline -----------------------------------------------------------------------------


def test_the_routed_event_is_on_the_timeline_for_staff_and_replays(world, floor, client):
    from comptoir.routing.services import route_ticket

    add_rule(world.desk, floor.paris, "Everything", method=Method.ROUND_ROBIN)
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    route_ticket(ticket.pk, now=paris_time(20))

    events = client(world.agent).get(f"tickets/{ticket.ref}/events").json()
    routed = [e for e in events if e["kind"] == "routed"]
    assert routed[0]["actor"]["label"] == "routing" and routed[0]["channel"] == "automation"
    assert routed[0]["after"]["agent"] == "max@acme.test"
    requester_sees = client(world.requester).get(f"tickets/{ticket.ref}/events").json()
    assert "routed" not in {e["kind"] for e in requester_sees}
    ticket.refresh_from_db()
    assert replay(ticket.events.order_by("id")) == current(ticket)
