"""A ticket's links never name a ticket the caller may not see."""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.tickets import services
from tests.api.helpers import expect
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


def test_an_agent_sees_no_link_to_a_ticket_of_a_desk_they_do_not_work(world, api):
    ours = make_ticket(desk=world.desk, requester=world.requester, title="VPN down")
    theirs = make_ticket(desk=world.other_desk, requester=world.outsider, title="Salary of Bob")
    services.link_tickets(actor=Actor.system(), ticket=ours, target=theirs, kind="related")

    seen_by_agent = expect(api(world.agent).get(f"tickets/{ours.ref}"), 200)
    assert seen_by_agent["links"] == []
    assert "Salary" not in str(seen_by_agent)

    seen_by_superuser = expect(api(world.superuser).get(f"tickets/{ours.ref}"), 200)
    assert [link["ref"] for link in seen_by_superuser["links"]] == [theirs.ref]
    seen_from_the_other_side = expect(api(world.superuser).get(f"tickets/{theirs.ref}"), 200)
    assert [link["kind"] for link in seen_from_the_other_side["links"]] == ["related:inverse"]
