"""The process's short-lived copies of tokens, roles and desks (core.memo, ADR 12)."""

from __future__ import annotations

import pytest

from comptoir.accounts.models import Membership
from comptoir.accounts.services import revoke_role
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.desks.selectors import resolve_desk
from comptoir.tickets import services
from tests.api.helpers import error, expect
from tests.factories import agent_on

pytestmark = pytest.mark.django_db


def test_each_read_gets_its_own_copy(world):
    actor = Actor.for_user(world.agent)
    first = resolve_desk(actor, world.desk.slug)
    first.priority_matrix["high"]["high"] = 5
    first.name = "Changed in memory only"
    second = resolve_desk(actor, world.desk.slug)
    assert second.name == world.desk.name
    assert second.priority_matrix == world.desk.priority_matrix


def test_saving_a_cached_desk_never_rewinds_its_ticket_numbers(world):
    agent = Actor.for_user(world.agent)
    cached = resolve_desk(agent, world.desk.slug)  # read before the next ticket is numbered
    first = services.create_ticket(actor=agent, desk=world.desk, kind="incident", title="One")
    cached.description = "Renamed queue"
    cached.save()
    second = services.create_ticket(actor=agent, desk=world.desk, kind="incident", title="Two")
    assert int(second.ref.split("-")[1]) == int(first.ref.split("-")[1]) + 1


def test_a_desk_changed_in_this_process_is_seen_at_once(world):
    actor = Actor.for_user(world.agent)
    assert resolve_desk(actor, world.desk.slug).is_active
    world.desk.is_active = False
    world.desk.save()
    with pytest.raises(DomainError):
        resolve_desk(actor, world.desk.slug)


def test_a_role_revoked_in_this_process_takes_effect_at_once(world, api):
    ticket = services.create_ticket(
        actor=Actor.for_user(world.requester), desk=world.desk, kind="incident", title="Help"
    )
    agent = agent_on(world.desk)  # of no organisation: only the role shows the ticket
    client = api(agent)
    expect(client.get(f"tickets/{ticket.ref}"), 200)
    membership = Membership.objects.get(user=agent, desk=world.desk)
    revoke_role(actor=Actor.system(), membership=membership)
    error(client.get(f"tickets/{ticket.ref}"), 404, "not_found")
