# ruff: noqa: F811 (the tests take the SLA fixtures imported below as arguments)
"""Agents' notices by mail: SLA warnings and breaches reach the assignee, the team lead and the
desk's managers in their mailbox, through a real SMTP server, unless they turned it off."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from django.db import transaction
from django.test import Client

from comptoir.core.actor import Actor
from comptoir.mail.delivery import deliver
from comptoir.mail.models import BouncingAddress, InboundMessage, Mailbox, OutboundMessage
from comptoir.mail.services import receive
from comptoir.notifications.models import Notification
from comptoir.notifications.services import notify
from comptoir.sla.services import sweep
from comptoir.tickets import services
from comptoir.tickets.models import Comment
from tests.factories import PASSWORD, make_ticket
from tests.mail.test_outbound_status import incoming
from tests.sla.conftest import PARIS, clock, office, sla_desk  # noqa: F401 (the SLA fixtures)

pytestmark = pytest.mark.django_db


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def sink(sink, settings):
    """The shared SMTP sink, with the address links in notices start with."""
    settings.COMPTOIR_BASE_URL = "https://desk.acme.test"
    return sink


@pytest.fixture
def box(world) -> Mailbox:
    return Mailbox.objects.create(desk=world.desk, address="it@acme.test", name="IT")


@pytest.fixture
def assigned(world, sla_desk, box, clock, django_capture_on_commit_callbacks):
    """An incident opened on Friday 4 December 2026 at 16:30 in Paris, assigned to the agent;
    its first response is due on Monday at 09:30."""
    desk, team = sla_desk
    clock.set(paris(2026, 12, 4, 16, 30))
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(
            actor=Actor.for_user(world.requester), desk=desk, kind="incident", title="No mail"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_ticket(
            actor=Actor.for_user(world.agent), ticket=ticket, team=team, agent=world.agent
        )
    return ticket


def notices_mailed() -> dict[str, OutboundMessage]:
    return {row.to[0]: row for row in OutboundMessage.objects.filter(kind="notification")}


def test_a_breach_reaches_the_assignee_the_lead_and_the_managers_by_mail(
    world,
    assigned,
    clock,
    sink,
):
    clock.set(paris(2026, 12, 7, 9, 31))
    assert sweep().breaches == 1

    assert deliver() == 3
    assert sorted(r for recipients, _ in sink.received for r in recipients) == [
        "agent@acme.test",
        "lead@acme.test",
        "manager@acme.test",
    ]
    mail = sink.messages()[0]
    assert mail["Subject"] == f"{assigned.ref}: First response target breached"
    text = mail.get_content()
    assert "No mail" in text  # the ticket's title
    [link] = re.findall(r"Open the ticket: (\S+)", text)
    assert link.startswith("https://desk.acme.test/")
    # The link opens the ticket for the agent once signed in.
    browser = Client()
    assert browser.login(username=world.agent.email, password=PASSWORD)
    page = browser.get(link.removeprefix("https://desk.acme.test"))
    assert page.status_code == 200
    assert assigned.ref in page.content.decode()
    assert mail["From"].addresses[0].addr_spec == "it@acme.test"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Loop"] == "comptoir"
    # Out of the ticket's conversation: no reply address, not threaded with the requester's mail.
    assert mail["Reply-To"] is None
    assert mail["In-Reply-To"] is None
    assert not Notification.objects.filter(kind="sla_breached", delivered_at__isnull=True).exists()


def test_a_second_sweep_mails_nobody_again(world, assigned, clock, sink):
    clock.set(paris(2026, 12, 7, 9, 31))
    sweep()
    sweep()
    assert deliver() == 3
    assert deliver() == 0
    assert len(sink.received) == 3


def test_a_warning_reaches_the_assignee_and_the_lead(world, assigned, clock, sink):
    clock.set(paris(2026, 12, 7, 9, 16))  # 75 % of the first-response hour
    assert sweep().warnings == 1
    assert set(notices_mailed()) == {"agent@acme.test", "lead@acme.test"}
    assert "at 75 % of its target" in notices_mailed()["agent@acme.test"].subject


def test_an_agent_who_turned_mail_off_keeps_the_notice_in_the_app_only(
    world,
    assigned,
    clock,
    sink,
    api,
):
    turned = api(world.agent).patch("me", {"mail_notifications": False})
    assert turned.status_code == 200, turned.content
    assert turned.json()["mail_notifications"] is False

    clock.set(paris(2026, 12, 7, 9, 31))
    sweep()
    assert set(notices_mailed()) == {"lead@acme.test", "manager@acme.test"}
    mine = Notification.objects.get(recipient=world.agent, kind="sla_breached")
    assert mine.delivered_at is None  # in the app, not mailed
    assert [n["kind"] for n in api(world.agent).get("notifications").json()] == ["sla_breached"]


def test_a_notice_is_mailed_in_the_agents_language(world, assigned, clock, sink):
    world.agent.locale = "fr"
    world.agent.save()
    clock.set(paris(2026, 12, 7, 9, 31))
    sweep()
    body = notices_mailed()["agent@acme.test"].body
    assert body.startswith(f"Bonjour {world.agent.name},")
    assert "Ouvrir le ticket :" in body
    assert "Open the ticket" in notices_mailed()["lead@acme.test"].body


def test_an_agents_answer_to_a_notice_never_reaches_the_requester(
    world,
    assigned,
    clock,
    sink,
):
    """The notice is not in the ticket's conversation: answering it opens a ticket of its own
    and writes nothing on the breached one, so the requester is sent nothing."""
    clock.set(paris(2026, 12, 7, 9, 31))
    sweep()
    notice = notices_mailed()["agent@acme.test"]
    answer = incoming(
        subject=f"Re: {notice.subject}",
        headers={"In-Reply-To": f"<{notice.message_id}>", "References": f"<{notice.message_id}>"},
    ).replace(b"Rachel Requester <requester@acme.test>", b"agent@acme.test")
    received = receive(answer, mailbox=Mailbox.objects.get())
    assert isinstance(received, InboundMessage)
    assert received.ticket != assigned
    assert not Comment.objects.filter(ticket=assigned).exists()
    assert not OutboundMessage.objects.filter(ticket=assigned, kind="reply").exists()


def test_a_desk_template_words_the_notice(world, assigned, clock, sink, api):
    made = api(world.manager).post(
        "mail/templates",
        {
            "desk": "it",
            "kind": "notification",
            "locale": "en",
            "subject": "[SLA] {{ notice }}",
            "body": "{{ notice }} — {{ link }}",
        },
    )
    assert made.status_code == 201, made.content
    clock.set(paris(2026, 12, 7, 9, 31))
    sweep()
    row = notices_mailed()["agent@acme.test"]
    assert row.subject == f"[SLA] {assigned.ref}: First response target breached"
    notice, _, link = row.body.partition(" — ")
    assert notice == f"{assigned.ref}: First response target breached"
    assert link.startswith("https://desk.acme.test/") and assigned.ref in link


def test_a_template_without_the_reference_still_names_the_ticket(world, box, api, sink):
    api(world.manager).post(
        "mail/templates",
        {"desk": "it", "kind": "notification", "locale": "en", "subject": "Heads up", "body": "!"},
    )
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Printer")
    notify(recipients=[world.agent], kind="test", key="k1", title="Look", ticket=ticket)
    assert notices_mailed()["agent@acme.test"].subject == f"{ticket.ref}: Heads up"


def test_a_notice_without_a_ticket_comes_from_the_default_address(world, settings, sink):
    settings.DEFAULT_FROM_EMAIL = "comptoir@acme.test"
    notify(recipients=[world.manager], kind="digest", key="d1", title="Your week", body="3 open")
    assert deliver() == 1
    [mail] = sink.messages()
    assert mail["From"].addresses[0].addr_spec == "comptoir@acme.test"
    assert mail["Subject"] == "Your week"
    assert "3 open" in mail.get_content()


def test_nobody_is_mailed_who_cannot_be(world, box, sink):
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Printer")
    world.other_agent.is_active = False
    world.other_agent.save()
    BouncingAddress.objects.create(email="lead@acme.test", last_bounce_at=ticket.created_at)
    lead = type(world.agent).objects.create_user("lead@acme.test")
    robot = type(world.agent).objects.create_user("it@acme.test")  # one of our own addresses
    notify(
        recipients=[world.other_agent, lead, robot, world.agent],
        kind="test",
        key="k2",
        title="Look",
        ticket=ticket,
    )
    assert Notification.objects.filter(key="k2").count() == 4  # all told in the app
    assert set(notices_mailed()) == {"agent@acme.test"}


def test_a_rolled_back_change_mails_no_notice(world, box, sink):
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Printer")
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(recipients=[world.agent], kind="test", key="k3", title="Look", ticket=ticket)
        assert set(notices_mailed()) == {"agent@acme.test"}  # written with the notice
        raise RuntimeError("the sweep failed after the notice")
    assert notices_mailed() == {}
    assert deliver() == 0
