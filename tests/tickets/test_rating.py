"""Satisfaction ratings: the requester rates a resolution once; a new resolution may be rated
again and the latest counts; nobody else rates, and nothing unresolved is rated."""

from __future__ import annotations

import pytest
from django.test import TestCase

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.tickets import selectors, services
from comptoir.tickets.events import TicketRated
from comptoir.tickets.models import EventKind, Rating, Ticket, TicketEvent
from tests.api.conftest import published  # noqa: F401
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


def as_(user) -> Actor:
    return Actor.for_user(user)


def resolved(world) -> Ticket:
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Mail is down")
    return services.resolve_ticket(actor=as_(world.agent), ticket=ticket, resolution="Restarted")


def test_the_requester_rates_a_resolution_and_the_timeline_and_agents_see_it(world, published):  # noqa: F811
    ticket = resolved(world)
    with TestCase.captureOnCommitCallbacks(execute=True):
        rating = services.rate_ticket(
            actor=as_(world.requester), ticket=ticket, satisfied=False, comment="Took two days."
        )
    assert (rating.satisfied, rating.comment, rating.rater) == (
        False,
        "Took two days.",
        world.requester,
    )
    event = TicketEvent.objects.filter(ticket=ticket).last()
    assert event is not None and event.kind == EventKind.RATED and event.public
    assert event.after["satisfied"] is False and event.after["comment"] == "Took two days."
    assert selectors.rating_of(ticket) == rating
    assert [type(e) for e in published if isinstance(e, TicketRated)] == [TicketRated]


def test_a_resolution_is_rated_once_but_a_new_resolution_may_be_rated_again(world):
    ticket = resolved(world)
    services.rate_ticket(actor=as_(world.requester), ticket=ticket, satisfied=False)
    with pytest.raises(DomainError) as refused:
        services.rate_ticket(actor=as_(world.requester), ticket=ticket, satisfied=True)
    assert refused.value.code == ErrorCode.ALREADY_RATED
    assert Rating.objects.count() == 1 and not selectors.rating_of(ticket).satisfied

    services.reopen_ticket(actor=as_(world.requester), ticket=ticket, reason="Down again")
    assert selectors.current_rating_of(ticket) is None
    services.resolve_ticket(actor=as_(world.agent), ticket=ticket, resolution="New disk")
    services.rate_ticket(actor=as_(world.requester), ticket=ticket, satisfied=True)
    assert Rating.objects.filter(ticket=ticket).count() == 2
    assert selectors.rating_of(ticket).satisfied  # the latest counts


def test_a_closed_ticket_keeps_its_rating_window_but_a_cancelled_one_is_never_rated(world):
    ticket = resolved(world)
    services.close_ticket(actor=as_(world.requester), ticket=ticket)
    assert services.rate_ticket(actor=as_(world.requester), ticket=ticket, satisfied=True)

    cancelled = make_ticket(desk=world.desk, requester=world.requester)
    services.cancel_ticket(actor=as_(world.requester), ticket=cancelled, reason="Never mind")
    with pytest.raises(DomainError) as refused:
        services.rate_ticket(actor=as_(world.requester), ticket=cancelled, satisfied=True)
    assert refused.value.code == ErrorCode.NOT_RESOLVED


@pytest.mark.parametrize("persona", ["colleague", "agent", "manager", "superuser"])
def test_only_the_requester_rates(world, persona):
    ticket = resolved(world)
    events = TicketEvent.objects.count()
    with pytest.raises(DomainError) as refused:
        services.rate_ticket(actor=as_(getattr(world, persona)), ticket=ticket, satisfied=True)
    assert refused.value.code == ErrorCode.PERMISSION_DENIED
    assert Rating.objects.count() == 0 and TicketEvent.objects.count() == events


def test_an_open_ticket_cannot_be_rated(world):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with pytest.raises(DomainError) as refused:
        services.rate_ticket(actor=as_(world.requester), ticket=ticket, satisfied=True)
    assert refused.value.code == ErrorCode.NOT_RESOLVED
    assert refused.value.http_status == 409
    assert Rating.objects.count() == 0


def test_the_comment_is_kept_as_plain_text_without_control_characters(world):
    ticket = resolved(world)
    typed = "Fine\x00 <b>thanks</b>\x1b[31m\r\n\r\n\r\n\u202eevil\u202c\tend  "
    rating = services.rate_ticket(
        actor=as_(world.requester), ticket=ticket, satisfied=True, comment=typed
    )
    assert rating.comment == "Fine <b>thanks</b>[31m\n\nevil\tend"


def test_a_too_long_comment_is_refused_and_nothing_is_stored(world):
    ticket = resolved(world)
    with pytest.raises(DomainError) as refused:
        services.rate_ticket(
            actor=as_(world.requester), ticket=ticket, satisfied=True, comment="x" * 2001
        )
    assert refused.value.code == ErrorCode.VALIDATION_ERROR
    assert Rating.objects.count() == 0
