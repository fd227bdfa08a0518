"""A job lost with a killed worker or a restarted Redis leaves work undone that the periodic
sweeps finish from the database alone: the ticket is routed once, its clocks are kept, its
mail goes out once. The queue here is the real one (the data folder's SQLite queue, or Redis),
emptied as a Redis restart without persistence empties it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from comptoir.core.actor import Actor
from comptoir.mail import delivery
from comptoir.mail.models import MailKind, OutboundMessage, OutboundStatus
from comptoir.mail.outbound import queue_mail
from comptoir.mail.tasks import deliver_due_mail
from comptoir.routing.models import Method, RoutingRule
from comptoir.routing.tasks import route_unrouted_tickets_task
from comptoir.sla import catch_up
from comptoir.sla.models import SlaClock, SlaPolicy
from comptoir.sla.tasks import refresh_ticket_clocks, sweep_clocks
from comptoir.tickets import services
from comptoir.tickets.models import EventKind, Ticket, TicketEvent
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lost_queue(settings):
    """The real queue, whose jobs are lost (flushed) instead of run: what Redis restarted
    without persistence does to them."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    cache.delete(catch_up._mark_key())  # no catch-up ran before: it starts from its look-back
    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True
    cache.delete(catch_up._mark_key())


@pytest.fixture
def floor(world):
    """The IT desk routes every ticket to Support by round robin, with an SLA policy."""
    support = TeamFactory(desk=world.desk, name="Support", slug="support")
    support.members.add(world.agent)
    RoutingRule.objects.create(
        desk=world.desk, name="Everything", team=support, method=Method.ROUND_ROBIN
    )
    SlaPolicy.objects.create(
        desk=world.desk,
        name="Around the clock",
        calendar_source="always",
        targets=[{"metric": "resolution", "minutes": 10, "priority": None}],
        warn_at=[50],
    )
    return support


def open_ticket(world, capture, title="Printer on fire") -> Ticket:
    with capture(execute=True):  # committed: its jobs are queued, then lost
        ticket = services.create_ticket(
            actor=Actor.for_user(world.requester), desk=world.desk, kind="incident", title=title
        )
    assert HUEY.pending_count() > 0, "the creation queued no job: nothing would be lost"
    HUEY.flush()
    return ticket


def routed_events(ticket: Ticket) -> int:
    return TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ROUTED).count()


@pytest.fixture
def run_sweeps(monkeypatch):
    """``run_sweeps(minutes)``: the minute's periodic jobs, run as a worker runs them,
    ``minutes`` after the test began."""
    start = timezone.now()

    def run(minutes: float) -> None:
        moment = start + timedelta(minutes=minutes)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        route_unrouted_tickets_task.call_local()
        sweep_clocks.call_local()
        deliver_due_mail.call_local()

    return run


def test_a_ticket_whose_jobs_were_lost_is_routed_and_timed_by_the_next_sweeps(
    world, floor, lost_queue, django_capture_on_commit_callbacks, run_sweeps
):
    ticket = open_ticket(world, django_capture_on_commit_callbacks)
    assert routed_events(ticket) == 0
    assert not SlaClock.objects.filter(ticket=ticket).exists()

    run_sweeps(0.5)  # within the grace period: its job may still come
    assert routed_events(ticket) == 0

    run_sweeps(2)
    ticket.refresh_from_db()
    assert ticket.assignee == world.agent and ticket.team == floor
    assert routed_events(ticket) == 1
    run_sweeps(3)  # the routing's change is caught up too
    clock = SlaClock.objects.get(ticket=ticket)
    assert clock.state == "running" and clock.due_at == ticket.created_at + timedelta(minutes=10)

    run_sweeps(4)  # and again: nothing more
    assert routed_events(ticket) == 1
    assert SlaClock.objects.filter(ticket=ticket).count() == 1


def test_the_warning_of_a_ticket_whose_jobs_were_lost_is_sent_once(
    world, floor, lost_queue, django_capture_on_commit_callbacks, run_sweeps
):
    ticket = open_ticket(world, django_capture_on_commit_callbacks)
    run_sweeps(2)  # routed to the agent
    run_sweeps(3)  # clocks started
    mail.outbox.clear()
    for minutes in (6, 7, 8):  # past half of the ten minutes, three sweeps
        run_sweeps(minutes)
    warnings = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SLA_WARNING)
    assert warnings.count() == 1
    assert [m.to for m in mail.outbox] == [[world.agent.email]]
    assert ticket.ref in mail.outbox[0].subject


def test_a_change_whose_clock_job_was_lost_is_caught_up(
    world, floor, lost_queue, django_capture_on_commit_callbacks, run_sweeps
):
    ticket = open_ticket(world, django_capture_on_commit_callbacks)
    run_sweeps(2)
    run_sweeps(3)
    ticket.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_ticket(
            actor=Actor.for_user(world.agent), ticket=ticket, resolution="Replaced the toner."
        )
    HUEY.flush()  # the job that would stop the clock is lost
    assert SlaClock.objects.get(ticket=ticket).state == "running"

    run_sweeps(5)
    clock = SlaClock.objects.get(ticket=ticket)
    assert clock.state == "stopped" and clock.met
    run_sweeps(12)  # past the target: a resolved ticket is not breached
    assert not TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SLA_BREACHED).exists()


def test_the_catch_up_recomputes_only_the_tickets_whose_job_was_lost(
    world, floor, lost_queue, django_capture_on_commit_callbacks
):
    lost = open_ticket(world, django_capture_on_commit_callbacks, title="Lost job")
    ran = open_ticket(world, django_capture_on_commit_callbacks, title="Job ran")
    refresh_ticket_clocks.call_local([ran.pk])  # a worker took this one's job
    assert SlaClock.objects.filter(ticket=ran).exists()

    later = timezone.now() + timedelta(minutes=2)
    assert catch_up.catch_up_clocks(now=later) == 1  # the lost one only
    assert SlaClock.objects.filter(ticket=lost).exists()

    # Redis restarted empty: no mark, no note says a job ran, so both are recomputed.
    notes = [catch_up._refreshed_key(ticket.pk) for ticket in (lost, ran)]
    cache.delete_many([catch_up._mark_key(), *notes])
    assert catch_up.catch_up_clocks(now=later) == 2


def queue_reply(world, key: str) -> None:
    """A new ticket of the requester, and a reply to them queued in the outbox under ``key``."""
    ticket = services.create_ticket(
        actor=Actor.for_user(world.requester), desk=world.desk, kind="incident", title="VPN"
    )
    queue_mail(
        ticket=ticket,
        kind=MailKind.REPLY,
        recipients=[world.requester],
        key=key,
        values={"message": "We are on it."},
    )


def test_mail_whose_sending_job_was_lost_goes_out_with_the_next_sweep_once(
    world, lost_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        queue_reply(world, "lost-job")
    HUEY.flush()
    assert mail.outbox == []

    deliver_due_mail.call_local()
    deliver_due_mail.call_local()
    row = OutboundMessage.objects.get(key__startswith="lost-job")
    assert row.status == OutboundStatus.SENT
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [f"<{row.message_id}>"]


def test_mail_claimed_by_a_worker_that_died_is_sent_once_its_lease_runs_out(
    world, lost_queue, settings
):
    settings.COMPTOIR_MAIL_LEASE_SECONDS = 120
    queue_reply(world, "claimed")
    row = OutboundMessage.objects.get(key__startswith="claimed")
    now = timezone.now()
    assert delivery._claim(row.pk, now) is not None  # the worker that claimed it is killed

    assert delivery.deliver(now=now + timedelta(seconds=60)) == 0  # its lease still runs
    assert mail.outbox == []
    assert delivery.deliver(now=now + timedelta(seconds=121)) == 1
    assert delivery.deliver(now=now + timedelta(hours=3)) == 0  # sent: never again
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT and row.attempts == 2
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [f"<{row.message_id}>"]


def test_a_desks_first_rule_does_not_route_the_tickets_that_came_before_it(
    world, lost_queue, run_sweeps
):
    before = services.create_ticket(
        actor=Actor.for_user(world.requester), desk=world.desk, kind="incident", title="Old"
    )
    support = TeamFactory(desk=world.desk, name="Support", slug="support")
    support.members.add(world.agent)
    RoutingRule.objects.create(
        desk=world.desk, name="Everything", team=support, method=Method.ROUND_ROBIN
    )
    run_sweeps(2)
    before.refresh_from_db()
    assert before.assignee is None and routed_events(before) == 0
