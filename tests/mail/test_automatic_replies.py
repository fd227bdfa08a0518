# ruff: noqa: F811 (the tests take the SLA fixtures imported below as arguments)
"""Automatic replies (out-of-office, vacation responders) that come back to the desk.

On a ticket the sender has, one is kept as an internal note marked automatic and changes
nothing: no status (no resume, no reopen), no SLA clock, no mail. One that answers no ticket
opens none: it is kept "ignored", with the reason, for the admins to see. The messages are the
corpus's real ones (``corpus/outlook_fr_reponse_automatique.eml``,
``corpus/gmail_vacation_responder.eml``), pointed at this test's desk and ticket.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from comptoir.accounts.models import User
from comptoir.core.actor import Actor
from comptoir.mail.models import Mailbox, OutboundMessage
from comptoir.mail.services import receive
from comptoir.sla.models import SlaClock
from comptoir.tickets import services as tickets
from comptoir.tickets.models import Attachment, Comment, EventKind, Ticket, TicketEvent
from tests.factories import PASSWORD
from tests.sla.conftest import PARIS, clock, office, sla_desk  # noqa: F401 (the SLA fixtures)

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(autouse=True)
def _spool(settings, tmp_path):
    settings.COMPTOIR_MAIL_SPOOL_DIR = tmp_path / "mail"


@pytest.fixture
def box(world) -> Mailbox:
    return Mailbox.objects.create(desk=world.desk, address="it@acme.test", name="IT")


def corpus(name: str, *, sender: str, answers: str = "", ref: str = "IT-000042") -> bytes:
    """A corpus message from ``sender`` to the test's mailbox, in answer to our mail
    ``answers`` (its Message-ID), about ``ref``."""
    raw = (CORPUS / name).read_bytes()
    originals = {
        "outlook_fr_reponse_automatique.eml": (
            b"sophie.martin@example.fr",
            b"5d41402abc4b2a76b9719d911017c592.it-000042@example.com",
        ),
        "gmail_vacation_responder.eml": (
            b"rita.vance@gmail.com",
            b"a3f9c2e17b5d4e08.it-000042@example.com",
        ),
        "auto_submitted_auto_replied.eml": (b"rita@example.com", b"ooo@example.com"),
    }
    address, answered = originals[name]
    raw = raw.replace(address, sender.encode()).replace(b"support@example.com", b"it@acme.test")
    if answers:
        raw = raw.replace(answered, answers.encode())
    return raw.replace(b"IT-000042", ref.encode())


def mail(*, sender="requester@acme.test", subject="Printer on fire", headers=None) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "it@acme.test"
    m["Subject"] = subject
    m["Date"] = format_datetime(timezone.now())
    m["Message-ID"] = make_msgid(domain="acme.test")
    for name, value in (headers or {}).items():
        m[name] = value
    m.set_content("The printer on the 3rd floor smokes.")
    return bytes(m)


def agent(world) -> Actor:
    return Actor.for_user(world.agent)


def clocks(ticket: Ticket) -> list[tuple]:
    return list(
        SlaClock.objects.filter(ticket=ticket)
        .order_by("id")
        .values_list("metric", "cycle", "state", "elapsed_seconds", "resumed_at", "due_at")
    )


def test_an_out_of_office_on_a_ticket_waiting_on_the_requester_is_a_note_that_changes_nothing(
    world, box, sla_desk, clock, api
):
    """The French Outlook out-of-office answers the desk's question: the ticket keeps waiting
    on the requester, no SLA cycle starts, nothing is mailed; agents see it, marked automatic."""
    clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=PARIS))  # a Monday, office hours
    ticket = receive(mail(), mailbox=box).ticket
    tickets.transition_ticket(
        actor=agent(world), ticket=ticket, action="wait_for_customer", comment="Which floor?"
    )
    question = OutboundMessage.objects.get(ticket=ticket, kind="waiting")
    ticket.refresh_from_db()
    before = (ticket.status, ticket.first_response_at, clocks(ticket))
    mailed = OutboundMessage.objects.count()
    clock.set(datetime(2026, 12, 7, 10, 20, tzinfo=PARIS))

    answer = receive(
        corpus(
            "outlook_fr_reponse_automatique.eml",
            sender="requester@acme.test",
            answers=question.message_id,
            ref=ticket.ref,
        ),
        mailbox=box,
    )

    assert (answer.status, answer.ticket) == ("processed", ticket)
    assert "automatic reply" in answer.reason.lower()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.first_response_at, clocks(ticket)) == before
    assert ticket.status == "waiting_customer"
    assert OutboundMessage.objects.count() == mailed  # no acknowledgement, no mail at all
    note = Comment.objects.get(pk=answer.comment_id)
    assert not note.public
    assert note.author is None
    assert note.author_label == "Automatic reply from Martin Sophie <requester@acme.test>"
    assert note.body.startswith("Bonjour,\n\nJe suis absente du bureau")
    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    assert (event.kind, event.after["by"]) == (EventKind.NOTE_ADDED, "system")

    seen_by_agent = api(world.agent).get(f"tickets/{ticket.ref}/comments").json()
    automatic = [c for c in seen_by_agent if c["id"] == note.pk]
    assert automatic[0]["author_label"].startswith("Automatic reply from Martin Sophie")
    assert automatic[0]["public"] is False
    seen_by_requester = api(world.requester).get(f"tickets/{ticket.ref}/comments").json()
    assert note.pk not in [c["id"] for c in seen_by_requester]


def test_the_agents_page_shows_the_automatic_reply_as_such(world, box):
    ticket = receive(mail(), mailbox=box).ticket
    ack = OutboundMessage.objects.get(ticket=ticket, kind="acknowledgement")
    receive(
        corpus(
            "gmail_vacation_responder.eml", sender="requester@acme.test", answers=ack.message_id
        ),
        mailbox=box,
    )
    browser = Client()
    assert browser.login(username=world.agent.email, password=PASSWORD)
    page = browser.get(f"/desk/t/{ticket.ref}/").content.decode()
    assert "Automatic reply from Rita Vance &lt;requester@acme.test&gt;" in page
    assert "on vacation until April 7th" in page


def test_a_vacation_responder_does_not_reopen_a_resolved_ticket(world, box):
    ticket = receive(mail(), mailbox=box).ticket
    tickets.resolve_ticket(actor=agent(world), ticket=ticket, resolution="Toner replaced.")
    resolved = OutboundMessage.objects.get(ticket=ticket, kind="resolved")
    mailed = OutboundMessage.objects.count()

    answer = receive(
        corpus(
            "gmail_vacation_responder.eml",
            sender="requester@acme.test",
            answers=resolved.message_id,
        ),
        mailbox=box,
    )

    assert answer.ticket == ticket
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert Ticket.objects.count() == 1  # no new ticket either
    assert OutboundMessage.objects.count() == mailed
    assert Comment.objects.get(pk=answer.comment_id).public is False


def test_a_requester_whose_out_of_office_answered_hears_of_no_change_until_they_write(world, box):
    """Their latest mail on the ticket is automatic: status mails wait for them to write as a
    person again (an agent's reply still goes)."""
    ticket = receive(mail(), mailbox=box).ticket
    receive(
        corpus("auto_submitted_auto_replied.eml", sender="requester@acme.test", ref=ticket.ref),
        mailbox=box,
    )
    tickets.resolve_ticket(actor=agent(world), ticket=ticket, resolution="Toner replaced.")
    assert not OutboundMessage.objects.filter(ticket=ticket, kind="resolved").exists()


def test_an_automatic_reply_on_a_closed_ticket_keeps_its_files_in_the_spool(world, box):
    ticket = receive(mail(), mailbox=box).ticket
    tickets.resolve_ticket(actor=agent(world), ticket=ticket, resolution="Done.")
    tickets.close_ticket(actor=agent(world), ticket=ticket)
    m = EmailMessage()
    m["From"] = "requester@acme.test"
    m["To"] = "it@acme.test"
    m["Subject"] = f"Automatic reply: [{ticket.ref}] Printer on fire"
    m["Message-ID"] = make_msgid(domain="acme.test")
    m["Auto-Submitted"] = "auto-replied"
    m.set_content("I am away.")
    m.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, maintype="image", subtype="png")

    answer = receive(bytes(m), mailbox=box)

    assert (answer.status, answer.ticket) == ("processed", ticket)
    assert "ticket is closed" in answer.reason
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert Comment.objects.get(pk=answer.comment_id).body == "I am away."
    assert not Attachment.objects.filter(ticket=ticket).exists()


def test_an_automatic_reply_to_nothing_opens_no_ticket_and_makes_no_contact(world, box, api):
    answer = receive(
        corpus("auto_submitted_auto_replied.eml", sender="rita@else.test"), mailbox=box
    )

    assert answer.status == "ignored"
    assert "automatic reply" in answer.reason.lower()
    assert not Ticket.objects.exists()
    assert not User.objects.filter(email="rita@else.test").exists()
    assert not OutboundMessage.objects.exists()
    # Kept, with the reason, where the desk's managers look at what came in.
    listed = api(world.manager).get("mail/messages", {"status": "ignored"}).json()
    assert [(m["id"], m["reason"]) for m in listed] == [(answer.pk, answer.reason)]


def test_a_known_persons_vacation_responder_answering_no_ticket_opens_none(world, box):
    answer = receive(
        corpus(
            "gmail_vacation_responder.eml",
            sender="requester@acme.test",
            answers="someone-elses-mail@acme.test",
        ),
        mailbox=box,
    )

    assert answer.status == "ignored"
    assert answer.reason.startswith("An automatic reply (Auto-Submitted: auto-replied)")
    assert not Ticket.objects.exists()


def test_an_automatic_reply_to_a_ticket_the_sender_cannot_see_opens_nothing(world, box):
    ticket = receive(mail(), mailbox=box).ticket
    answer = receive(
        corpus("auto_submitted_auto_replied.eml", sender="outsider@globex.test", ref=ticket.ref),
        mailbox=box,
    )

    assert answer.status == "ignored"
    assert Ticket.objects.count() == 1
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_the_admin_lists_ignored_automatic_replies_with_their_reason(world, box):
    answer = receive(
        corpus("auto_submitted_auto_replied.eml", sender="rita@else.test"), mailbox=box
    )
    browser = Client()
    browser.force_login(world.superuser)
    page = browser.get("/admin/mail/inboundmessage/", {"status__exact": "ignored"})
    assert page.status_code == 200
    assert answer.reason.split(":")[0] in page.content.decode()


def test_a_subject_alone_does_not_drop_a_persons_mail(world, box):
    """ "Absence" may be a person's words to HR: with no automatic header and answering nothing,
    it opens a ticket, unacknowledged in case it was a robot."""
    received = receive(mail(subject="Absence"), mailbox=box)

    assert received.status == "processed"
    assert received.ticket.title == "Absence"
    assert not OutboundMessage.objects.exists()


def test_a_monitoring_alert_still_opens_a_ticket(world, box):
    """``Auto-Submitted: auto-generated`` answering nothing is a robot's report, not a reply."""
    received = receive(mail(headers={"Auto-Submitted": "auto-generated"}), mailbox=box)

    assert received.status == "processed"
    assert received.ticket is not None
    assert not OutboundMessage.objects.exists()
