"""The ticket documents in partitions by ticket id, on PostgreSQL (``fulltext.PARTITION``)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from comptoir.core.actor import Actor
from comptoir.search import fulltext, selectors
from comptoir.search.models import TicketDocument
from comptoir.tickets.models import Ticket
from comptoir.tickets.services import add_comment
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite keeps one FTS5 table"
)
PARTITION = fulltext.PARTITION


def refs(user, text: str) -> list[str]:
    return [hit.ticket.ref for hit in selectors.search(Actor.for_user(user), text).tickets]


@pytest.fixture
def next_ticket_id():
    """Sets the id the next ticket gets; the sequence is put back after the test (a sequence
    is not rolled back with the test's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('tickets_ticket', 'id')")
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608
        before = cursor.fetchone()

    def start(at: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(%s, %s, false)", [sequence, at])

    yield start
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(%s, %s, %s)", [sequence, *before])


def partitions() -> set[int]:
    with connection.cursor() as cursor:
        return fulltext.pg_partitions(cursor)


def partition_holding(ticket: Ticket) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {fulltext.TICKETS.table} "  # noqa: S608
            "WHERE ticket_id = %s",
            [ticket.pk],
        )
        return cursor.fetchone()[0]


@postgresql_only
def test_a_ticket_past_the_last_partition_gets_its_own_and_the_next_is_made_ahead(
    world, next_ticket_id
):
    first = make_ticket(desk=world.desk, requester=world.requester, title="Toner low")
    assert partitions() >= {first.pk // PARTITION, first.pk // PARTITION + 1}
    beyond = max(partitions()) + 3  # a gap: tickets imported with their own numbers
    next_ticket_id(beyond * PARTITION + 7)
    far = make_ticket(desk=world.desk, requester=world.requester, title="Toner empty")
    assert far.pk == beyond * PARTITION + 7
    assert partition_holding(far) == fulltext.partition_name(beyond)
    assert {beyond, beyond + 1} <= partitions()
    assert beyond - 1 not in partitions()  # only what is needed, not every one between
    assert set(refs(world.agent, "toner")) == {first.ref, far.ref}
    # A reply's words reach it (an update of its row), and the age windows find it.
    add_comment(actor=Actor.for_user(world.agent), ticket=far, body="Cartouche commandée.")
    assert refs(world.agent, "cartouche") == [far.ref]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT vector::text FROM {fulltext.TICKETS.table} WHERE ticket_id = %s",  # noqa: S608
            [far.pk],
        )
        vector = cursor.fetchone()[0]
    assert f"'{fulltext.age_token(0, far.pk // fulltext.AGES[0])}'" in vector


@postgresql_only
def test_a_partition_made_by_a_write_rolled_back_is_made_again(world, next_ticket_id):
    beyond = max(partitions()) + 2
    next_ticket_id(beyond * PARTITION)
    with pytest.raises(RuntimeError), transaction.atomic():
        make_ticket(desk=world.desk, requester=world.requester, title="Badge lost")
        assert beyond in partitions()
        raise RuntimeError("the request failed after the ticket was written")
    assert beyond not in partitions()
    next_ticket_id(beyond * PARTITION + 1)
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Badge lost")
    assert partition_holding(ticket) == fulltext.partition_name(beyond)
    assert refs(world.agent, "badge") == [ticket.ref]


@postgresql_only
def test_a_rebuild_makes_the_partitions_its_documents_need(world, next_ticket_id):
    """A database whose tickets came without their documents (``comptoir db copy``)."""
    beyond = max(partitions()) + 2
    next_ticket_id(beyond * PARTITION + 50)
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Docking station")
    TicketDocument.objects.all().delete()
    with connection.cursor() as cursor:
        for number in (beyond, beyond + 1):
            cursor.execute(f"DROP TABLE {fulltext.partition_name(number)}")
    fulltext.forget_partitions()
    call_command("search", "rebuild", "--quiet", "--only", "tickets")
    assert partition_holding(ticket) == fulltext.partition_name(beyond)
    assert refs(world.agent, "docking") == [ticket.ref]


@postgresql_only
def test_the_upgrade_to_partitions_keeps_every_document_as_it_was(world, next_ticket_id):
    """Migration ``search.0009``: the table made again partitioned, the rows copied with their
    vectors; searches find the same tickets, and writes go on as before. Its undoing too."""
    old = make_ticket(desk=world.desk, requester=world.requester, title="Printer jammed")
    add_comment(actor=Actor.for_user(world.agent), ticket=old, body="Roller", public=False)
    next_ticket_id((max(partitions()) + 4) * PARTITION + 3)
    new = make_ticket(desk=world.desk, requester=world.requester, title="Printer offline")

    def documents() -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT ticket_id, ref, title, body, notes, vector::text "  # noqa: S608
                f"FROM {fulltext.TICKETS.table} ORDER BY ticket_id"
            )
            return cursor.fetchall()

    def layout() -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relkind FROM pg_class WHERE oid = %s::regclass", ["search_ticketdocument"]
            )
            return cursor.fetchone()[0]

    before, found = documents(), set(refs(world.agent, "printer"))
    assert found == {old.ref, new.ref}
    with connection.cursor() as cursor:
        fulltext.pg_unpartition_tickets(cursor)
    assert layout() == "r" and documents() == before
    assert set(refs(world.agent, "printer")) == found
    with connection.cursor() as cursor:
        fulltext.pg_partition_tickets(cursor)
    assert layout() == "p" and documents() == before
    assert partitions() >= {old.pk // PARTITION, new.pk // PARTITION, new.pk // PARTITION + 1}
    assert set(refs(world.agent, "printer")) == found
    assert refs(world.agent, "roller") == [old.ref]
    assert refs(world.requester, "roller") == []  # a note's words stay the staff's
    # The triggers are back: a new ticket and a reply are indexed.
    newer = make_ticket(desk=world.desk, requester=world.requester, title="Printer toner")
    add_comment(actor=Actor.for_user(world.agent), ticket=newer, body="Drum replaced")
    assert refs(world.agent, "drum") == [newer.ref]
    assert partition_holding(newer) == fulltext.partition_name(newer.pk // PARTITION)


def test_a_deleted_ticket_takes_its_document_with_it(world):
    """The documents hold no foreign key in the database (``models.TicketDocument``): the
    ORM deletes a ticket's document with the ticket, on every engine."""
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Webcam frozen")
    kept = make_ticket(desk=world.desk, requester=world.requester, title="Webcam blurred")
    assert set(refs(world.agent, "webcam")) == {ticket.ref, kept.ref}
    Ticket.objects.filter(pk=ticket.pk).delete()
    assert not TicketDocument.objects.filter(ticket_id=ticket.pk).exists()
    assert refs(world.agent, "webcam") == [kept.ref]
