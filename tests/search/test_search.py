"""Full-text search over tickets and people, on the database under test (SQLite or PostgreSQL)."""

from __future__ import annotations

import io
import re
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comptoir.accounts.models import Organisation
from comptoir.core.actor import Actor
from comptoir.search import fulltext, indexing, selectors
from comptoir.search.models import PersonDocument, TicketDocument
from comptoir.search.query import read
from comptoir.tickets.services import add_comment, update_ticket
from tests.factories import CategoryFactory, TeamFactory, UserFactory, make_ticket

pytestmark = pytest.mark.django_db


def refs(actor_user, text, **kwargs) -> list[str]:
    actor = actor_user if isinstance(actor_user, Actor) else Actor.for_user(actor_user)
    return [hit.ticket.ref for hit in selectors.search(actor, text, **kwargs).tickets]


@pytest.fixture
def corpus(world):
    """A small hand-made set of tickets of the requester, on the world's desk.

    The requester's organisation keeps its tickets to each requester (the default shares them).
    """
    Organisation.objects.update(members_see_all_tickets=False)
    for person in (world.requester, world.colleague, world.other_agent, world.agent):
        person.refresh_from_db()
    make = lambda title, description="": make_ticket(  # noqa: E731
        desk=world.desk, requester=world.requester, title=title, description=description
    )
    return {
        "reseau": make("Panne reseau au deuxième étage", "Plus rien ne passe."),
        "reseaux": make("Réseaux lents le matin", "Les pages mettent une minute."),
        "printer": make("Imprimante bloquée", "L'imprimante du couloir affiche une erreur."),
        "vpn": make("VPN drops every hour", "The VPN client disconnects; printer works."),
    }


# --- words --------------------------------------------------------------------------------------


def test_accents_and_plurals_are_ignored(world, corpus):
    for text in ("réseau", "reseau", "RÉSEAU"):
        found = refs(world.agent, text)
        assert set(found) == {corpus["reseau"].ref, corpus["reseaux"].ref}, text


def test_a_prefix_finds_the_word(world, corpus):
    assert refs(world.agent, "imprim") == [corpus["printer"].ref]


def test_every_word_must_match(world, corpus):
    assert refs(world.agent, "vpn hour") == [corpus["vpn"].ref]
    assert refs(world.agent, "vpn imprimante") == []


def test_a_title_match_ranks_above_a_body_match(world, corpus):
    both = make_ticket(
        desk=world.desk, requester=world.requester, title="Printer jammed", description="Paper."
    )
    found = refs(world.agent, "printer")
    assert found[0] == both.ref
    assert corpus["vpn"].ref in found  # "printer" is only in its description


def test_a_reference_finds_its_ticket_first(world, corpus):
    target = corpus["vpn"]
    results = selectors.search(Actor.for_user(world.agent), target.ref.lower())
    assert results.tickets[0].ticket == target
    assert results.tickets[0].exact
    assert refs(world.agent, str(target.number)) == [target.ref]


@pytest.mark.parametrize(
    ("text", "finds"),
    [
        ('"', False),
        ('"vpn', True),
        ("vpn*", True),
        ("vpn -hour", True),  # not a NOT: both words
        ("NEAR(vpn hour)", False),  # "near" is a word the ticket lacks
        ("title:vpn", False),  # "title" too: no column filter
        ("vpn OR nothing", False),  # not an OR
        ("{title}: vpn", False),
        ("vpn' OR 1=1 --", False),
        ("vpn & | ! <-> :*", True),
        ("vpn:*AB", False),  # "ab" is a word the ticket lacks
        ("vpn " + "x" * 10_000, False),
    ],
)
def test_query_syntax_is_read_as_text(world, corpus, text, finds):
    found = refs(world.agent, text)
    assert (corpus["vpn"].ref in found) is finds
    assert found == refs(world.agent, " ".join(read(text).words))


@pytest.mark.parametrize(
    "text",
    [
        "srv-print01.acme.local",
        "10.20.0.15",
        "rapport_final.pdf",
        "\\\\files\\compta",
        "jean.dupont@fournisseur.example",
        "https://intranet.acme.test/conges",
    ],
)
def test_a_host_an_address_or_a_file_name_finds_its_ticket(world, text):
    """Typed as they appear in the text, whole or in part: on PostgreSQL too, whose parser
    would otherwise keep each as one word the split query never matches."""
    ticket = make_ticket(
        desk=world.desk,
        requester=world.requester,
        title="Accès impossible",
        description=f"Depuis ce matin, {text} ne répond plus.",
    )
    make_ticket(desk=world.desk, requester=world.requester, title="Accès lent", description="Lent.")
    assert refs(world.agent, text) == [ticket.ref]
    assert refs(world.agent, read(text).words[-1]) == [ticket.ref]


def test_a_ticket_is_found_by_its_requesters_address(world):
    requester = UserFactory(email="jeanne.roux@acme.test", display_name="Jeanne Roux")
    ticket = make_ticket(desk=world.desk, requester=requester, title="Écran noir")
    assert refs(world.agent, "jeanne.roux@acme.test") == [ticket.ref]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_text_is_searched_without_an_error(world, corpus, text):
    """Whatever is typed (other scripts, combining marks, symbols), the engine is handed single
    words it reads as such: never a phrase, which the index's detail cannot answer."""
    for person in (world.agent, world.requester):
        found = refs(person, text)
        assert set(found) <= {ticket.ref for ticket in corpus.values()}


def test_a_huge_query_is_cut_not_refused(world, corpus, api):
    response = api(world.agent).get("search", {"q": "vpn " + "word " * 3000})
    assert response.status_code == 200
    assert len(response.json()["words"]) <= 12


# --- keeping up with changes ------------------------------------------------------------------


def test_replies_and_title_changes_are_found_at_once(world, corpus):
    ticket = corpus["vpn"]
    add_comment(actor=Actor.for_user(world.agent), ticket=ticket, body="Swapped the dongle.")
    assert refs(world.requester, "dongle") == [ticket.ref]
    update_ticket(actor=Actor.for_user(world.agent), ticket=ticket, changes={"title": "Tunnel"})
    assert refs(world.agent, "tunnel") == [ticket.ref]
    assert refs(world.agent, "drops") == []


def test_a_rolled_back_ticket_leaves_no_words(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_ticket(desk=world.desk, requester=world.requester, title="Phantom keyboard")
        raise RuntimeError
    assert refs(world.agent, "phantom") == []
    assert not TicketDocument.objects.exists()


def test_rebuild_restores_the_index(world, corpus):
    TicketDocument.objects.all().delete()
    assert refs(world.agent, "vpn") == []
    call_command("search", "rebuild", "--quiet", "--batch-size", "2")
    assert refs(world.agent, "vpn") == [corpus["vpn"].ref]
    assert TicketDocument.objects.count() == 4


def test_rebuild_shows_its_progress_kind_by_kind(world, corpus):
    out = io.StringIO()
    call_command("search", "rebuild", "--only", "tickets", "--batch-size", "2", stdout=out)
    lines = out.getvalue().splitlines()
    # Not a terminal: a line at each tenth reached, then the total.
    assert lines[0].startswith("tickets  [" + "#" * 15 + "." * 15 + "] 2/4 ")
    assert lines[1].startswith("tickets  [" + "#" * 30 + "] 4/4 ")
    assert re.fullmatch(r"tickets: 4 indexed in [\d.]+ s \([\d,]+/s\)\.", lines[2])


def test_rebuild_in_large_batches_keeps_replies_notes_and_watchers(world):
    """Batches of 50 tickets and more read the conversation by id range."""
    agent = Actor.for_user(world.agent)
    tickets = [
        make_ticket(desk=world.desk, requester=world.requester, title=f"Laptop {n}")
        for n in range(60)
    ]
    add_comment(actor=agent, ticket=tickets[0], body="Replaced the hinge.")
    add_comment(actor=agent, ticket=tickets[-1], body="Warranty expired.", public=False)
    tickets[30].watchers.add(world.colleague)
    TicketDocument.objects.all().delete()
    call_command("search", "rebuild", "--quiet", "--only", "tickets", "--batch-size", "100")
    assert refs(world.agent, "hinge") == [tickets[0].ref]
    assert refs(world.agent, "warranty") == [tickets[-1].ref]
    assert TicketDocument.objects.get(ticket_id=tickets[30].pk).scope.endswith(
        f"w{world.colleague.pk}"
    )


def _documents() -> dict[int, tuple]:
    return {
        d.ticket_id: (d.title, d.body, d.notes, d.people, d.scope)
        for d in TicketDocument.objects.all()
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="several connections at once")
@pytest.mark.django_db(transaction=True)
def test_rebuild_in_several_jobs_writes_every_document_once(world):
    """Each job writes its own run of ids on its own connection; together they write what
    one job writes, no ticket missed or written twice."""
    agent = Actor.for_user(world.agent)
    tickets = [
        make_ticket(desk=world.desk, requester=world.requester, title=f"Dock {n}")
        for n in range(23)
    ]
    add_comment(actor=agent, ticket=tickets[0], body="Replaced the dock.")
    add_comment(actor=agent, ticket=tickets[22], body="Firmware flashed.", public=False)
    tickets[11].watchers.add(world.colleague)
    call_command("search", "rebuild", "--quiet", "--only", "tickets", "--jobs", "1")
    expected = _documents()
    assert len(expected) == 23 and "w" in expected[tickets[11].pk][-1]
    TicketDocument.objects.all().delete()
    out = io.StringIO()
    call_command(
        "search", "rebuild", "--only", "tickets", "--batch-size", "4", "--jobs", "3", stdout=out
    )
    assert _documents() == expected
    assert out.getvalue().splitlines()[-1].startswith("tickets: 23 indexed in ")
    assert refs(world.agent, "firmware") == [tickets[22].ref]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="several connections at once")
@pytest.mark.django_db(transaction=True)
def test_jobs_adding_the_same_new_words_at_once_never_deadlock(world):
    """Each job's batch adds the lexicon words new to it. Added row by row, two batches that
    share new words in opposite orders took them in a ring, and PostgreSQL killed one job with
    "deadlock detected"; added once per statement, in order, one batch waits for the other."""
    vocabulary = [f"zq{n:02d}x" for n in range(40)]
    for n in range(80):  # the first job's rows take the words one way, the second's the other
        word = vocabulary[n] if n < 40 else vocabulary[79 - n]
        make_ticket(desk=world.desk, requester=world.requester, title=f"Rack {word}")
    for attempt in range(5):
        TicketDocument.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {fulltext.LEXICON} WHERE word LIKE 'zq%%'")  # noqa: S608
        call_command(
            "search", "rebuild", "--quiet", "--only", "tickets", "--batch-size", "40", "--jobs", "2"
        )
        assert TicketDocument.objects.count() == 80, attempt
    assert len(refs(world.agent, "zq07x")) == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="several connections at once")
@pytest.mark.django_db(transaction=True)
def test_a_job_that_fails_stops_the_others_and_the_rebuild_says_why(world, monkeypatch):
    for n in range(30):
        make_ticket(desk=world.desk, requester=world.requester, title=f"Hub {n}")
    TicketDocument.objects.all().delete()
    from comptoir.tickets.models import Ticket

    [(_, cut), _] = indexing._id_runs(Ticket, Ticket.objects.count(), 2)
    failed, write = threading.Event(), indexing._rewrite

    def rewrite(model, documents):
        if min(d.ticket_id for d in documents) > cut:  # the second job: the disk is full
            failed.set()
            raise OSError("No space left on device")
        failed.wait(5)
        time.sleep(0.2)  # the rebuild has heard of the failure by now
        write(model, documents)

    monkeypatch.setattr(indexing, "_rewrite", rewrite)
    with pytest.raises(OSError, match="No space left"):
        indexing.rebuild("tickets", batch_size=2, jobs=2)
    assert TicketDocument.objects.count() <= 4  # of the first job's 15: it stopped


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's single writer")
def test_rebuild_in_several_jobs_is_refused_on_sqlite(world, corpus):
    with pytest.raises(CommandError, match="--jobs above 1 needs PostgreSQL"):
        call_command("search", "rebuild", "--quiet", "--jobs", "2")
    with pytest.raises(CommandError, match="--jobs must be at least 1"):
        call_command("search", "rebuild", "--quiet", "--jobs", "0")
    assert TicketDocument.objects.count() == 4  # nothing was touched


@pytest.mark.skipif(connection.vendor != "postgresql", reason="GIN pending lists")
def test_searches_never_read_a_long_list_of_words_waiting_for_the_index(world, corpus):
    """Each write adds its document's words to a pending list that every search reads until
    it is moved into the index: the list is kept short, and a rebuild leaves it empty."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reloptions FROM pg_class c WHERE c.relname = ANY(%s)",
            [[f"{index.table}_vector" for index in fulltext.INDEXES]],
        )
        options = dict(cursor.fetchall())
    assert options == {
        f"{index.table}_vector": [f"gin_pending_list_limit={fulltext.PENDING_KB}"]
        for index in fulltext.INDEXES
    }
    call_command("search", "rebuild", "--quiet", "--only", "tickets")
    with connection.cursor() as cursor:  # the pages it moves into the index: none left
        cursor.execute("SELECT gin_clean_pending_list('search_ticketdocument_vector')")
        assert cursor.fetchone()[0] == 0
    assert refs(world.agent, "vpn") == [corpus["vpn"].ref]


def fts5_segments(index) -> int:
    """How many segments an FTS5 index holds: the second number of its structure record (a
    4-byte cookie, then varints: levels, segments…)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT block FROM {index.fts}_data WHERE id = 10")  # noqa: S608
        block = bytes(cursor.fetchone()[0])
    numbers, value, at = [], 0, 4
    while len(numbers) < 2:
        value = (value << 7) | (block[at] & 0x7F)
        if not block[at] & 0x80:
            numbers.append(value)
            value = 0
        at += 1
    return numbers[1]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 segments")
def test_rebuild_leaves_the_index_in_one_segment(world, corpus):
    """Each batch of a rebuild writes FTS5 segments, which FTS5 would then merge a little at
    every later write: at a million tickets, each new ticket cost 300–600 ms of merging."""
    for n in range(20):
        make_ticket(desk=world.desk, requester=world.requester, title=f"Batch {n}")
    call_command("search", "rebuild", "--quiet", "--only", "tickets", "--batch-size", "3")
    assert fts5_segments(fulltext.TICKETS) == 1
    assert refs(world.agent, "vpn") == [corpus["vpn"].ref]


def fts5_statistics(index) -> dict[str, tuple[int | None, int]]:
    """Per FTS5 table: the row count SQLite's statistics give it, and the true one."""
    found = {}
    with connection.cursor() as cursor:
        for shadow in fulltext.FTS5_SHADOWS:
            table = f"{index.fts}_{shadow}"
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [table])
            stat = cursor.fetchone()
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
            found[shadow] = (int(stat[0].split()[0]) if stat else None, cursor.fetchone()[0])
    return found


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner statistics")
def test_rebuild_makes_the_statistics_of_the_index_true(world, corpus):
    """Statistics taken while the index was small made SQLite read the whole index at each of
    FTS5's merges (up to 2 s a write at a million tickets): a rebuild counts its tables again.
    A database that was never analysed is left so."""
    call_command("search", "rebuild", "--quiet", "--only", "tickets")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert cursor.fetchone()[0] == 0
        cursor.execute("ANALYZE")  # while the index is small
    for n in range(30):  # the index grows: long texts of words seen once
        text = " ".join(f"w{n}x{k}" for k in range(400))
        make_ticket(
            desk=world.desk, requester=world.requester, title=f"Switch {n}", description=text
        )
    stale = fts5_statistics(fulltext.TICKETS)
    assert stale["data"][0] < stale["data"][1]  # more rows than counted
    call_command("search", "rebuild", "--quiet", "--only", "tickets")
    counted = fts5_statistics(fulltext.TICKETS)
    assert all(stat == rows for stat, rows in counted.values() if rows), counted
    assert refs(world.agent, "switch")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner statistics")
def test_rebuild_leaves_the_planner_knowing_the_words(world, corpus):
    """Without statistics of the vectors the planner takes every word for a rare one, and a
    search ranks every match of a common word instead of the newest few hundred (350 ms at a
    million tickets): a rebuild takes them, as autovacuum would later, or never if it is off."""
    for n in range(40):
        make_ticket(desk=world.desk, requester=world.requester, title=f"Imprimante {n}")
    call_command("search", "rebuild", "--quiet", "--only", "tickets")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_elems::text FROM pg_stats WHERE tablename = %s "
            "AND attname = 'vector'",
            [fulltext.TICKETS.table],
        )
        known = cursor.fetchone()
    assert known is not None and "imprim" in (known[0] or "")
    assert refs(world.agent, "imprimante")


def test_rebuild_drops_documents_of_records_gone(world, corpus):
    corpus["vpn"].delete()
    call_command("search", "rebuild", "--quiet", "--only", "tickets")
    assert TicketDocument.objects.count() == 3
    assert refs(world.agent, "vpn") == []


# --- who sees what ----------------------------------------------------------------------------


def test_a_requester_finds_their_own_tickets_only(world, corpus):
    theirs = corpus["vpn"].ref
    make_ticket(desk=world.desk, requester=world.outsider, title="VPN at Globex")
    assert refs(world.requester, "vpn") == [theirs]
    assert theirs not in refs(world.outsider, "vpn")
    assert refs(world.other_agent, "vpn") == []  # agent of another desk
    assert len(refs(world.agent, "vpn")) == 2


def test_a_colleague_finds_the_organisations_tickets_when_shared(world, corpus):
    assert refs(world.colleague, "vpn") == []
    Organisation.objects.filter(pk=world.requester.organisation_id).update(
        members_see_all_tickets=True
    )
    world.colleague.refresh_from_db()
    assert refs(world.colleague, "vpn") == [corpus["vpn"].ref]


def test_internal_notes_are_searched_by_staff_only(world, corpus):
    ticket = corpus["vpn"]
    add_comment(
        actor=Actor.for_user(world.agent), ticket=ticket, body="Suspect firmware", public=False
    )
    assert refs(world.agent, "firmware") == [ticket.ref]
    assert refs(world.requester, "firmware") == []
    assert refs(world.requester, "vpn firmware") == []
    hit = selectors.search(Actor.for_user(world.requester), "vpn").tickets[0]
    assert "firmware" not in hit.snippet.lower()


def test_a_visibility_token_typed_as_a_word_finds_nothing(world, corpus):
    """Who may see a ticket is kept in the index beside its words (its desk, requester and
    organisation as tokens): typing one of those tokens finds no ticket by it."""
    for token in (
        f"d{world.desk.pk}",
        f"r{world.requester.pk}",
        f"o{world.requester.organisation_id}",
    ):
        assert refs(world.agent, token) == []
        assert refs(world.superuser, token) == []
        assert refs(world.requester, token) == []


def test_notes_stay_hidden_from_an_agent_searching_as_a_requester(world):
    """Staff of one desk, requester on another: the other desk's notes are not theirs."""
    theirs = make_ticket(desk=world.other_desk, requester=world.agent, title="Payslip question")
    add_comment(
        actor=Actor.for_user(world.other_agent),
        ticket=theirs,
        body="Salary grid confidential",
        public=False,
    )
    assert refs(world.agent, "payslip") == [theirs.ref]
    assert refs(world.agent, "confidential") == []


def test_an_agent_who_asked_for_nothing_is_searched_in_their_desks_only(world, corpus):
    """Their own requests are a second scope: asked first whether it holds any ticket (one
    lookup), then never matched; once they have asked for something, it is."""
    token = re.compile(rf"(?<![\w#])#?[rw]{world.agent.pk}\b|requester_id = {world.agent.pk}\b")

    def own_scope_statements(text: str) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            found = refs(world.agent, text)
        assert found  # the desk's tickets
        return [q["sql"] for q in captured.captured_queries if token.search(q["sql"])]

    (lookup,) = own_scope_statements("réseau")
    # Whether any ticket is theirs: lookups that stop at the first (on PostgreSQL, in the
    # search's first statement, with the words' forms).
    assert re.search(r"LIMIT 1\s*$|\(EXISTS \(SELECT 1 FROM", lookup)
    make_ticket(desk=world.other_desk, requester=world.agent, title="Réseau du télétravail")
    assert len(own_scope_statements("réseau")) > 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's round trips")
def test_a_search_asks_what_it_needs_before_its_match_in_one_statement(world, corpus):
    """The words' forms, the newest ticket (where the age windows start) and whether the
    agent's own requests hold any ticket: one statement, then the match. An article search
    asks for no newest article: articles have no age windows."""
    with CaptureQueriesContext(connection) as captured:
        assert refs(world.agent, "réseau")
    # The engine's (the searcher's roles and the desks' counters are cached between requests).
    statements = [q["sql"] for q in captured.captured_queries if "search_" in q["sql"]]
    first_match = next(n for n, sql in enumerate(statements) if "@@" in sql)
    (opening,) = statements[:first_match]
    assert "to_tsquery" in opening and "max(ticket_id)" in opening and "EXISTS" in opening
    with CaptureQueriesContext(connection) as captured:
        selectors.search(Actor.for_user(world.agent), "réseau", kinds=("article",))
    assert not [q for q in captured.captured_queries if "max(" in q["sql"]]


def test_found_words_are_marked_and_the_rest_escaped(world):
    make_ticket(
        desk=world.desk,
        requester=world.requester,
        title="<script>alert(1)</script> printer",
        description="<img src=x onerror=alert(1)> the printer smokes",
    )
    hit = selectors.search(Actor.for_user(world.agent), "printer").tickets[0]
    assert "<script>" not in hit.title and "&lt;script&gt;" in hit.title
    assert "<mark>printer</mark>" in hit.title.lower()
    assert "<img" not in hit.snippet and "<mark>" in hit.snippet


def test_list_filters_narrow_the_results(world, corpus, api):
    response = api(world.agent).get("search", {"q": "réseau", "status": "new"})
    assert {t["ticket"]["ref"] for t in response.json()["tickets"]} == {
        corpus["reseau"].ref,
        corpus["reseaux"].ref,
    }
    response = api(world.agent).get("search", {"q": "réseau", "status": "resolved"})
    assert response.json()["tickets"] == []


# --- people -------------------------------------------------------------------------------------


def test_people_are_found_by_staff_by_name_or_exact_email(world):
    UserFactory(email="margaux.lefevre@acme.test", display_name="Margaux Lefèvre")
    found = selectors.search(Actor.for_user(world.agent), "lefevre", kinds=("person",))
    assert [p.person.email for p in found.people] == ["margaux.lefevre@acme.test"]
    exact = selectors.search(
        Actor.for_user(world.agent), "Margaux.Lefevre@acme.test", kinds=("person",)
    )
    assert exact.people[0].exact
    assert selectors.search(Actor.for_user(world.requester), "lefevre").people == []


def test_a_person_deactivated_is_no_longer_found(world):
    person = UserFactory(email="gone@acme.test", display_name="Gaston Parti")
    person.is_active = False
    person.save()
    assert not PersonDocument.objects.filter(user_id=person.pk).exists()
    found = selectors.search(Actor.for_user(world.agent), "gaston", kinds=("person",))
    assert found.people == []


def test_a_requester_renamed_is_found_under_the_new_name_on_their_tickets(world):
    requester = UserFactory(email="odile.martin@acme.test", display_name="Odile Martin")
    ticket = make_ticket(desk=world.desk, requester=requester, title="Clavier qui colle")
    requester.display_name = "Odile Bertrand"
    requester.email = "odile.bertrand@acme.test"
    requester.save()
    assert refs(world.agent, "bertrand") == [ticket.ref]
    assert refs(world.agent, "odile.bertrand@acme.test") == [ticket.ref]
    assert refs(world.agent, "martin") == []


def test_a_requester_of_many_tickets_renamed_reaches_them_all_in_batches(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    """Past ``RENAME_BATCH`` tickets the save writes one batch and a job the rest (immediate
    in tests), a batch per transaction."""
    monkeypatch.setattr(indexing, "RENAME_BATCH", 2)
    requester = UserFactory(email="alertes@acme.test", display_name="Supervision")
    tickets = [make_ticket(desk=world.desk, requester=requester, title="Alerte") for _ in range(5)]
    requester.display_name = "Centreon"
    with django_capture_on_commit_callbacks(execute=True):
        requester.save()
        assert len(refs(world.agent, "centreon")) == 2  # the save's own batch
    assert set(refs(world.agent, "centreon")) == {t.ref for t in tickets}
    assert refs(world.agent, "supervision") == []


# --- the query plan ------------------------------------------------------------------------------


def test_the_full_text_step_never_joins_the_tickets(world, corpus):
    """The match runs alone over its index; visibility applies to its bounded candidates.

    Mixing both in one plan (a join with the tickets and their visibility rules, or a sort on
    a ticket column) lets the planner walk the tickets and test the match on each: the known
    100× slowdown at a million rows.
    """
    make_ticket(desk=world.other_desk, requester=world.agent, title="VPN badge")
    for person in (world.agent, world.requester, world.superuser):
        with CaptureQueriesContext(connection) as queries:
            selectors.search(Actor.for_user(person), "vpn", kinds=("ticket",))
        matching = [q["sql"] for q in queries if "MATCH" in q["sql"] or "@@" in q["sql"]]
        assert matching
        for sql in matching:
            assert not re.search(r"\btickets_ticket\b(?!_)", sql), sql  # watchers may be read
            assert "LIMIT" in sql or "rowid BETWEEN" in sql, sql  # at most a range of matches
            plan = explain(sql)
            if connection.vendor == "sqlite":
                # The full-text index drives; a document row is read by its key, if at all.
                scans = [step for step in plan if step.startswith("SCAN search_ticketdocument")]
                assert scans and scans[0].startswith("SCAN search_ticketdocument_fts VIRTUAL"), plan
                assert not any(step.startswith("SCAN d") for step in plan), plan
                assert all(
                    step.startswith(("SCAN search_ticketdocument_fts", "SEARCH d USING INTEGER"))
                    or "tickets_ticket_watchers" in step
                    or step.startswith(("CO-ROUTINE", "SCAN (subquery", "USE TEMP B-TREE"))
                    or "LIST SUBQUERY" in step
                    for step in plan
                ), plan
            else:
                # Which index drives depends on the data (the bench prints the plan at a
                # million tickets); here: an index of the documents, never a scan of them.
                assert any("Index" in s and "search_ticketdocument" in s for s in plan), plan
                assert not any("Seq Scan on search_ticketdocument" in s for s in plan), plan


def explain(sql: str) -> list[str]:
    """The plan of a statement as run, sequential scans priced out on PostgreSQL (the test
    tables are tiny; the question is whether the index can drive the query)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            return [row[-1] for row in cursor.fetchall()]
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql)
        return [row[0] for row in cursor.fetchall()]


def test_a_broad_query_says_it_ranked_the_newest_matches_only(world, settings, monkeypatch):
    monkeypatch.setattr(selectors, "RANKED", 3)
    made = [
        make_ticket(desk=world.desk, requester=world.requester, title=f"Printer {n}")
        for n in range(5)
    ]
    results = selectors.search(Actor.for_user(world.agent), "printer")
    assert results.bounded["ticket"]
    assert {hit.ticket.pk for hit in results.tickets} == {t.pk for t in made[-3:]}
    assert not selectors.search(Actor.for_user(world.agent), "printer 4").bounded["ticket"]


@pytest.fixture
def small_ages(monkeypatch):
    """Age buckets of 4 and 16 tickets (``fulltext.AGES``), so a few tickets span every window;
    on PostgreSQL the function that writes them is made again, in the test's transaction."""
    monkeypatch.setattr(fulltext, "AGES", (4, 16))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(next(s for s in fulltext.pg_setup() if "search_document_vector()" in s))


def test_the_newest_matches_are_ranked_and_old_ones_still_found(world, small_ages, monkeypatch):
    monkeypatch.setattr(selectors, "RANKED", 3)
    make = lambda title: make_ticket(desk=world.desk, requester=world.requester, title=title)  # noqa: E731
    old = [make("Scanner jammed"), make("Badge refused")]
    printers = [make(f"Printer {n} offline") for n in range(20)]
    lost = make("Badge lost")
    newest = selectors.search(Actor.for_user(world.agent), "printer", kinds=("ticket",))
    assert {hit.ticket.pk for hit in newest.tickets} == {t.pk for t in printers[-3:]}
    assert newest.bounded["ticket"]
    if connection.vendor == "postgresql":  # a window of the newest tickets held enough
        with connection.cursor() as cursor:  # the statistics the window is chosen by
            cursor.execute("ANALYZE search_ticketdocument")
        with CaptureQueriesContext(connection) as queries:
            selectors.search(Actor.for_user(world.superuser), "printer", kinds=("ticket",))
        matching = [q["sql"] for q in queries if "@@" in q["sql"] and "LIMIT" in q["sql"]]
        assert matching and all("#a" in sql for sql in matching), matching
        # A word the statistics say is rare is not asked among the newest first: one query.
        with CaptureQueriesContext(connection) as queries:
            selectors.search(Actor.for_user(world.superuser), "scanner", kinds=("ticket",))
        matching = [q["sql"] for q in queries if "ORDER BY d.ticket_id" in q["sql"]]
        assert len(matching) == 1 and "#a" not in matching[0], matching
    assert refs(world.agent, "scanner") == [old[0].ref]  # only past every window
    assert set(refs(world.agent, "badge")) == {old[1].ref, lost.ref}
    assert refs(world.requester, "offline printer") == [t.ref for t in printers[:-4:-1]]


def test_a_handful_among_the_newest_widens_the_window_a_step():
    """The age windows' choice (PostgreSQL), over made-up windows: a common word the newest
    tickets hardly hold (they are about something else) asks the next window, not every row,
    which for a common word ranks all its matches; a window that held enough to judge by is
    extrapolated from, past the windows too small."""
    from comptoir.search.backends import PostgresBackend

    windows = [("w0", 5_000), ("w1", 25_000), ("w2", 125_000), ("", 1_000_000)]

    def asked(held: dict[str, int]) -> list[str]:
        runs: list[str] = []

        def run(window: str) -> list[int]:
            runs.append(window)
            return list(range(min(held[window], 200)))

        found = PostgresBackend._newest(run, windows, 200, lambda: 0.13)
        assert len(found) == 200
        return runs

    assert asked({"w0": 1, "w1": 300, "w2": 1_500, "": 130_000}) == ["w0", "w1"]
    assert asked({"w0": 0, "w1": 0, "w2": 300, "": 130_000}) == ["w0", "w1", "w2"]
    assert asked({"w0": 50, "w1": 180, "w2": 900, "": 130_000}) == ["w0", "w2"]
    assert asked({"w0": 1, "w1": 2, "w2": 3, "": 130_000}) == ["w0", "w1", "w2", ""]


def test_age_windows_come_between_two_sizes():
    """Besides the current bucket of a size and the one before, three and four of them: a
    query whose matches need 30,000 tickets is asked among the newest 40,000, not the
    120,000 of the next size's two buckets (PostgreSQL)."""
    from comptoir.search.backends import PostgresBackend

    windows = PostgresBackend._windows(1_000_000, fulltext.TICKETS)
    spans = [span for _, span in windows]
    assert spans == sorted(spans) and spans[-1] == 1_000_000
    assert ("'#a1_50' | '#a1_49' | '#a1_48'", 40_001) in windows
    assert ("'#a2_12' | '#a2_11'", 120_001) in windows
    assert not [w for w, _ in windows if "_0'" in w]  # from the first bucket: every row
    runs: list[str] = []
    found = PostgresBackend._newest(
        lambda window: runs.append(window) or list(range(200)), windows, 200, lambda: 400 / 30_000
    )
    assert len(found) == 200
    assert runs == ["'#a1_50' | '#a1_49' | '#a1_48'"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's GIN index")
def test_the_age_window_is_a_condition_of_the_index_apart_from_the_words(
    world, small_ages, monkeypatch
):
    """The window (and a scope's tokens) is asked as its own condition on the GIN index, not as
    words of the match: the index then steps each condition past the other's items, and a rare
    form of a word (a French stem, a staff note's word) spread over every age is read only
    within the window. Folded into the words' query, at a million tickets, such a form made the
    index look up every other word's list for each of its thousands of items: 10 ms where the
    window is 1.5 ms."""
    monkeypatch.setattr(selectors, "RANKED", 3)
    docking = [
        make_ticket(desk=world.desk, requester=world.requester, title=f"Docking station {n}")
        for n in range(24)
    ]
    make_ticket(desk=world.desk, requester=world.requester, title="Scanner jammed")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_ticketdocument")
    with CaptureQueriesContext(connection) as queries:
        results = selectors.search(Actor.for_user(world.agent), "docking station")
    assert [hit.ticket.pk for hit in results.tickets] == [t.pk for t in docking[:-4:-1]]
    windowed = [q["sql"] for q in queries if re.search(r"@@.*#a\d_", q["sql"])]
    assert windowed, [q["sql"] for q in queries]
    for sql in windowed:
        conditions = re.findall(r"vector @@ '((?:[^']|'')*)'::tsquery", sql)
        # The words, then the scope's tokens where it has them, then the window.
        words, *scope, window = conditions
        assert "dock" in words and "#" not in words, sql
        assert all("dock" not in c and "#a" not in c for c in scope), sql
        assert "#a" in window and "dock" not in window, sql
        index_conditions = [step for step in explain(sql) if "Index Cond" in step]
        assert len(index_conditions) == 1, sql
        assert index_conditions[0].count("@@") == len(conditions), sql


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_share_a_query_matches_is_estimated_as_the_planner_does(world):
    """The age window is chosen by the share of rows a query should match: estimated from the
    statistics ``ANALYZE`` keeps, read once, not by asking the planner on every search. The
    estimate is the planner's own, for every shape of query a search sends."""
    from comptoir.search.backends import estimated_share, lexeme_statistics

    make = lambda title: make_ticket(desk=world.desk, requester=world.requester, title=title)  # noqa: E731
    for n in range(60):
        make(f"Printer {n} offline" if n % 3 else f"Scanner {n} jammed on the third floor")
    table = fulltext.TICKETS.table
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        rows = cursor.fetchone()[0]
    statistics = lexeme_statistics(table)
    assert statistics is not None and statistics.shares
    shapes = [
        "'printer'",
        "'printer' & 'offlin'",
        "'printer' | 'scanner'",
        "('printer' | '!printer') & ('jam' | 'jammed')",
        "'printer' & !'offlin'",
        "'scanner' <-> 'jam'",
        "'print':* & 'floor'",
        "'zorblat'",
        "('offlin') & ('#r1' | '#w1')",
        "'it''s'",
    ]
    with connection.cursor() as cursor:
        for query in shapes:
            cursor.execute(
                f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE vector @@ %s",  # noqa: S608
                [query],
            )
            planned = cursor.fetchone()[0][0]["Plan"]["Plan Rows"]
            ours = estimated_share(query, statistics) * rows
            # The planner rounds to whole rows, at least one.
            assert abs(max(ours, 1) - planned) <= max(1.0, planned * 0.02), (query, ours, planned)


def test_an_estimate_is_never_an_error():
    """Text the estimate cannot read matches every row (the smallest window first, as a
    query the statistics know nothing of); without statistics, PostgreSQL's default share."""
    from comptoir.search.backends import LexemeStatistics, estimated_share

    known = LexemeStatistics({"printer": 0.4, "offlin": 0.1, "print": 0.2}, least=0.05)
    assert estimated_share("'printer' & 'offlin'", known) == pytest.approx(0.04)
    assert estimated_share("'printer' | 'offlin'", known) == pytest.approx(0.46)
    assert estimated_share("'zorblat'", known) == 0.005  # unlisted: half the least, at most
    assert estimated_share("!'printer'", known) == pytest.approx(0.6)
    for broken in ("", "'printer' &", "('printer'", "'printer')", "& 'printer'", "'a' ? 'b'"):
        assert estimated_share(broken, known) == 1.0, broken
    assert estimated_share("'printer'", None) == 0.005


def test_longer_words_are_looked_for_only_when_whole_words_do_not_fill_the_page(world):
    make = lambda title: make_ticket(desk=world.desk, requester=world.requester, title=title)  # noqa: E731
    # Made-up words, which no stemmer takes for one another.
    whole = [make(f"Zorblat {n} offline") for n in range(2)]
    longer = make("Zorblatix offline")  # the newest: first among equals, when looked for
    assert refs(world.agent, "zorblat", limit=2) == [t.ref for t in reversed(whole)]
    assert refs(world.agent, "zorblat", limit=3)[0] == longer.ref  # 2 < 3: both passes
    assert refs(world.agent, "zorblatix") == [longer.ref]
    assert refs(world.agent, "offline zorb") == [longer.ref, *(t.ref for t in reversed(whole))]
    assert refs(world.agent, "zorb offline") == []  # only the last word is a prefix


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's lexicon")
def test_a_prefix_is_looked_for_as_the_words_it_starts(world, monkeypatch):
    """The GIN index is asked for the longer words the lexicon knows, not for the prefix
    (which would read whole the list of every word it starts); past ``EXPANSIONS`` of them,
    for the prefix itself. A word that starts no longer one is not matched a second time."""
    from comptoir.search import backends

    make = lambda title: make_ticket(desk=world.desk, requester=world.requester, title=title)  # noqa: E731
    zorblat, zorblatix, zorblatus = make("Zorblat"), make("Zorblatix"), make("Zorblatus d'Or")
    zorb = [zorblatus.ref, zorblatix.ref, zorblat.ref]

    def matches(text: str) -> tuple[list[str], list[str]]:
        with CaptureQueriesContext(connection) as queries:
            found = refs(world.agent, text, kinds=("ticket",))
        return found, [q["sql"] for q in queries if "ORDER BY d.ticket_id" in q["sql"]]

    found, sql = matches("zorb")
    assert found == zorb
    assert sql and not any(":*" in q for q in sql), sql
    assert "zorblatix" in sql[-1] and "zorblatus" in sql[-1]
    monkeypatch.setattr(backends, "EXPANSIONS", 2)
    found, sql = matches("zorb")
    assert found == zorb and ":*" in sql[-1]  # three words: the prefix itself
    found, sql = matches("zorblatus")
    assert found == [zorblatus.ref]
    assert len(sql) == len(set(sql))  # the prefix adds no word: its queries are not run again
    assert refs(world.agent, "zorbz") == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's lexicon")
def test_an_upgrade_fills_the_lexicon_with_the_words_the_trigger_keeps(world):
    """Migration ``search.0006`` fills the lexicon of an install that had none: with the same
    words as the trigger writes, so that a prefix finds the same tickets before and after."""
    with connection.cursor() as cursor:  # without the words of earlier tests' documents
        cursor.execute(f"TRUNCATE {fulltext.LEXICON}")
        for index in fulltext.INDEXES:
            cursor.execute(fulltext.pg_fill_lexicon(index))
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Zorblat printer")
    add_comment(
        actor=Actor.for_user(world.agent), ticket=ticket, body="Toner chez Dactyl", public=False
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT word FROM {fulltext.LEXICON}")  # noqa: S608
        kept = {row[0] for row in cursor.fetchall()}
        cursor.execute(f"TRUNCATE {fulltext.LEXICON}")
        for index in fulltext.INDEXES:
            cursor.execute(fulltext.pg_fill_lexicon(index))
        cursor.execute(f"SELECT word FROM {fulltext.LEXICON}")  # noqa: S608
        filled = {row[0] for row in cursor.fetchall()}
    assert {"zorblat", "printer", "dactyl"} <= kept  # a title's words, a note's without its mark
    assert not any(word.startswith(("#", "!")) for word in kept)
    assert filled == kept


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's lexicon")
def test_writing_documents_never_reads_the_whole_lexicon(world):
    """The trigger looks each word up in the lexicon by its primary key. Planned on a small
    lexicon (a new install, a rebuild's start), the lookup read the whole lexicon for every
    document after it, in that connection, as long as it lived: a rebuild fell to 100
    tickets/s."""

    def scans() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(seq_scan), 0), coalesce(sum(idx_scan), 0) "
                "FROM pg_stat_xact_user_tables WHERE relname = %s",
                [fulltext.LEXICON],
            )
            return cursor.fetchone()

    seq_before, idx_before = scans()
    for n in range(5):
        make_ticket(desk=world.desk, requester=world.requester, title=f"Quuxel{n} flange")
    seq_after, idx_after = scans()
    assert seq_after == seq_before
    assert idx_after > idx_before  # each document's words were looked up, one by one


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's lexicon")
def test_the_lexicon_is_probed_word_by_word_however_small_it_was_when_planned(world):
    """The trigger's lookup is planned once per connection. Planned while the lexicon looked
    empty, a join kept the whole lexicon in memory and compared each new word with all of
    it, for as long as the connection lived: a rebuild at a million tickets fell to 400/s."""

    def lexicon_rows_read() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(seq_tup_read + idx_tup_fetch), 0) "
                "FROM pg_stat_xact_user_tables WHERE relname = %s",
                [fulltext.LEXICON],
            )
            return cursor.fetchone()[0]

    with connection.cursor() as cursor:  # empty, as on a new install: the next write plans so
        cursor.execute(f"DELETE FROM {fulltext.LEXICON}")  # noqa: S608
        cursor.execute(f"ANALYZE {fulltext.LEXICON}")
    make_ticket(desk=world.desk, requester=world.requester, title="Gadget first")
    with connection.cursor() as cursor:  # the lexicon grows; the plan stays
        cursor.execute(
            f"INSERT INTO {fulltext.LEXICON} (word) "  # noqa: S608
            "SELECT 'filler' || n FROM generate_series(1, 20000) n"
        )
    before = lexicon_rows_read()
    for n in range(5):
        make_ticket(desk=world.desk, requester=world.requester, title=f"Gizmo{n} widget")
    assert lexicon_rows_read() - before < 1000  # a probe per word, not 20,000 rows a word


def test_without_filters_only_the_page_is_checked_and_refusals_are_skipped(world, monkeypatch):
    """Step 2 reads as many tickets as the page needs; a candidate the tickets' selector
    refuses (a stale copy in the index) is skipped, and the page is still full."""
    tickets = [
        make_ticket(desk=world.desk, requester=world.requester, title=f"Scanner {n}")
        for n in range(30)
    ]
    # The index still says the newest ten are the agent's desk's; they moved elsewhere.
    from comptoir.tickets.models import Ticket

    Organisation.objects.update(members_see_all_tickets=False)
    world.agent.refresh_from_db()
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[-10:]]).update(desk=world.other_desk)
    with CaptureQueriesContext(connection) as queries:
        results = selectors.search(Actor.for_user(world.agent), "scanner", limit=5)
    shown = [hit.ticket.pk for hit in results.tickets]
    assert len(shown) == 5
    assert not set(shown) & {t.pk for t in tickets[-10:]}
    checks = [re.search(r'"tickets_ticket"\."id" IN \(([^)]*)\)', q["sql"]) for q in queries]
    sizes = [len(found.group(1).split(",")) for found in checks if found]
    # One window of 15 ids checked (the page of 5 and ten more) of the 30 found, ten of them
    # refused; the 5 shown come from that read, not from another.
    assert sizes == [15], sizes


def test_a_pages_records_come_with_their_people_in_one_query(world):
    """Each hit's requester and assignee are read with the page, by id, in one query (never
    joined: a join made PostgreSQL scan and hash the whole user table for a page), and
    showing them, with the desk, asks nothing more."""
    from comptoir.tickets.models import Ticket

    tickets = [
        make_ticket(desk=world.desk, requester=UserFactory(), title=f"Scanner {n}")
        for n in range(12)
    ]
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[::2]]).update(assignee=world.agent)
    with CaptureQueriesContext(connection) as queries:
        results = selectors.search(Actor.for_user(world.agent), "scanner", limit=10)
    assert len(results.tickets) == 10
    assert not [q for q in queries if 'JOIN "accounts_user"' in q["sql"]]
    assert len([q for q in queries if 'FROM "accounts_user"' in q["sql"]]) == 1
    with CaptureQueriesContext(connection) as more:
        shown = [
            (hit.ticket.requester.email, hit.ticket.assignee, hit.ticket.desk.name)
            for hit in results.tickets
        ]
    assert len(more) == 0
    assert {assignee for _, assignee, _ in shown} == {world.agent, None}
    assert {email for email, _, _ in shown} <= {t.requester.email for t in tickets}


def test_a_hit_reads_what_it_shows_and_the_api_adds_the_rest(world, api):
    """A hit shows its requester, assignee and desk: the page reads no organisation, category
    nor team, and the desk comes from the desks' cache once it holds it. The API's answer,
    a whole list row per ticket, adds those three, one query each, whatever the page's size."""
    from comptoir.tickets.models import Ticket

    category = CategoryFactory(desk=world.desk)
    team = TeamFactory(desk=world.desk)
    tickets = [
        make_ticket(desk=world.desk, requester=world.requester, title=f"Scanner {n}")
        for n in range(4)
    ]
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(category=category, team=team)
    agent = Actor.for_user(world.agent)
    selectors.search(agent, "scanner")  # the desk, cached
    with CaptureQueriesContext(connection) as queries:
        results = selectors.search(agent, "scanner")
        shown = {(hit.ticket.desk.name, hit.ticket.requester.email) for hit in results.tickets}
    assert shown == {(world.desk.name, world.requester.email)}
    read = " ".join(q["sql"] for q in queries)
    for table in ("accounts_organisation", "desks_category", "accounts_team", "desks_desk"):
        assert f'FROM "{table}"' not in read, table
    world.desk.name = "Renamed desk"
    world.desk.save()  # drops the cached desk
    assert {hit.ticket.desk.name for hit in selectors.search(agent, "scanner").tickets} == {
        "Renamed desk"
    }

    for pages in (2, 4):
        with CaptureQueriesContext(connection) as queries:
            response = api(world.agent).get("search", {"q": "scanner", "limit": pages})
        found = response.json()["tickets"]
        assert len(found) == pages
        assert {(t["ticket"]["category"]["id"], t["ticket"]["team"]["slug"]) for t in found} == {
            (category.pk, team.slug)
        }
        assert {t["ticket"]["organisation"]["slug"] for t in found} == {
            world.requester.organisation.slug
        }
        read = [q["sql"] for q in queries]
        for table in ("accounts_organisation", "desks_category", "accounts_team"):
            assert len([q for q in read if f'FROM "{table}"' in q]) == 1, table


def test_an_agent_s_matches_are_ranked_by_the_columns_the_match_read(world):
    """The reference, title and people that rank a match come with the document rows the
    match reads for the agent's desks: no second read of 200 documents. A title that holds
    the word still ranks first."""
    titled = make_ticket(desk=world.desk, requester=world.requester, title="Scanner jammed")
    body_only = [  # newer: first, were the newest first
        make_ticket(
            desk=world.desk,
            requester=world.requester,
            title=f"Question {n}",
            description="The scanner on the second floor.",
        )
        for n in range(6)
    ]
    with CaptureQueriesContext(connection) as queries:
        found = refs(world.agent, "scanner")
    assert found[0] == titled.ref
    assert set(found) == {titled.ref, *(t.ref for t in body_only)}
    read_again = r"SELECT ticket_id, ref, title, people FROM search_ticketdocument WHERE"
    assert not [q for q in queries if re.search(read_again, q["sql"])]
