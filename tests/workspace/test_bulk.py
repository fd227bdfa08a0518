"""Bulk actions on the list: each chosen ticket changes as it would alone, a refusal on one
leaves the others changed, and the list says which changed and which were refused and why.
"""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Ticket, TicketEvent
from tests.api.helpers import db_state
from tests.factories import TeamFactory
from tests.workspace.test_pages import browser

pytestmark = pytest.mark.django_db


def _messages(response) -> str:
    return response.content.decode()


def test_the_list_offers_a_checkbox_per_row_and_the_bulk_bar(world, scene):
    html = browser(world, "agent").get("/desk/", {"queue": "open"}).content.decode()
    for ticket in (scene.ticket, scene.sibling, scene.foreign):
        assert f'name="tickets" value="{ticket.ref}"' in html
    assert "Select all on this page" in html
    assert 'action="/desk/bulk"' in html
    assert 'name="next" value="/desk/?queue=open"' in html


def test_resolving_three_tickets_where_one_cannot_resolves_the_two_others(world, scene):
    agent = Actor.for_user(world.agent)
    services.resolve_ticket(actor=agent, ticket=scene.foreign, resolution="Earlier fix")
    client = browser(world, "agent")
    refs = [scene.ticket.ref, scene.sibling.ref, scene.foreign.ref]
    response = client.post(
        "/desk/bulk",
        {
            "tickets": refs,
            "action": "resolve",
            "resolution": "Rebooted the switch",
            "next": "/desk/?queue=open",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/desk/?queue=open"
    html = _messages(response)
    assert f"Tickets changed (2): {scene.ticket.ref}, {scene.sibling.ref}." in html
    assert f"{scene.foreign.ref} was not changed: not possible in its current state." in html
    statuses = dict(Ticket.objects.filter(ref__in=refs).values_list("ref", "resolution"))
    assert statuses[scene.ticket.ref] == statuses[scene.sibling.ref] == "Rebooted the switch"
    assert statuses[scene.foreign.ref] == "Earlier fix"
    # The same timeline event as a resolution from the ticket's own page.
    assert TicketEvent.objects.filter(
        ticket__ref=scene.sibling.ref, kind="status_changed", after__status="resolved"
    ).exists()


def test_assigning_to_an_agent_refuses_the_tickets_of_a_desk_they_do_not_work(world, scene):
    client = browser(world, "superuser")
    response = client.post(
        "/desk/bulk",
        {
            "tickets": [scene.ticket.ref, scene.hr.ref],
            "action": "assign_agent",
            "agent": str(world.agent.pk),
        },
        follow=True,
    )
    html = _messages(response)
    assert f"Tickets changed (1): {scene.ticket.ref}." in html
    assert f"{scene.hr.ref} was not changed: the agent does not work its desk." in html
    assert Ticket.objects.get(pk=scene.ticket.pk).assignee == world.agent
    assert Ticket.objects.get(pk=scene.hr.pk).assignee is None


def test_assign_to_me_and_to_a_team(world, scene):
    team = TeamFactory(desk=world.desk, name="Field", slug="field")
    client = browser(world, "agent")
    client.post("/desk/bulk", {"tickets": [scene.ticket.ref], "action": "assign_me"})
    client.post(
        "/desk/bulk",
        {"tickets": [scene.sibling.ref], "action": "assign_team", "team": str(team.pk)},
    )
    assert Ticket.objects.get(pk=scene.ticket.pk).assignee == world.agent
    assert Ticket.objects.get(pk=scene.sibling.pk).team == team


def test_a_priority_override_needs_its_reason_and_then_changes_every_ticket(world, scene):
    client = browser(world, "agent")
    refs = [scene.ticket.ref, scene.sibling.ref]
    before = db_state()
    response = client.post(
        "/desk/bulk", {"tickets": refs, "action": "priority", "priority": "1"}, follow=True
    )
    assert "Overriding the priority needs a reason." in _messages(response)
    assert db_state() == before
    client.post(
        "/desk/bulk",
        {"tickets": refs, "action": "priority", "priority": "1", "reason": "CEO's floor"},
    )
    rows = Ticket.objects.filter(ref__in=refs).values_list("priority", "priority_reason")
    assert set(rows) == {(1, "CEO's floor")}


def test_merging_moves_the_others_into_the_named_ticket(world, scene):
    client = browser(world, "agent")
    response = client.post(
        "/desk/bulk",
        {
            "tickets": [scene.ticket.ref, scene.sibling.ref, scene.foreign.ref],
            "action": "merge",
            "into": scene.ticket.ref.lower(),
        },
        follow=True,
    )
    assert f"Tickets changed (2): {scene.sibling.ref}, {scene.foreign.ref}." in _messages(response)
    merged = Ticket.objects.filter(merged_into=scene.ticket).values_list("ref", flat=True)
    assert set(merged) == {scene.sibling.ref, scene.foreign.ref}
    assert Ticket.objects.get(pk=scene.ticket.pk).is_live


def test_merging_into_a_ticket_one_cannot_see_changes_nothing(world, scene):
    client = browser(world, "agent")
    before = db_state()
    response = client.post(
        "/desk/bulk",
        {"tickets": [scene.sibling.ref], "action": "merge", "into": scene.hr.ref},
        follow=True,
    )
    assert f"No ticket {scene.hr.ref} to merge into." in _messages(response)
    assert db_state() == before


@pytest.mark.parametrize("persona", ["other_agent", "requester", "anonymous"])
def test_who_is_not_staff_of_the_desk_changes_nothing_in_bulk(world, scene, persona):
    client = browser(world, persona)
    before = db_state()
    response = client.post(
        "/desk/bulk",
        {"tickets": [scene.ticket.ref], "action": "resolve", "resolution": "sneaky"},
        follow=True,
    )
    assert db_state() == before
    if persona == "other_agent":
        # They may read it as the requester's colleague, not work it.
        assert f"{scene.ticket.ref} was not changed: You may not do this." in _messages(response)


def test_hostile_input_is_refused_in_words(world, scene):
    client = browser(world, "agent")
    before = db_state()
    response = client.post(
        "/desk/bulk",
        {
            "tickets": ["IT-1' OR 1=1 --", scene.ticket.ref],
            "action": "assign_me",
            "next": "https://evil.test/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/desk/"
    assert db_state() == before
    response = client.post("/desk/bulk", {"action": "assign_me"}, follow=True)
    assert "Choose at least one ticket." in _messages(response)
    assert db_state() == before


# --- every ticket matching the filters, beyond one page ----------------------------------------


def _many(world, count: int, **fields) -> list[str]:
    from tests.factories import make_ticket

    refs = [
        make_ticket(desk=world.desk, requester=world.colleague, title=f"Printer {n}").ref
        for n in range(count)
    ]
    if fields:
        Ticket.objects.filter(ref__in=refs).update(**fields)
    return refs


def test_a_list_of_more_than_a_page_offers_all_its_matching_tickets(world, scene):
    _many(world, 52)
    client = browser(world, "agent")
    html = client.get("/desk/", {"queue": "open", "sort": "created"}).content.decode()
    assert "Select all 55 tickets matching these filters" in html
    assert 'name="filters" value="queue=open&amp;sort=created"' in html
    one_page = client.get("/desk/", {"queue": "open", "priority": "1"}).content.decode()
    assert "matching these filters" not in one_page


def test_all_matching_changes_every_ticket_the_filters_select_across_pages(world, scene):
    urgent = _many(world, 53, priority=1)
    client = browser(world, "agent")
    response = client.post(
        "/desk/bulk",
        {
            "all_matching": "1",
            "filters": "queue=open&priority=1",
            "tickets": [urgent[0]],  # the page's ticks do not narrow "all matching"
            "action": "assign_me",
            "next": "/desk/?queue=open&priority=1",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Tickets changed (53): " in html and ", …." in html  # twenty named, the rest counted
    assert set(Ticket.objects.filter(assignee=world.agent).values_list("ref", flat=True)) == set(
        urgent
    )
    others = (scene.ticket, scene.sibling, scene.foreign)
    assert not Ticket.objects.filter(pk__in=[t.pk for t in others], assignee__isnull=False).exists()


def test_past_the_cap_nothing_is_done_and_the_list_says_to_narrow(world, scene, monkeypatch):
    from comptoir.workspace import bulk, views

    monkeypatch.setattr(views, "ALL_MATCHING_CAP", 4)
    monkeypatch.setattr(bulk, "ALL_MATCHING_CAP", 4)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    _many(world, 2)
    client = browser(world, "agent")
    listing = client.get("/desk/", {"queue": "open"}).content.decode()
    assert "More than 4 tickets match these filters: narrow them" in listing
    assert 'name="all_matching"' not in listing
    before = db_state()
    response = client.post(
        "/desk/bulk",
        {"all_matching": "1", "filters": "queue=open", "action": "assign_me", "next": "/desk/"},
        follow=True,
    )
    assert "More than 4 tickets match these filters: narrow them, then try again." in (
        response.content.decode()
    )
    assert db_state() == before


def test_all_matching_reports_each_refusal_then_counts_the_rest_by_reason(
    world, scene, monkeypatch
):
    """The superuser's "all open" spans IT and HR; IT's agent cannot take HR's tickets."""
    from comptoir.workspace import bulk

    monkeypatch.setattr(bulk, "LISTED", 1)
    from tests.factories import make_ticket

    hr = [
        make_ticket(desk=world.other_desk, requester=world.outsider, title=f"Payslip {n}").ref
        for n in range(3)
    ]
    response = browser(world, "superuser").post(
        "/desk/bulk",
        {
            "all_matching": "1",
            "filters": "queue=open&sort=created",
            "action": "assign_agent",
            "agent": str(world.agent.pk),
            "next": "/desk/?queue=open",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Tickets changed (3): " in html  # IT's three
    assert f"{scene.hr.ref} was not changed: " in html  # the first refusal, named
    assert "3 other tickets were not changed: " in html  # HR's others, counted
    assert not Ticket.objects.filter(ref__in=hr, assignee__isnull=False).exists()


def test_the_filters_are_read_again_for_who_asks(world, scene):
    """Filters naming a desk the agent does not work select only their own desks' tickets."""
    client = browser(world, "agent")
    client.post(
        "/desk/bulk",
        {"all_matching": "1", "filters": "queue=open&desk=hr", "action": "assign_me"},
    )
    assert Ticket.objects.get(pk=scene.hr.pk).assignee_id is None
    assert Ticket.objects.filter(desk=world.desk, assignee=world.agent).count() == 3


@pytest.mark.parametrize("persona", ["requester", "anonymous"])
def test_who_is_not_an_agent_changes_nothing_with_all_matching(world, scene, persona):
    before = db_state()
    response = browser(world, persona).post(
        "/desk/bulk", {"all_matching": "1", "filters": "queue=open", "action": "assign_me"}
    )
    assert response.status_code in (302, 403)
    assert db_state() == before


def test_the_list_costs_the_same_queries_for_51_tickets_or_90(world, scene):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _many(world, 48)
    client = browser(world, "agent")
    client.get("/desk/", {"queue": "open"})  # warm the session and the per-process caches
    with CaptureQueriesContext(connection) as few:
        assert "Select all 51 tickets" in client.get("/desk/", {"queue": "open"}).content.decode()
    _many(world, 39)
    with CaptureQueriesContext(connection) as many:
        assert "Select all 90 tickets" in client.get("/desk/", {"queue": "open"}).content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
