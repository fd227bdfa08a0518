"""The in-process event bus: subscribers hear of a change only once it is committed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from django.db import transaction

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.core.events import publish, subscribe, unsubscribe
from comptoir.tickets import services
from comptoir.tickets.events import (
    TicketAssigned,
    TicketCreated,
    TicketEventBase,
    TicketStatusChanged,
    TicketUpdated,
)
from comptoir.tickets.models import Ticket
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Pinged:
    n: int


@dataclass(frozen=True)
class LoudPinged(Pinged):
    pass


@pytest.fixture
def heard():
    """``heard(EventType)`` subscribes a recorder and returns the list it fills."""
    subscriptions = []

    def listen(event_type):
        received = []
        handler = received.append
        subscribe(event_type)(handler)
        subscriptions.append((event_type, handler))
        return received

    yield listen
    for event_type, handler in subscriptions:
        unsubscribe(event_type, handler)


# --- the bus itself --------------------------------------------------------------------------


def test_subscriber_hears_only_after_commit(heard, django_capture_on_commit_callbacks):
    pings = heard(Pinged)
    with django_capture_on_commit_callbacks(execute=True):
        publish(Pinged(1))
        assert pings == []
    assert pings == [Pinged(1)]


def test_rolled_back_publication_is_never_heard(heard, django_capture_on_commit_callbacks):
    pings = heard(Pinged)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            publish(Pinged(1))
            raise RuntimeError("rollback")
        publish(Pinged(2))
    assert len(callbacks) == 1
    assert pings == [Pinged(2)]


def test_subscriber_of_a_base_type_hears_subtypes(heard, django_capture_on_commit_callbacks):
    base, loud = heard(Pinged), heard(LoudPinged)
    with django_capture_on_commit_callbacks(execute=True):
        publish(LoudPinged(1))
        publish(Pinged(2))
    assert base == [LoudPinged(1), Pinged(2)]
    assert loud == [LoudPinged(1)]


def test_subscribing_twice_delivers_once(heard, django_capture_on_commit_callbacks):
    pings = heard(Pinged)
    subscribe(Pinged)(pings.append)
    with django_capture_on_commit_callbacks(execute=True):
        publish(Pinged(1))
    assert pings == [Pinged(1)]


def test_unsubscribed_handler_hears_nothing(django_capture_on_commit_callbacks):
    pings: list = []
    subscribe(Pinged)(pings.append)
    unsubscribe(Pinged, pings.append)
    unsubscribe(Pinged, pings.append)  # a second time is harmless
    with django_capture_on_commit_callbacks(execute=True):
        publish(Pinged(1))
    assert pings == []


def test_failing_handler_is_logged_and_others_still_hear(
    heard, django_capture_on_commit_callbacks, caplog
):
    def broken(event):
        raise ValueError("handler bug")

    subscribe(Pinged)(broken)
    try:
        pings = heard(Pinged)
        with (
            caplog.at_level(logging.ERROR, logger="comptoir.core.events"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            publish(Pinged(1))
        assert pings == [Pinged(1)]
        assert "handler bug" in caplog.text
    finally:
        unsubscribe(Pinged, broken)


# --- services publish through it -------------------------------------------------------------


def test_ticket_services_announce_their_changes_after_commit(
    world, heard, django_capture_on_commit_callbacks
):
    everything = heard(TicketEventBase)
    agent = Actor.for_user(world.agent)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(desk=world.desk, requester=world.requester, impact="high")
        services.update_ticket(actor=agent, ticket=ticket, changes={"title": "Printer smoking"})
        services.assign_ticket(actor=agent, ticket=ticket, agent=world.agent)
        services.resolve_ticket(actor=agent, ticket=ticket, resolution="Unplugged it.")
        assert everything == []
    assert [type(e) for e in everything] == [
        TicketCreated,
        TicketUpdated,
        TicketAssigned,
        TicketStatusChanged,
    ]
    created, updated, assigned, resolved = everything
    assert (created.ref, created.kind, created.priority) == ("IT-000001", "incident", 2)
    assert updated.fields == ("title",)
    assert assigned.assignee_id == world.agent.pk
    assert (resolved.action, resolved.before, resolved.after) == ("resolve", "new", "resolved")
    assert resolved.actor_label == world.agent.email


def test_service_change_rolled_back_later_is_never_announced(
    world, heard, django_capture_on_commit_callbacks
):
    everything = heard(TicketEventBase)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        ticket = make_ticket(desk=world.desk, requester=world.requester)
        services.resolve_ticket(
            actor=Actor.for_user(world.agent), ticket=ticket, resolution="Done."
        )
        raise RuntimeError("the request failed afterwards")
    assert everything == []
    assert not Ticket.objects.exists()


def test_refused_service_call_announces_nothing(world, heard, django_capture_on_commit_callbacks):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    everything = heard(TicketEventBase)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(DomainError):
        services.update_ticket(
            actor=Actor.for_user(world.agent),
            ticket=ticket,
            changes={"title": "New", "impact": "extreme"},
        )
    assert callbacks == []
    assert everything == []


def test_failing_subscriber_does_not_undo_the_change(world, django_capture_on_commit_callbacks):
    def broken(event):
        raise RuntimeError("notifier down")

    subscribe(TicketCreated)(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket(desk=world.desk, requester=world.requester)
    finally:
        unsubscribe(TicketCreated, broken)
    assert Ticket.objects.filter(pk=ticket.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_real_commit_delivers_and_real_rollback_does_not(world, heard):
    created = heard(TicketCreated)
    with pytest.raises(RuntimeError), transaction.atomic():
        make_ticket(desk=world.desk, requester=world.requester, title="Never saved")
        assert created == []
        raise RuntimeError("rollback")
    assert created == []

    with transaction.atomic():
        ticket = make_ticket(desk=world.desk, requester=world.requester, title="Saved")
        assert created == []
    assert [e.ticket_id for e in created] == [ticket.pk]
    assert Ticket.objects.get().title == "Saved"


def test_an_in_transaction_subscriber_writes_with_the_change_and_fails_it():
    from comptoir.core.models import AuditEntry

    seen: list[object] = []

    def outbox(event):
        seen.append(event)
        if event.n < 0:
            raise RuntimeError("cannot write the outbox row")

    subscribe(Pinged, in_transaction=True)(outbox)
    try:
        with transaction.atomic():
            publish(Pinged(1))
            assert seen == [Pinged(1)]  # at publication, inside the transaction
        with pytest.raises(RuntimeError), transaction.atomic():
            AuditEntry.objects.create(action="x", object_type="t", object_id="1", object_repr="r")
            publish(Pinged(-1))
        assert not AuditEntry.objects.filter(action="x").exists()  # the change failed with it
    finally:
        unsubscribe(Pinged, outbox)
