# ruff: noqa: F811 (the tests take the SLA fixtures imported below as arguments)
"""Agents' notices by mail: SLA warnings and breaches reach the assignee, the team lead and the
desk's managers in their mailbox, through a real SMTP server, unless they turned it off."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from comptoir.accounts.roles import Role
from comptoir.core.actor import Actor
from comptoir.mail.delivery import deliver
from comptoir.mail.models import BouncingAddress, Mailbox, OutboundMessage
from comptoir.mail.services import receive
from comptoir.notifications.models import Notification
from comptoir.notifications.services import notify
from comptoir.sla.services import sweep
from comptoir.tickets import services
from comptoir.tickets.models import Attachment, Comment
from tests.factories import PASSWORD, UserFactory, grant, make_ticket
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
    # Out of the ticket's conversation: not threaded with the requester's mail, and answers go
    # to a notice's own reply address.
    assert mail["Reply-To"] == f"it+{assigned.ref}-notice@acme.test"
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


def answer_to(notice: OutboundMessage, *, sender: str, **parts) -> bytes:
    """``sender``'s mail in answer to ``notice``: by default a plain reply (In-Reply-To and
    References, to its reply address, "RE:" and its subject)."""
    m = EmailMessage()
    m["From"] = sender
    m["To"] = parts.get("to", notice.reply_to)
    m["Subject"] = parts.get("subject", f"RE: {notice.subject}")
    m["Date"] = format_datetime(timezone.now())
    m["Message-ID"] = make_msgid(domain="acme.test")
    for name, value in parts.get("headers", {"In-Reply-To": f"<{notice.message_id}>"}).items():
        m[name] = value
    m.set_content(
        parts.get("body", "Calling the requester now.\n\n> First response target breached")
    )
    for filename, data in parts.get("files", ()):
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    return bytes(m)


@pytest.fixture
def breached(world, assigned, clock, sink) -> dict[str, OutboundMessage]:
    """The first-response breach, mailed to the agent, the team lead and the manager."""
    clock.set(paris(2026, 12, 7, 9, 31))
    sweep()
    return notices_mailed()


@pytest.mark.parametrize(
    "threaded_by",
    ["headers", "address", "subject"],
)
def test_an_agents_answer_to_a_notice_is_their_internal_note_on_the_ticket(
    world, assigned, breached, sink, threaded_by, api
):
    """However the agent's mail client answers (In-Reply-To, the notice's reply address, or
    only its subject), the answer lands on the breached ticket as the agent's internal note,
    and nothing reaches the requester."""
    notice = breached["agent@acme.test"]
    parts = {
        "headers": {"headers": {"In-Reply-To": f"<{notice.message_id}>"}, "to": "it@acme.test"},
        "address": {"headers": {}},
        "subject": {"headers": {}, "to": "it@acme.test"},
    }[threaded_by]
    mailed = OutboundMessage.objects.exclude(kind="notification").count()

    received = receive(
        answer_to(notice, sender="agent@acme.test", **parts), mailbox=Mailbox.objects.get()
    )

    assert (received.status, received.ticket) == ("processed", assigned)
    assert "notice" in received.reason
    note = Comment.objects.get(ticket=assigned)
    assert (note.author, note.public, note.channel) == (world.agent, False, "email")
    assert note.body == "Calling the requester now."  # the quoted notice left out
    assert OutboundMessage.objects.exclude(kind="notification").count() == mailed
    assigned.refresh_from_db()
    assert assigned.first_response_at is None  # a note is no response to the requester
    assert note.pk not in [
        c["id"] for c in api(world.requester).get(f"tickets/{assigned.ref}/comments").json()
    ]


def test_an_answer_to_a_notice_stays_out_of_the_requesters_conversation(
    world, assigned, breached, sink
):
    notice = breached["agent@acme.test"]
    answer = receive(answer_to(notice, sender="agent@acme.test"), mailbox=Mailbox.objects.get())
    services.add_comment(actor=Actor.for_user(world.agent), ticket=assigned, body="On my way.")

    reply = OutboundMessage.objects.get(ticket=assigned, kind="reply")
    assert reply.to == ["requester@acme.test"]
    threaded = {reply.in_reply_to, *reply.references.split()}
    assert notice.message_id not in threaded
    assert answer.message_id not in threaded


def test_the_files_of_an_answer_to_a_notice_stay_internal(world, assigned, breached, sink):
    notice = breached["manager@acme.test"]
    receive(
        answer_to(notice, sender="manager@acme.test", files=[("trace.log", b"ERROR 42\n" * 50)]),
        mailbox=Mailbox.objects.get(),
    )
    (kept,) = Attachment.objects.filter(ticket=assigned)
    assert (kept.filename, kept.public, kept.uploaded_by) == ("trace.log", False, world.manager)
    assert kept.comment.author == world.manager


@pytest.mark.parametrize(
    "who", ["outsider@globex.test", "hr-agent@acme.test", "requester@acme.test"]
)
def test_someone_else_answering_a_forwarded_notice_gains_nothing(
    world, assigned, breached, sink, who, api
):
    """A notice forwarded outside the desk's staff (to a person of another organisation, an
    agent of another desk, or the requester) does not let its reader onto the ticket's staff
    side: their answer is sorted out as a stranger's quoting the ticket, on a ticket of their
    own, and the breached ticket gets nothing."""
    notice = breached["agent@acme.test"]
    forwarded = answer_to(
        notice,
        sender=who,
        headers={"In-Reply-To": f"<{notice.message_id}>", "References": f"<{notice.message_id}>"},
        body="What is this about?",
    )

    received = receive(forwarded, mailbox=Mailbox.objects.get())

    assert received.status == "processed"
    assert received.ticket != assigned
    assert received.ticket.requester.email == who
    assert not Comment.objects.filter(ticket=assigned).exists()
    assert received.ticket.links_out.filter(target=assigned, kind="related").exists()
    if who == "outsider@globex.test":  # the others saw it before, as the requester's colleagues
        assert api(received.ticket.requester).get(f"tickets/{assigned.ref}").status_code == 404


def test_only_the_agent_the_notice_was_mailed_to_threads_by_its_subject(
    world, assigned, breached, sink
):
    """A subject naming the ticket without brackets is an answer to a notice only from someone
    who was mailed that notice; another agent's mail so titled opens a ticket, as before."""
    notice = breached["agent@acme.test"]
    colleague = grant(UserFactory(email="second@acme.test"), world.desk, Role.AGENT)
    received = receive(
        answer_to(notice, sender=colleague.email, headers={}, to="it@acme.test"),
        mailbox=Mailbox.objects.get(),
    )
    assert received.ticket != assigned
    assert not Comment.objects.filter(ticket=assigned).exists()


def test_an_agents_out_of_office_answering_a_notice_is_an_automatic_note(
    world, assigned, breached, sink
):
    notice = breached["agent@acme.test"]
    received = receive(
        answer_to(
            notice,
            sender="Alex Agent <agent@acme.test>",
            subject=f"Automatic reply: {notice.subject}",
            headers={"In-Reply-To": f"<{notice.message_id}>", "Auto-Submitted": "auto-generated"},
            body="I am away until Monday.",
        ),
        mailbox=Mailbox.objects.get(),
    )
    note = Comment.objects.get(pk=received.comment_id)
    assert received.ticket == assigned
    assert (note.author, note.public) == (None, False)
    assert note.author_label == "Automatic reply from Alex Agent <agent@acme.test>"


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
