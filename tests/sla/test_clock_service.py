"""SLA clocks kept from the timeline through the real services, on a Paris office calendar."""

from __future__ import annotations

from datetime import datetime

import pytest

from comptoir.core.actor import Actor
from comptoir.notifications.models import Notification
from comptoir.sla.models import SlaClock
from comptoir.sla.services import refresh_clocks, sweep
from comptoir.tickets import services
from comptoir.tickets.models import EventKind, TicketEvent
from tests.sla.conftest import PARIS

pytestmark = pytest.mark.django_db


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def clocks(ticket) -> dict[str, SlaClock]:
    return {c.metric: c for c in SlaClock.objects.filter(ticket=ticket, scope="sla")}


def kinds(ticket) -> list[str]:
    return list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))


@pytest.fixture
def open_ticket(world, sla_desk, clock, django_capture_on_commit_callbacks):
    """An incident opened on Friday 4 December 2026 at 16:30 in Paris, medium priority (P3)."""
    desk, team = sla_desk
    clock.set(paris(2026, 12, 4, 16, 30))
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(
            actor=Actor.for_user(world.requester),
            desk=desk,
            kind="incident",
            title="Printer jammed",
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_ticket(
            actor=Actor.for_user(world.agent), ticket=ticket, team=team, agent=world.agent
        )
    return ticket


def test_targets_are_due_on_business_hours(open_ticket):
    found = clocks(open_ticket)
    assert set(found) == {"first_response", "resolution"}
    # 60 business minutes from Friday 16:30: 30 on Friday, 30 on Monday morning.
    assert found["first_response"].due_at == paris(2026, 12, 7, 9, 30)
    # 16 h: 0.5 h Friday, 7 h Monday, 7 h Tuesday, 1.5 h on Wednesday morning.
    assert found["resolution"].due_at == paris(2026, 12, 9, 10, 30)
    open_ticket.refresh_from_db()
    assert open_ticket.sla_due_at == paris(2026, 12, 7, 9, 30)
    assert open_ticket.sla_breached is False


def test_a_staff_reply_meets_the_first_response(
    world, open_ticket, clock, django_capture_on_commit_callbacks
):
    clock.set(paris(2026, 12, 7, 9, 10))
    with django_capture_on_commit_callbacks(execute=True):
        services.add_comment(actor=Actor.for_user(world.agent), ticket=open_ticket, body="On it.")
    first = clocks(open_ticket)["first_response"]
    assert first.state == "stopped"
    assert first.breached_at is None
    assert first.stopped_at == paris(2026, 12, 7, 9, 10)
    assert kinds(open_ticket).count(EventKind.SLA_MET) == 1
    open_ticket.refresh_from_db()
    assert open_ticket.sla_due_at == paris(2026, 12, 9, 10, 30)  # the resolution is next


def test_an_internal_note_is_not_a_response(
    world, open_ticket, clock, django_capture_on_commit_callbacks
):
    clock.set(paris(2026, 12, 7, 9, 10))
    with django_capture_on_commit_callbacks(execute=True):
        services.add_comment(
            actor=Actor.for_user(world.agent), ticket=open_ticket, body="Hmm", public=False
        )
    assert clocks(open_ticket)["first_response"].state == "running"


def test_waiting_for_the_customer_pauses_and_resumes(
    world, open_ticket, clock, django_capture_on_commit_callbacks
):
    agent = Actor.for_user(world.agent)
    clock.set(paris(2026, 12, 7, 9, 10))
    with django_capture_on_commit_callbacks(execute=True):
        services.add_comment(actor=agent, ticket=open_ticket, body="Which printer?")
        services.transition_ticket(actor=agent, ticket=open_ticket, action="wait_for_customer")
    resolution = clocks(open_ticket)["resolution"]
    assert resolution.state == "paused"
    assert resolution.due_at is None
    # Consumed so far: 30 min on Friday and 10 min on Monday.
    assert resolution.elapsed_seconds == 40 * 60

    # The requester answers on Tuesday at 11:00: the ticket resumes by itself.
    clock.set(paris(2026, 12, 8, 11, 0))
    open_ticket.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.add_comment(
            actor=Actor.for_user(world.requester), ticket=open_ticket, body="The 3rd floor one."
        )
    found = clocks(open_ticket)
    assert found["resolution"].state == "running"
    # 16 h - 40 min = 15 h 20 left from Tuesday 11:00: 5 h Tuesday, 7 h Wednesday, 3 h 20
    # on Thursday (09:00-12:00, then 13:00-13:20).
    assert found["resolution"].due_at == paris(2026, 12, 10, 13, 20)
    # Their reply opens a next-response cycle: 2 business hours.
    assert found["next_response"].state == "running"
    assert found["next_response"].due_at == paris(2026, 12, 8, 14, 0)


def test_the_sweep_breaches_once_and_notifies(world, open_ticket, clock):
    clock.set(paris(2026, 12, 7, 9, 31))
    first = sweep()
    second = sweep()
    assert first.breaches == 1
    assert second.breaches == 0
    found = clocks(open_ticket)["first_response"]
    assert found.breached_at == paris(2026, 12, 7, 9, 30)
    assert found.warned_level == 100
    assert kinds(open_ticket).count(EventKind.SLA_BREACHED) == 1
    notified = set(
        Notification.objects.filter(kind="sla_breached").values_list("recipient__email", flat=True)
    )
    assert notified == {"agent@acme.test", "lead@acme.test", "manager@acme.test"}
    open_ticket.refresh_from_db()
    assert open_ticket.sla_breached is True


def test_warnings_come_before_the_breach(world, open_ticket, clock):
    # 75 % of the first-response hour is 45 minutes: Monday 09:15.
    clock.set(paris(2026, 12, 7, 9, 16))
    assert sweep().warnings == 1
    assert sweep().warnings == 0
    assert kinds(open_ticket).count(EventKind.SLA_WARNING) == 1
    assert Notification.objects.filter(kind="sla_warning").count() == 2  # assignee and lead


def test_a_priority_change_retargets_the_clock(
    world, open_ticket, clock, django_capture_on_commit_callbacks
):
    clock.set(paris(2026, 12, 4, 16, 40))
    with django_capture_on_commit_callbacks(execute=True):
        services.update_ticket(
            actor=Actor.for_user(world.agent),
            ticket=open_ticket,
            changes={"impact": "high", "urgency": "medium"},  # P2
        )
    found = clocks(open_ticket)
    # P2: 30 business minutes from Friday 16:30, 4 h to resolve.
    assert found["first_response"].due_at == paris(2026, 12, 4, 17, 0)
    # (0.5 h Friday, Monday 09:00-12:00, then 30 minutes after lunch.)
    assert found["resolution"].due_at == paris(2026, 12, 7, 13, 30)
    retargeted = TicketEvent.objects.filter(ticket=open_ticket, kind=EventKind.SLA_RETARGETED)
    assert retargeted.count() == 2
    assert {e.after["target_minutes"] for e in retargeted} == {30, 240}


def test_a_reopen_resumes_the_resolution_clock(
    world, open_ticket, clock, django_capture_on_commit_callbacks
):
    agent = Actor.for_user(world.agent)
    clock.set(paris(2026, 12, 7, 9, 20))
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_ticket(actor=agent, ticket=open_ticket, resolution="Cleared the jam.")
    resolution = clocks(open_ticket)["resolution"]
    assert resolution.state == "stopped"
    assert resolution.elapsed_seconds == 50 * 60  # 30 min Friday, 20 min Monday
    assert kinds(open_ticket).count(EventKind.SLA_MET) == 2  # the resolution counted as a reply

    clock.set(paris(2026, 12, 8, 9, 0))
    open_ticket.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.reopen_ticket(
            actor=Actor.for_user(world.requester), ticket=open_ticket, reason="Jammed again."
        )
    resolution = clocks(open_ticket)["resolution"]
    assert resolution.state == "running"
    assert resolution.elapsed_seconds == 50 * 60  # not a fresh clock
    # 16 h - 50 min = 15 h 10 from Tuesday 09:00: 7 h Tuesday, 7 h Wednesday, 1 h 10 Thursday.
    assert resolution.due_at == paris(2026, 12, 10, 10, 10)


def test_refreshing_twice_changes_nothing(open_ticket, clock):
    clock.set(paris(2026, 12, 7, 9, 0))
    before = list(SlaClock.objects.filter(ticket=open_ticket).values())
    events = TicketEvent.objects.count()
    refresh_clocks(open_ticket.pk)
    refresh_clocks(open_ticket.pk)
    after = list(SlaClock.objects.filter(ticket=open_ticket).values())
    for row in before + after:
        row.pop("updated_at")
    assert before == after
    assert TicketEvent.objects.count() == events


def test_a_desk_without_policies_costs_three_reads_and_no_write(world, django_assert_num_queries):
    ticket = services.create_ticket(
        actor=Actor.for_user(world.requester), desk=world.desk, kind="incident", title="No SLA"
    )
    refresh_clocks(ticket.pk)  # the first time also reads the (empty) list of policies
    # The ticket's desk, the desk's policies' version, and whether the ticket has clocks.
    with django_assert_num_queries(3):
        assert refresh_clocks(ticket.pk).clocks == []
    assert not SlaClock.objects.filter(ticket=ticket).exists()
