"""Reading one ticket for its page or the API: every relation it shows, in a fixed number of
queries, and nothing the reader may not see."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.core.actor import Actor
from comptoir.core.errors import NotFound
from comptoir.tickets import services
from comptoir.tickets.selectors import get_ticket_for
from tests.factories import CategoryFactory, TeamFactory, make_ticket

pytestmark = pytest.mark.django_db


def test_a_ticket_comes_with_what_its_page_shows_and_reads_nothing_more(world):
    team = TeamFactory(desk=world.desk, name="Field", slug="field")
    category = CategoryFactory(desk=world.desk, name="Printers", slug="printers")
    parent = make_ticket(desk=world.desk, requester=world.requester, title="Floor 3 printers")
    ticket = make_ticket(
        desk=world.desk, requester=world.requester, title="Printer jammed", category=category
    )
    agent = Actor.for_user(world.agent)
    services.assign_ticket(actor=agent, ticket=ticket, agent=world.agent, team=team)
    services.link_tickets(actor=agent, ticket=ticket, target=parent, kind="parent")

    get_ticket_for(agent, ticket.ref)  # the reader's roles and the desk, cached per process
    with CaptureQueriesContext(connection) as reading:
        found = get_ticket_for(agent, f" {ticket.ref.lower()} ")
    with CaptureQueriesContext(connection) as showing:
        shown = (
            found.requester.email,
            found.assignee.email,
            found.organisation.name,
            found.category.name,
            found.team.name,
            found.desk.name,
            found.parent.ref,
            found.merged_into,
            found.title,
        )
    assert shown == (
        "requester@acme.test",
        "agent@acme.test",
        "Acme",
        "Printers",
        "Field",
        "IT",
        parent.ref,
        None,
        "Printer jammed",
    )
    assert showing.captured_queries == []
    # The ticket with its people, organisation, category and team; then its parent.
    assert len(reading.captured_queries) == 2


def test_a_ticket_without_assignee_category_or_team_reads_them_as_none(world):
    ticket = make_ticket(desk=world.desk, requester=world.outsider, title="Badge lost")
    ticket.refresh_from_db()
    ticket.organisation = None
    ticket.save(update_fields=["organisation"])
    agent = Actor.for_user(world.agent)
    get_ticket_for(agent, ticket.ref)
    with CaptureQueriesContext(connection) as showing:
        found = get_ticket_for(agent, ticket.ref)
        nothing = (found.assignee, found.organisation, found.category, found.team, found.parent)
    assert nothing == (None, None, None, None, None)
    assert found.requester == world.outsider
    assert len(showing.captured_queries) == 1


def test_a_ticket_the_reader_may_not_see_reads_as_missing(world):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with pytest.raises(NotFound):
        get_ticket_for(Actor.for_user(world.outsider), ticket.ref)
    with pytest.raises(NotFound):
        get_ticket_for(Actor.for_user(world.agent), "IT-999999")
