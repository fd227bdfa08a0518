"""A breach acts exactly once: one timeline entry, one notice per person, one escalation, however
many times the sweep runs and however many workers run it at once."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import nullcontext
from datetime import datetime

import pytest
from django.db import connection

from comptoir.core.actor import Actor
from comptoir.notifications.models import Notification
from comptoir.sla.models import SlaClock, SlaPolicy
from comptoir.sla.policies import update_policy
from comptoir.sla.services import _act, _check, sweep
from comptoir.tickets import services
from comptoir.tickets.models import EventKind, Ticket, TicketEvent
from tests.factories import TeamFactory
from tests.sla.conftest import PARIS

BREACH_RECIPIENTS = {"agent@acme.test", "lead@acme.test", "manager@acme.test"}


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def escalating(world, sla_desk):
    """The desk's standard policy hands a breached ticket to the escalation team and raises its
    priority by one step."""
    desk, _ = sla_desk
    escalation = TeamFactory(desk=desk, name="Escalation", slug="escalation")
    update_policy(
        actor=Actor.for_user(world.manager),
        policy=SlaPolicy.objects.get(desk=desk, name="Standard"),
        breach_reassign_team="escalation",
        breach_raise_priority=True,
    )
    return escalation


def open_tickets(world, sla_desk, clock, count: int, capture=None) -> list[Ticket]:
    """P3 incidents opened on Friday 4 December 2026 at 16:30 in Paris and given to the agent
    in Support: their first response is due on Monday at 09:30."""
    desk, support = sla_desk
    clock.set(paris(2026, 12, 4, 16, 30))
    tickets = []
    for n in range(count):
        with capture(execute=True) if capture else nullcontext():
            ticket = services.create_ticket(
                actor=Actor.for_user(world.requester), desk=desk, kind="incident", title=f"#{n}"
            )
        with capture(execute=True) if capture else nullcontext():
            services.assign_ticket(
                actor=Actor.for_user(world.agent), ticket=ticket, team=support, agent=world.agent
            )
        tickets.append(ticket)
    return tickets


def count_events(ticket: Ticket, kind: str) -> int:
    return TicketEvent.objects.filter(ticket=ticket, kind=kind).count()


def assert_escalated_once(ticket: Ticket, escalation) -> None:
    assert count_events(ticket, EventKind.SLA_BREACHED) == 1
    escalated = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ESCALATED)
    assert [e.after for e in escalated] == [
        {
            "metric": "first_response",
            "policy": "Standard",
            "reassigned_to": "Escalation",
            "priority": 2,
        }
    ]
    by_the_sla = TicketEvent.objects.filter(ticket=ticket, actor_label="SLA")
    assert by_the_sla.filter(kind=EventKind.ASSIGNED).count() == 1
    assert by_the_sla.filter(kind=EventKind.PRIORITY_CHANGED).count() == 1
    ticket.refresh_from_db()
    assert ticket.team == escalation
    assert ticket.assignee is None
    assert ticket.priority == 2  # P3 raised once, not twice
    assert ticket.sla_breached is True
    notices = Notification.objects.filter(ticket=ticket, kind="sla_breached")
    recipients = Counter(notices.values_list("recipient__email", flat=True))
    assert recipients == dict.fromkeys(BREACH_RECIPIENTS, 1)


# --- on this database, one worker -----------------------------------------------------------------


@pytest.mark.django_db
def test_sweeping_twice_escalates_once(
    world, sla_desk, escalating, clock, django_capture_on_commit_callbacks
):
    (ticket,) = open_tickets(world, sla_desk, clock, 1, django_capture_on_commit_callbacks)
    clock.set(paris(2026, 12, 7, 9, 31))
    with django_capture_on_commit_callbacks(execute=True):
        first = sweep()
    with django_capture_on_commit_callbacks(execute=True):
        second = sweep()
    assert (first.breaches, second.breaches) == (1, 0)
    assert_escalated_once(ticket, escalating)


@pytest.mark.django_db
def test_checking_the_same_clock_twice_escalates_once(
    world, sla_desk, escalating, clock, django_capture_on_commit_callbacks
):
    (ticket,) = open_tickets(world, sla_desk, clock, 1, django_capture_on_commit_callbacks)
    due = SlaClock.objects.get(ticket=ticket, slot="sla:first_response")
    now = clock.set(paris(2026, 12, 7, 9, 31))
    with django_capture_on_commit_callbacks(execute=True):
        assert _check(due.pk, now) == 100
    # A second worker that listed the clock before the first one acted on it.
    SlaClock.objects.filter(pk=due.pk).update(next_check_at=due.due_at)
    with django_capture_on_commit_callbacks(execute=True):
        assert _check(due.pk, now) is None
    assert_escalated_once(ticket, escalating)


@pytest.mark.django_db
def test_a_worker_holding_a_stale_copy_of_the_clock_does_nothing(
    world, sla_desk, escalating, clock, django_capture_on_commit_callbacks
):
    """Two workers read the clock before either acts: the compare-and-set lets one through."""
    (ticket,) = open_tickets(world, sla_desk, clock, 1, django_capture_on_commit_callbacks)
    now = clock.set(paris(2026, 12, 7, 9, 31))
    mine, theirs = (SlaClock.objects.get(ticket=ticket, slot="sla:first_response") for _ in "ab")
    policy = SlaPolicy.objects.get(name="Standard")
    with django_capture_on_commit_callbacks(execute=True):
        assert _act(mine, 100, ticket=Ticket.objects.get(pk=ticket.pk), policy=policy, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert not _act(
            theirs, 100, ticket=Ticket.objects.get(pk=ticket.pk), policy=policy, now=now
        )
    assert_escalated_once(ticket, escalating)


# --- two workers at once, for real ----------------------------------------------------------------


def _in_memory_sqlite() -> bool:
    name = str(connection.settings_dict["NAME"])
    return connection.vendor == "sqlite" and (
        name == ":memory:" or name.startswith("file:memorydb")
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_breach_each_clock_once(world, sla_desk, escalating, clock):
    if _in_memory_sqlite():
        pytest.skip(
            "two threads cannot share an in-memory SQLite test database; this race runs on "
            "PostgreSQL (DATABASE_URL=postgres://…)"
        )
    tickets = open_tickets(world, sla_desk, clock, 20)
    assert SlaClock.objects.filter(slot="sla:first_response", warned_level=0).count() == 20
    clock.set(paris(2026, 12, 7, 9, 31))

    start = threading.Barrier(2)
    reports = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            reports.append(sweep())
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []

    assert sum(r.breaches for r in reports) == 20
    assert TicketEvent.objects.filter(kind=EventKind.SLA_BREACHED).count() == 20
    assert TicketEvent.objects.filter(kind=EventKind.ESCALATED).count() == 20
    notices = Notification.objects.filter(kind="sla_breached")
    assert notices.count() == 20 * len(BREACH_RECIPIENTS)
    assert len(set(notices.values_list("recipient_id", "key"))) == notices.count()
    for ticket in tickets:
        assert_escalated_once(ticket, escalating)
    # Nothing is left for a third worker to do.
    assert sweep().breaches == 0
