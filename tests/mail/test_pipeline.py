"""The intake pipeline end to end: raw bytes in, a ticket or a reply out, mail back, once."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.core import mail as django_mail
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.mail import spool
from comptoir.mail.delivery import deliver
from comptoir.mail.models import (
    BouncingAddress,
    InboundMessage,
    Mailbox,
    OutboundMessage,
)
from comptoir.mail.services import process_pending, receive
from comptoir.tickets import services as tickets
from comptoir.tickets.models import Comment, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _spool(settings, tmp_path):
    settings.COMPTOIR_MAIL_SPOOL_DIR = tmp_path / "mail"


@pytest.fixture
def box(world) -> Mailbox:
    return Mailbox.objects.create(desk=world.desk, address="it@acme.test", name="IT")


def message(
    *,
    sender="requester@acme.test",
    to="it@acme.test",
    subject="Printer on fire",
    body="The printer on the 3rd floor smokes.",
    cc=None,
    headers=None,
    attachments=(),
    message_id=None,
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    if cc:
        m["Cc"] = cc
    m["Subject"] = subject
    m["Date"] = format_datetime(timezone.now())
    m["Message-ID"] = message_id or make_msgid(domain="acme.test")
    for name, value in (headers or {}).items():
        m[name] = value
    m.set_content(body)
    for filename, data, kind in attachments:
        main, sub = kind.split("/")
        m.add_attachment(data, maintype=main, subtype=sub, filename=filename)
    return bytes(m)


def test_a_mail_opens_a_ticket_and_is_acknowledged(world, box, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        received = receive(message(), mailbox=box)
    assert received.status == "processed"
    ticket = received.ticket
    assert ticket.title == "Printer on fire"
    assert ticket.requester == world.requester
    assert ticket.channel == "email"
    assert "3rd floor smokes" in ticket.description
    ack = OutboundMessage.objects.get(kind="acknowledgement")
    assert ack.to == ["requester@acme.test"]
    assert ack.status == "sent"
    sent = django_mail.outbox[-1]
    assert ticket.ref in sent.subject
    assert sent.extra_headers["Auto-Submitted"] == "auto-replied"
    assert sent.reply_to == [f"it+{ticket.ref}@acme.test"]


def test_the_same_message_twice_is_one_ticket(world, box):
    raw = message()
    first = receive(raw, mailbox=box)
    second = receive(raw, mailbox=box)
    assert first.pk == second.pk
    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.count() == 1


def test_a_reply_threads_by_its_headers(world, box, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        opened = receive(message(message_id="<first@acme.test>"), mailbox=box)
    reply = message(
        subject="something else entirely",
        body="It stopped smoking.\n\nOn Monday, IT wrote:\n> We are on it.",
        headers={"In-Reply-To": "<first@acme.test>", "References": "<first@acme.test>"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        answered = receive(reply, mailbox=box)
    assert answered.ticket == opened.ticket
    comment = Comment.objects.get(pk=answered.comment_id)
    assert comment.body == "It stopped smoking."  # the quoted history is left out


def test_a_reply_to_our_mail_threads_even_without_the_subject(
    world, box, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        opened = receive(message(), mailbox=box)
    ours = OutboundMessage.objects.get(ticket=opened.ticket)
    reply = message(subject="Re:", headers={"In-Reply-To": f"<{ours.message_id}>"})
    assert receive(reply, mailbox=box).ticket == opened.ticket


@pytest.mark.parametrize(
    ("to", "subject"),
    [("it+{ref}@acme.test", "no reference here"), ("it@acme.test", "Re: [{ref}] Printer")],
    ids=["reply-address", "subject"],
)
def test_a_reply_threads_by_address_or_subject(world, box, to, subject):
    opened = receive(message(), mailbox=box).ticket
    reply = message(to=to.format(ref=opened.ref), subject=subject.format(ref=opened.ref))
    assert receive(reply, mailbox=box).ticket == opened


def test_a_reference_to_a_ticket_the_sender_cannot_see_opens_a_new_one(world, box):
    opened = receive(message(), mailbox=box).ticket
    stranger = message(sender="outsider@globex.test", subject=f"[{opened.ref}] let me in")
    result = receive(stranger, mailbox=box)
    assert result.ticket != opened
    assert not Comment.objects.filter(ticket=opened).exists()


def test_a_reply_to_a_resolved_ticket_reopens_it(world, box):
    opened = receive(message(), mailbox=box).ticket
    tickets.resolve_ticket(actor=Actor.for_user(world.agent), ticket=opened, resolution="Fixed.")
    receive(message(subject=f"Re: [{opened.ref}] Printer", body="Still smoking."), mailbox=box)
    opened.refresh_from_db()
    assert opened.status_category == "open"


def test_a_reply_after_the_reopen_window_opens_a_linked_ticket(world, box):
    opened = receive(message(), mailbox=box).ticket
    tickets.resolve_ticket(actor=Actor.for_user(world.agent), ticket=opened, resolution="Fixed.")
    Ticket.objects.filter(pk=opened.pk).update(resolved_at=timezone.now() - timedelta(days=60))
    result = receive(message(subject=f"Re: [{opened.ref}] Printer", body="Again!"), mailbox=box)
    assert result.ticket != opened
    assert result.ticket.links_out.filter(target=opened, kind="related").exists()


def test_cc_people_become_watchers(world, box):
    raw = message(cc="colleague@acme.test, New Person <new.person@acme.test>, it@acme.test")
    ticket = receive(raw, mailbox=box).ticket
    watchers = set(ticket.watchers.values_list("email", flat=True))
    assert watchers == {"colleague@acme.test", "new.person@acme.test"}


def test_an_unknown_sender_becomes_a_contact_of_their_domain(world, box):
    world.requester.organisation.email_domains = ["acme.test"]
    world.requester.organisation.save()
    ticket = receive(message(sender="Zoé <zoe@acme.test>"), mailbox=box).ticket
    assert ticket.requester.email == "zoe@acme.test"
    assert ticket.requester.display_name == "Zoé"
    assert ticket.requester.organisation == world.requester.organisation
    assert not ticket.requester.has_usable_password()


def test_a_mailbox_that_refuses_strangers_keeps_their_mail_and_opens_nothing(world, box):
    box.accept_unknown_senders = False
    box.save()
    result = receive(message(sender="zoe@elsewhere.test"), mailbox=box)
    assert result.status == "ignored"
    assert not Ticket.objects.exists()
    assert spool.read(result.spool_path).startswith(
        b"From:"
    ) or b"zoe@elsewhere.test" in spool.read(result.spool_path)


def test_a_deactivated_account_s_mail_is_kept_and_opens_nothing(world, box):
    world.colleague.is_active = False
    world.colleague.save()
    result = receive(message(sender=world.colleague.email.upper()), mailbox=box)
    assert result.status == "ignored"
    assert "deactivated" in InboundMessage.objects.get().reason
    assert not Ticket.objects.exists()
    assert not OutboundMessage.objects.exists()  # no acknowledgement either


def test_a_deactivated_account_in_cc_does_not_become_a_watcher(world, box):
    world.colleague.is_active = False
    world.colleague.save()
    ticket = receive(message(cc=world.colleague.email), mailbox=box).ticket
    assert ticket is not None
    assert not ticket.watchers.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-generated"},  # a monitoring system's alert
        {"Precedence": "bulk"},
        {"X-Auto-Response-Suppress": "All"},
    ],
)
def test_no_acknowledgement_is_sent_to_an_automatic_message(world, box, headers):
    result = receive(message(headers=headers), mailbox=box)
    assert result.ticket is not None
    assert not OutboundMessage.objects.exists()


def test_our_own_mail_coming_back_is_not_a_ticket(world, box):
    result = receive(message(headers={"X-Loop": "comptoir"}), mailbox=box)
    assert result.status == "ignored"
    assert not Ticket.objects.exists()


def test_a_flood_from_one_sender_is_stopped(world, box, settings):
    settings.COMPTOIR_MAIL_RATE_LIMIT = 3
    results = [receive(message(subject=f"spam {n}"), mailbox=box) for n in range(5)]
    assert [r.status for r in results] == ["processed"] * 3 + ["ignored"] * 2
    assert Ticket.objects.count() == 3


def test_a_delivery_report_marks_the_address_and_opens_nothing(world, box):
    report = (
        b"From: MAILER-DAEMON@mx.acme.test\r\nTo: it@acme.test\r\nSubject: Undelivered\r\n"
        b"Message-ID: <dsn1@mx.acme.test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.test\r\n\r\n"
        b"Final-Recipient: rfc822; gone@acme.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--b--\r\n"
    )
    result = receive(report, mailbox=box)
    assert result.status == "ignored"
    assert BouncingAddress.objects.filter(email="gone@acme.test").exists()
    assert not Ticket.objects.exists()


def test_attachments_arrive_with_safe_names(world, box):
    raw = message(
        attachments=[
            ("../../etc/passwd", b"root:x:0:0", "text/plain"),
            ("screenshot.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
        ]
    )
    ticket = receive(raw, mailbox=box).ticket
    names = sorted(ticket.attachments.values_list("filename", flat=True))
    assert "screenshot.png" in names
    assert all("/" not in n and ".." not in n for n in names)


def test_an_agent_reply_goes_out_threaded(world, box, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        opened = receive(message(message_id="<start@acme.test>"), mailbox=box).ticket
    with django_capture_on_commit_callbacks(execute=True):
        tickets.add_comment(actor=Actor.for_user(world.agent), ticket=opened, body="On my way.")
    reply = OutboundMessage.objects.get(kind="reply")
    assert reply.to == ["requester@acme.test"]
    assert reply.in_reply_to  # the conversation so far
    assert "start@acme.test" in reply.references
    sent = django_mail.outbox[-1]
    assert sent.extra_headers["In-Reply-To"].startswith("<")
    assert "On my way." in sent.body
    assert "Auto-Submitted" not in sent.extra_headers  # a person's words


def test_a_reply_goes_to_the_requester_and_active_watchers_signed_by_its_author(world, box):
    opened = receive(message(), mailbox=box).ticket
    world.colleague.is_active = False
    world.colleague.save()
    tickets.update_ticket(
        actor=Actor.for_user(world.agent),
        ticket=opened,
        changes={"watchers": [world.colleague, world.manager, world.agent]},
    )
    world.agent.display_name = "Alex Dupont"
    world.agent.save()

    tickets.add_comment(actor=Actor.for_user(world.agent), ticket=opened, body="On my way.")

    sent = OutboundMessage.objects.filter(ticket=opened, kind="reply")
    # Not to the watcher whose account is closed, nor back to the agent who wrote it.
    assert sorted(m.to[0] for m in sent) == ["manager@acme.test", "requester@acme.test"]
    assert all("On my way." in m.body and "Alex Dupont, IT" in m.body for m in sent)
    assert all(m.subject.endswith(f"[{opened.ref}] {opened.title}") for m in sent)


def test_the_conversation_is_chained_in_the_order_it_happened(world, box):
    """The requester's message came in before our acknowledgement answered it: an agent's
    reply answers the acknowledgement and lists both, in that order."""
    opened = receive(message(message_id="<asked@acme.test>"), mailbox=box).ticket
    ack = OutboundMessage.objects.get(ticket=opened, kind="acknowledgement")
    tickets.add_comment(actor=Actor.for_user(world.agent), ticket=opened, body="On my way.")

    reply = OutboundMessage.objects.get(ticket=opened, kind="reply")
    assert reply.in_reply_to == ack.message_id
    assert reply.references.split() == ["asked@acme.test", ack.message_id]


def test_a_long_conversation_names_its_latest_twenty_messages_oldest_first(world, box):
    opened = receive(message(message_id="<asked@acme.test>"), mailbox=box).ticket
    agent = Actor.for_user(world.agent)
    for n in range(24):
        tickets.add_comment(actor=agent, ticket=opened, body=f"Step {n}.")
    sent = list(
        OutboundMessage.objects.filter(ticket=opened).order_by("id").values_list("message_id")
    )
    earlier = ["asked@acme.test", *(mid for (mid,) in sent)]  # the acknowledgement, 24 replies
    tickets.add_comment(actor=agent, ticket=opened, body="Done.")

    last = OutboundMessage.objects.filter(ticket=opened).latest("id")
    assert last.references.split() == earlier[-20:]
    assert last.in_reply_to == earlier[-1]


def test_an_internal_note_sends_nothing(world, box):
    opened = receive(message(), mailbox=box).ticket
    before = OutboundMessage.objects.count()
    tickets.add_comment(actor=Actor.for_user(world.agent), ticket=opened, body="hm", public=False)
    assert OutboundMessage.objects.count() == before


def test_a_failed_send_is_retried_later(world, box, monkeypatch):
    opened = receive(message(), mailbox=box).ticket
    row = OutboundMessage.objects.get(ticket=opened)

    class Down:
        def send_messages(self, messages):
            raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("comptoir.mail.delivery.get_connection", lambda: Down())
    assert deliver() == 0
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "down" in row.last_error
    assert row.next_attempt_at > timezone.now()
    monkeypatch.undo()
    assert deliver(now=row.next_attempt_at) == 1
    row.refresh_from_db()
    assert row.status == "sent"


def test_a_message_left_half_way_is_processed_once_later(world, box, monkeypatch):
    from comptoir.mail import services

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies in the middle

    monkeypatch.setattr(services, "sort_out", crash)
    with pytest.raises(KeyboardInterrupt):
        receive(message(), mailbox=box)
    assert InboundMessage.objects.get().status == "received"
    assert not Ticket.objects.exists()
    monkeypatch.undo()
    assert process_pending(older_than=timedelta(0)) == 1
    assert process_pending(older_than=timedelta(0)) == 0
    assert Ticket.objects.count() == 1


def test_an_unparseable_message_is_kept_and_marked_failed(world, box):
    result = receive(b"\x00\x01 not a mail at all", mailbox=box)
    assert result.status == "failed"
    assert result.reason
    assert spool.read(result.spool_path) == b"\x00\x01 not a mail at all"


def test_a_watcher_replying_to_a_resolved_ticket_opens_a_linked_one(world, box):
    opened = receive(message(), mailbox=box).ticket
    tickets.update_ticket(
        actor=Actor.for_user(world.agent), ticket=opened, changes={"watchers": [world.colleague]}
    )
    tickets.resolve_ticket(actor=Actor.for_user(world.agent), ticket=opened, resolution="Fixed.")
    reply = message(sender="colleague@acme.test", subject=f"Re: [{opened.ref}] Printer")
    result = receive(reply, mailbox=box)
    assert result.status == "processed"
    opened.refresh_from_db()
    assert opened.status == "resolved"  # not theirs to reopen
    assert result.ticket != opened
    assert result.ticket.links_out.filter(target=opened).exists()


def test_a_busy_database_leaves_the_message_for_a_later_try(world, box, monkeypatch):
    from django.db import OperationalError

    from comptoir.mail import services

    def busy(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "sort_out", busy)
    with pytest.raises(OperationalError):
        receive(message(), mailbox=box)
    assert InboundMessage.objects.get().status == "received"
    monkeypatch.undo()
    assert process_pending(older_than=timedelta(0)) == 1
    assert InboundMessage.objects.get().status == "processed"


def test_a_folded_message_id_is_still_one_message(world, box):
    raw = message(message_id="<folded-1@outlook.test>")
    folded = raw.replace(
        b"Message-ID: <folded-1@outlook.test>", b"Message-ID:\r\n <folded-1@outlook.test>"
    )
    assert folded != raw
    first = receive(folded, mailbox=box)
    again = receive(b"Received: from relay.test\r\n" + folded, mailbox=box)
    assert first.pk == again.pk
    assert first.message_id == "folded-1@outlook.test"
    reply = message(subject="Re:", headers={"In-Reply-To": "<folded-1@outlook.test>"})
    assert receive(reply, mailbox=box).ticket == first.ticket


def test_the_acknowledgement_answers_the_incoming_message(world, box):
    receive(message(message_id="<orig.1@acme.test>"), mailbox=box)
    ack = OutboundMessage.objects.get(kind="acknowledgement")
    assert ack.in_reply_to == "orig.1@acme.test"
    assert "orig.1@acme.test" in ack.references.split()


def test_a_title_is_kept_on_one_line(world, box):
    ticket = receive(message(subject="=?utf-8?q?Broken=0D=0ABcc=3A_evil=40x?="), mailbox=box).ticket
    assert "\n" not in ticket.title and "\r" not in ticket.title


def test_half_written_spool_files_are_swept_once_old(world, settings):
    import os
    import time

    folder = spool.spool_root() / "ab"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".ab12.x.tmp", folder / ".ab34.y.tmp"
    stale.write_bytes(b"From: half")
    fresh.write_bytes(b"From: still writing")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert spool.remove_stale_temporaries() == 1
    assert not stale.exists() and fresh.exists()
