"""The intake pipeline's costs and guarantees: how many statements a message costs (pinned, so
that they cannot grow back unnoticed), large attachments stored whole without being held in
memory, and what is kept when processing fails part way."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comptoir.mail import spool
from comptoir.mail.matching import find_ticket
from comptoir.mail.models import BouncingAddress, InboundMessage, Mailbox, OutboundMessage
from comptoir.mail.parsing import parse_message
from comptoir.mail.services import receive, retry
from comptoir.tickets.models import Attachment, Comment, Ticket

pytestmark = pytest.mark.django_db

# What one message costs, every statement counted (the transaction's own included), in the
# transaction that records it. A new ticket: the sender's hourly count with the check that the
# message is new, the people (sender and Cc, their organisation and whether they hold a role,
# in one read), their bouncing mark, the ticket (its savepoint, number, row and event, and the
# search index's two statements: the ticket read, its document written), the acknowledgement
# in the outbox, the message's row with its outcome, the mailbox's last mail. A reply: the same
# with the thread (one read of the Message-IDs, one of the ticket, locked, with its requester)
# and the comment (its savepoint, row, event, the ticket's time, the search index's two)
# instead of the ticket and the acknowledgement. Files: one savepoint, one insert of the
# files, one of their events, one update of the ticket, however many files.
NEW_MAIL_STATEMENTS = 15
REPLY_STATEMENTS = 16
FILES_STATEMENTS = 5


@pytest.fixture(autouse=True)
def _spool(settings, tmp_path):
    settings.COMPTOIR_MAIL_SPOOL_DIR = tmp_path / "mail"


@pytest.fixture
def box(world) -> Mailbox:
    return Mailbox.objects.create(desk=world.desk, address="it@acme.test", name="IT")


def message(
    *,
    sender="requester@acme.test",
    subject="Printer on fire",
    body="The printer on the 3rd floor smokes.",
    cc=None,
    headers=None,
    attachments=(),
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "it@acme.test"
    if cc:
        m["Cc"] = cc
    m["Subject"] = subject
    m["Date"] = format_datetime(timezone.now())
    m["Message-ID"] = make_msgid(domain="acme.test")
    for name, value in (headers or {}).items():
        m[name] = value
    m.set_content(body)
    for filename, data, kind in attachments:
        main, sub = kind.split("/")
        m.add_attachment(data, maintype=main, subtype=sub, filename=filename)
    return bytes(m)


def stored_files(settings) -> list:
    root = settings.MEDIA_ROOT
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


# --------------------------------------------------------------------------------------------
# What a message costs


def test_a_plain_new_mail_costs_a_fixed_number_of_statements(
    world, box, django_assert_max_num_queries
):
    receive(message(subject="First"), mailbox=box)

    with django_assert_max_num_queries(NEW_MAIL_STATEMENTS):
        received = receive(message(subject="Second"), mailbox=box)

    assert received.status == "processed"
    assert received.ticket.title == "Second"
    assert OutboundMessage.objects.filter(ticket=received.ticket).count() == 1


def test_a_reply_costs_a_fixed_number_of_statements(world, box, django_assert_max_num_queries):
    opened = receive(message(), mailbox=box).ticket
    reply = message(subject="Re: the printer", headers={"In-Reply-To": f"<{_message_id(opened)}>"})

    with django_assert_max_num_queries(REPLY_STATEMENTS):
        received = receive(reply, mailbox=box)

    assert received.ticket == opened
    assert Comment.objects.filter(ticket=opened).count() == 1


@pytest.mark.parametrize("files", [1, 4])
def test_a_messages_files_cost_the_same_statements_however_many(
    world, box, files, django_assert_num_queries
):
    receive(message(subject="First"), mailbox=box)
    attached = [
        (f"log-{n}.txt", os.urandom(2000), "application/octet-stream") for n in range(files)
    ]

    with django_assert_num_queries(NEW_MAIL_STATEMENTS + FILES_STATEMENTS):
        received = receive(message(subject="Logs", attachments=attached), mailbox=box)

    assert Attachment.objects.filter(ticket=received.ticket).count() == files
    events = received.ticket.events.filter(kind="attachment_added")
    assert sorted(e.after["filename"] for e in events) == [f"log-{n}.txt" for n in range(files)]
    assert {e.after["attachment"] for e in events} == set(
        Attachment.objects.filter(ticket=received.ticket).values_list("pk", flat=True)
    )


def _message_id(ticket: Ticket) -> str:
    return InboundMessage.objects.get(ticket=ticket).message_id


def test_people_in_cc_are_looked_up_together_however_many(world, box):
    def people_lookups(cc: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            receive(message(cc=cc), mailbox=box)
        return sum(  # reads of whole people (the watchers' ids the ticket reads are not)
            1
            for query in captured.captured_queries
            if query["sql"].startswith("SELECT")
            and '"accounts_user"' in query["sql"]
            and '"password"' in query["sql"]
        )

    one = people_lookups("colleague@acme.test")
    three = people_lookups("colleague@acme.test, agent@acme.test, manager@acme.test")

    assert one == three == 1
    watched = Ticket.objects.latest("id").watchers.values_list("email", flat=True)
    assert set(watched) == {"colleague@acme.test", "agent@acme.test", "manager@acme.test"}


def test_a_message_that_refers_to_no_ticket_costs_threading_no_query(
    world, box, django_assert_num_queries
):
    """No In-Reply-To, References, reply address or reference in the subject: the thread is
    not looked for (the ticket it opens is read by other parts, the search index)."""
    receive(message(subject="First"), mailbox=box)
    parsed = parse_message(message(subject="Something new"))

    with django_assert_num_queries(0):
        assert find_ticket(parsed, world.desk.pk, lock=True) is None


# --------------------------------------------------------------------------------------------
# Large attachments


def test_a_large_attachment_is_stored_byte_for_byte(world, box, settings):
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(3 * 1024 * 1024)
    raw = message(attachments=[("screen shot.png", data, "image/png")])

    ticket = receive(raw, mailbox=box).ticket

    (stored,) = Attachment.objects.filter(ticket=ticket)
    assert (stored.filename, stored.content_type, stored.size) == (
        "screen shot.png",
        "image/png",
        len(data),
    )
    with stored.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == stored.sha256
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


def test_a_large_attachment_is_received_without_holding_it_in_memory(world, box):
    data = os.urandom(4 * 1024 * 1024)
    raw = message(attachments=[("dump.bin", data, "application/octet-stream")])
    receive(message(subject="warm-up"), mailbox=box)

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        received = receive(raw, mailbox=box)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()

    assert received.status == "processed"
    assert Attachment.objects.get(ticket=received.ticket).size == len(data)
    # The raw message itself is the caller's; the pipeline adds less than its size (the
    # standard library's parser alone would hold about eight times the message).
    assert peak < len(raw)


def test_the_same_message_with_attachments_twice_stores_its_files_once(world, box, settings):
    raw = message(attachments=[("log.txt", os.urandom(400_000), "application/octet-stream")])

    first = receive(raw, mailbox=box)
    again = receive(raw, mailbox=box)

    assert again.pk == first.pk
    assert Attachment.objects.count() == 1
    assert len(stored_files(settings)) == 1
    assert OutboundMessage.objects.count() == 1


# --------------------------------------------------------------------------------------------
# What is kept when something goes wrong


def test_a_failure_while_sorting_out_keeps_the_message_and_changes_nothing(
    world, box, monkeypatch, settings
):
    from comptoir.tickets import services as tickets

    def broken(**kwargs):
        raise RuntimeError("the ticket service is broken")

    monkeypatch.setattr(tickets, "add_attachments", broken)
    raw = message(attachments=[("log.txt", os.urandom(300_000), "application/octet-stream")])

    failed = receive(raw, mailbox=box)

    assert failed.status == "failed"
    assert "the ticket service is broken" in failed.reason
    assert not Ticket.objects.exists()
    assert not OutboundMessage.objects.exists()
    assert spool.read(failed.spool_path) == raw
    monkeypatch.undo()
    done = retry(failed)
    assert done.status == "processed"
    assert Attachment.objects.filter(ticket=done.ticket).count() == 1


def test_a_failure_after_the_files_were_stored_takes_them_back(world, box, monkeypatch, settings):
    """The files reach storage before the transaction commits: one rolled back by a later
    failure leaves none behind."""
    from comptoir.mail import outbound

    def broken(**kwargs):
        raise RuntimeError("the outbox is broken")

    monkeypatch.setattr(outbound, "compose", lambda **kwargs: broken())
    raw = message(attachments=[("log.txt", os.urandom(300_000), "application/octet-stream")])

    failed = receive(raw, mailbox=box)

    assert failed.status == "failed"
    assert "the outbox is broken" in failed.reason
    assert not Attachment.objects.exists()
    assert stored_files(settings) == []
    monkeypatch.undo()
    assert retry(failed).status == "processed"
    assert len(stored_files(settings)) == 1


def test_a_message_received_again_stops_before_writing_anything(
    world, box, django_assert_max_num_queries
):
    raw = message(attachments=[("log.txt", os.urandom(2000), "application/octet-stream")])
    first = receive(raw, mailbox=box)

    # Its key found with the hourly count (the transaction begun, then rolled back), its row.
    with django_assert_max_num_queries(5):
        again = receive(raw, mailbox=box)

    assert again.pk == first.pk
    assert Ticket.objects.count() == Attachment.objects.count() == 1


def test_a_message_left_received_is_processed_when_it_comes_again(world, box, monkeypatch):
    from django.db import OperationalError

    from comptoir.mail import services

    def busy(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "sort_out", busy)
    raw = message()
    with pytest.raises(OperationalError):
        receive(raw, mailbox=box)
    assert InboundMessage.objects.get().status == "received"
    monkeypatch.undo()

    again = receive(raw, mailbox=box)

    assert again.status == "processed"
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.count() == 1


def test_an_unreadable_message_is_kept_as_failed_once(world, box):
    first = receive(b"\x00\x01 not a mail", mailbox=box)
    again = receive(b"\x00\x01 not a mail", mailbox=box)

    assert first.status == again.status == "failed"
    assert first.pk == again.pk
    assert first.reason


def test_an_address_stops_bouncing_when_it_writes_again(world, box):
    BouncingAddress.objects.create(
        email="requester@acme.test", status="5.1.1", bounces=2, last_bounce_at=timezone.now()
    )

    receive(message(), mailbox=box)

    assert not BouncingAddress.objects.exists()
    assert OutboundMessage.objects.get().to == ["requester@acme.test"]


def test_a_message_the_parser_trips_on_is_kept_as_failed(world, box, monkeypatch):
    from comptoir.mail import services

    def trips(raw, **kwargs):
        raise IndexError("a corner of the standard library")

    monkeypatch.setattr(services, "parse_message", trips)
    raw = message()

    failed = receive(raw, mailbox=box)

    assert failed.status == "failed"
    assert "IndexError" in failed.reason
    assert spool.read(failed.spool_path) == raw
    monkeypatch.undo()
    assert retry(failed).status == "processed"


@pytest.mark.django_db(transaction=True)
def test_the_same_message_through_two_doors_at_once_is_one_ticket(world, settings):
    """Two deliveries of one message racing (an SMTP retry while a poll takes it): the second
    waits on the first's row and finds it; nothing is made twice."""
    import threading

    from django.db import connections

    if connection.vendor != "postgresql":
        pytest.skip("needs two connections to one database: PostgreSQL")
    box = Mailbox.objects.create(desk=world.desk, address="it@acme.test", name="IT")
    raw = message(attachments=[("log.txt", os.urandom(300_000), "application/octet-stream")])
    start = threading.Barrier(2)
    results: list[InboundMessage] = []

    def deliver() -> None:
        try:
            start.wait()
            results.append(receive(raw, mailbox=box))
        finally:
            connections.close_all()

    doors = [threading.Thread(target=deliver) for _ in range(2)]
    for door in doors:
        door.start()
    for door in doors:
        door.join()

    assert [r.status for r in results] == ["processed", "processed"]
    assert results[0].pk == results[1].pk
    assert InboundMessage.objects.count() == Ticket.objects.count() == 1
    assert OutboundMessage.objects.count() == Attachment.objects.count() == 1
    assert len(stored_files(settings)) == 1
