"""One visibility rule, two ways to apply it: as a filter over all tickets, or to one in hand."""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.selectors import can_see_ticket, tickets_visible_to
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

PERSONAS = [
    "requester",
    "colleague",
    "outsider",
    "agent",
    "other_agent",
    "manager",
    "change_manager",
    "admin",
    "superuser",
]


@pytest.mark.parametrize("shared", [True, False])
def test_the_filter_and_the_single_ticket_check_always_agree(world, shared):
    org = world.requester.organisation
    org.members_see_all_tickets = shared
    org.save()
    agent = Actor.for_user(world.agent)
    mine = make_ticket(desk=world.desk, requester=world.requester, title="mine")
    theirs = make_ticket(desk=world.desk, requester=world.outsider, title="theirs")
    watched = make_ticket(desk=world.desk, requester=world.outsider, title="watched")
    services.update_ticket(actor=agent, ticket=watched, changes={"watchers": [world.colleague]})
    hr = make_ticket(desk=world.other_desk, requester=world.colleague, title="hr")
    tickets = [mine, theirs, watched, hr]
    for persona in PERSONAS:
        actor = Actor.for_user(getattr(world, persona))
        listed = set(tickets_visible_to(actor).values_list("pk", flat=True))
        for ticket in tickets:
            assert can_see_ticket(actor, ticket) == (ticket.pk in listed), (persona, ticket.title)
    colleague = Actor.for_user(world.colleague)
    assert can_see_ticket(colleague, mine) is shared
    assert can_see_ticket(colleague, watched) is True
    assert can_see_ticket(Actor.for_user(world.outsider), mine) is False


def test_a_desk_is_usable_exactly_when_it_is_listed(world):
    from comptoir.accounts.models import Site
    from comptoir.desks.models import Desk
    from comptoir.desks.selectors import can_use_desk, desks_visible_to

    local = Desk.objects.create(
        name="Paris IT", slug="paris-it", prefix="PIT", serves_all_sites=False
    )
    local.served_sites.add(world.requester.site)
    Desk.objects.create(name="Closed", slug="closed", prefix="OLD", is_active=False)
    elsewhere = Desk.objects.create(
        name="Lyon IT", slug="lyon-it", prefix="LIT", serves_all_sites=False
    )
    elsewhere.served_sites.add(
        Site.objects.create(organisation=world.outsider.organisation, name="Lyon")
    )
    for persona in PERSONAS:
        actor = Actor.for_user(getattr(world, persona))
        listed = set(desks_visible_to(actor).values_list("pk", flat=True))
        for desk in Desk.objects.all():
            assert can_use_desk(actor, desk) == (desk.pk in listed), (persona, desk.slug)
    assert can_use_desk(Actor.for_user(world.requester), local) is True
    assert can_use_desk(Actor.for_user(world.outsider), local) is False
