"""Outbound mail through a real SMTP server: what a mail client receives, and when it goes out.

An ``aiosmtpd`` server on a free loopback port keeps every message it is given (the bytes on the
wire and the envelope's recipients); Django's SMTP backend talks to it. Each test sends with
``comptoir.mail.delivery.deliver``, the function the worker runs.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.utils import timezone

from comptoir.core.actor import Actor, Channel
from comptoir.mail.delivery import deliver
from comptoir.mail.models import Mailbox, OutboundMessage
from comptoir.mail.services import receive
from comptoir.tickets import services as tickets

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(world) -> Mailbox:
    return Mailbox.objects.create(desk=world.desk, address="it@acme.test", name="IT")


def incoming(*, subject="Printer on fire", message_id=None) -> bytes:
    m = EmailMessage()
    m["From"] = "Rachel Requester <requester@acme.test>"
    m["To"] = "it@acme.test"
    m["Subject"] = subject
    m["Date"] = format_datetime(timezone.now())
    m["Message-ID"] = message_id or make_msgid(domain="acme.test")
    m.set_content("The printer on the 3rd floor smokes.")
    return bytes(m)


def test_a_mail_that_opens_a_ticket_is_acknowledged_over_smtp(world, box, sink):
    ticket = receive(incoming(), mailbox=box).ticket
    row = OutboundMessage.objects.get(ticket=ticket, kind="acknowledgement")

    assert deliver() == 1

    [(recipients, _)] = sink.received
    assert recipients == ["requester@acme.test"]
    [ack] = sink.messages()
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Loop"] == "comptoir"
    assert ack["X-Auto-Response-Suppress"] == "All"
    assert f"[{ticket.ref}]" in ack["Subject"]
    assert ack["Reply-To"] == f"it+{ticket.ref}@acme.test"
    assert ack["From"].addresses[0].addr_spec == "it@acme.test"
    assert ack["To"] == "requester@acme.test"
    assert ack["Message-ID"] == f"<{row.message_id}>"
    assert ticket.ref in ack.get_content()
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)
    assert deliver() == 0  # sent once
    assert len(sink.received) == 1


def test_an_agents_public_reply_arrives_threaded_on_the_original_message(world, box, sink):
    ticket = receive(incoming(message_id="<start.1@acme.test>"), mailbox=box).ticket
    ack = OutboundMessage.objects.get(ticket=ticket, kind="acknowledgement")
    assert deliver() == 1

    tickets.add_comment(actor=Actor.for_user(world.agent), ticket=ticket, body="On my way.")
    row = OutboundMessage.objects.get(ticket=ticket, kind="reply")
    assert deliver() == 1

    reply = sink.messages()[-1]
    assert reply["Message-ID"] == f"<{row.message_id}>"
    # The answer goes under the latest mail of the conversation (the acknowledgement), and its
    # References name the whole conversation from the requester's first message on.
    assert reply["In-Reply-To"] == f"<{ack.message_id}>"
    assert reply["References"].split() == ["<start.1@acme.test>", f"<{ack.message_id}>"]
    assert reply["Subject"] == f"Re: [{ticket.ref}] Printer on fire"
    assert reply["X-Loop"] == "comptoir"
    assert "Auto-Submitted" not in reply  # a person's words
    assert reply["Reply-To"] == f"it+{ticket.ref}@acme.test"
    assert "On my way." in reply.get_content()
    assert sink.received[-1][0] == ["requester@acme.test"]


def test_a_title_with_a_line_break_cannot_add_a_header(world, box, sink):
    requester = Actor.for_user(world.requester, Channel.WEB)
    ticket = tickets.create_ticket(
        actor=requester,
        desk=world.desk,
        kind="incident",
        title="Printer on fire\r\nBcc: evil@x",
    )
    # The service keeps the words (today with the line break as typed) ...
    assert ticket.title.split() == ["Printer", "on", "fire", "Bcc:", "evil@x"]
    tickets.add_comment(actor=Actor.for_user(world.agent), ticket=ticket, body="Looking.")
    assert deliver() == 1

    # ... and the mail about it carries it on one line, in the Subject alone.
    [(recipients, content)] = sink.received
    assert recipients == ["requester@acme.test"]
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    assert [line for line in head.splitlines() if line.lower().startswith(b"bcc")] == []
    [sent] = sink.messages()
    assert "Bcc" not in sent
    assert len(sent.get_all("Subject")) == 1
    assert sent["Subject"] == f"Re: [{ticket.ref}] Printer on fire Bcc: evil@x"
    assert "\r" not in sent["Subject"] and "\n" not in sent["Subject"]


def test_a_mail_that_cannot_be_sent_waits_and_goes_out_once_later(world, box, sink):
    ticket = receive(incoming(), mailbox=box).ticket
    row = OutboundMessage.objects.get(ticket=ticket, kind="acknowledgement")
    sink.stop()

    assert deliver() == 0
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error
    assert row.next_attempt_at > timezone.now()
    assert deliver() == 0  # not due yet: no second attempt
    row.refresh_from_db()
    assert row.attempts == 1

    sink.start()
    assert deliver() == 0  # still not due
    assert deliver(now=row.next_attempt_at) == 1
    assert deliver(now=row.next_attempt_at) == 0
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert len(sink.received) == 1
    assert sink.messages()[0]["Message-ID"] == f"<{row.message_id}>"
