"""Fixtures of the API tests: a recorder of domain events, and a populated desk."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from comptoir.core.actor import Actor
from comptoir.core.events import subscribe, unsubscribe
from comptoir.tickets import services
from comptoir.tickets.events import TicketEventBase
from comptoir.tickets.models import Attachment, Comment, Ticket
from tests.api.helpers import Watch, attach
from tests.factories import CategoryFactory, TeamFactory, make_ticket


@pytest.fixture
def published():
    """Every ticket domain event delivered while the test runs."""
    seen: list[TicketEventBase] = []

    def record(event: TicketEventBase) -> None:
        seen.append(event)

    subscribe(TicketEventBase)(record)
    yield seen
    unsubscribe(TicketEventBase, record)


@pytest.fixture
def watch(published) -> Watch:
    return Watch(published)


@dataclass
class Scene:
    ticket: Ticket  # IT-000001: the requester's open incident
    sibling: Ticket  # IT-000002: another of the requester's incidents
    foreign: Ticket  # IT-000003: an incident of the other organisation
    hr: Ticket  # HR-000001: the other organisation's ticket on the other desk
    reply: Comment
    note: Comment
    public_file: Attachment
    internal_file: Attachment


@pytest.fixture
def scene(world) -> Scene:
    TeamFactory(desk=world.desk, name="Support", slug="support")
    TeamFactory(desk=world.other_desk, name="Payroll", slug="payroll")
    CategoryFactory(desk=world.desk, name="Hardware", slug="hardware")
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Laptop will not boot")
    sibling = make_ticket(desk=world.desk, requester=world.requester, title="Screen flickers")
    foreign = make_ticket(desk=world.desk, requester=world.outsider, title="Globex VPN")
    hr = make_ticket(desk=world.other_desk, requester=world.outsider, title="Payslip missing")
    agent = Actor.for_user(world.agent)
    reply = services.add_comment(
        actor=agent, ticket=ticket, body="Have you tried turning it off?", public=True
    )
    note = services.add_comment(
        actor=agent, ticket=ticket, body="Battery is swollen; order one.", public=False
    )
    public_file = attach(ticket, world.requester, "photo.txt", b"a blurry photo", public=True)
    internal_file = attach(
        ticket, world.agent, "quote.txt", b"supplier quote: 120 EUR", public=False
    )
    ticket.refresh_from_db()
    return Scene(ticket, sibling, foreign, hr, reply, note, public_file, internal_file)
