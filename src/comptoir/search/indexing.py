"""Keeping the documents true: written with each change, in its transaction, and rebuilt in bulk.

Tickets and articles announce their changes (``tickets.events``, ``kb.events``); the handlers
here subscribe in-transaction, so a ticket and its searchable text commit or roll back together.
A reply or a note adds its words to the ticket's document in one statement; any other change
to a ticket rebuilds its document from the ticket. People are indexed when their account is
saved: accounts are changed by Django's own auth machinery (admin, sign-up, contacts), not by
services that announce it; a new name or address reaches the documents of the person's tickets
in the same save (past ``RENAME_BATCH`` of them, in a background job).

``rebuild`` writes every document again in batches, keyed by id, with one query for the records
and one for their replies per batch.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from functools import cache
from html import unescape
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.html import strip_tags

from comptoir.accounts.models import User
from comptoir.core.events import subscribe
from comptoir.core.sql import column, statement, table, upsert
from comptoir.kb import events as kb_events
from comptoir.kb.models import Article, ArticleVariant
from comptoir.search import fulltext
from comptoir.search.models import ArticleDocument, PersonDocument, TicketDocument
from comptoir.tickets import events as ev
from comptoir.tickets.models import Comment, Ticket

TEXT_FIELDS = ["language", "ref", "title", "body", "notes", "people", "scope", "indexed_at"]


def ticket_scope(desk: int, requester: int | None, organisation: int | None, watchers) -> str:
    """The visibility tokens of a ticket (``search.models``): desk, requester, organisation,
    watchers."""
    tokens = [f"d{desk}"]
    if requester is not None:
        tokens.append(f"r{requester}")
    if organisation is not None:
        tokens.append(f"o{organisation}")
    tokens += [f"w{user}" for user in sorted(watchers)]
    return " ".join(tokens)


def article_scope(desk: int, status: str, visibility: str, organisations) -> str:
    return " ".join([f"d{desk}", status, visibility, *(f"o{o}" for o in sorted(organisations))])


# ---------------------------------------------------------------------------------------------
# Tickets


def requester_words(name: str | None, email: str | None) -> str:
    """A ticket document's ``people``: its requester's name and address."""
    return " ".join(part for part in (name, email) if part)


def _ticket_document(
    row: tuple, *, public=(), notes=(), watchers=(), now: datetime
) -> TicketDocument:
    """A ticket's document from its row (``TICKET_ROW``'s columns, then the requester's name,
    address and language) and its conversation."""
    pk, ref, number, title, description, desk, requester, org, name, email, lang = row
    return TicketDocument(
        ticket_id=pk,
        desk_id=desk,
        requester_id=requester,
        organisation_id=org,
        language=lang or "",
        ref=f"{ref} {number}",
        title=title,
        body="\n".join([description, *public]),
        notes="\n".join(notes),
        people=requester_words(name, email),
        scope=ticket_scope(desk, requester, org, watchers),
        indexed_at=now,
    )


TICKET_ROW = ["id", "ref", "number", "title", "description", "desk", "requester", "organisation"]


def _ticket_documents(ticket_filter: dict[str, Any]) -> list[TicketDocument]:
    """The documents of the tickets ``ticket_filter`` selects."""
    rows = (
        Ticket.objects.filter(**ticket_filter)
        .order_by()
        .values_list(
            *TICKET_ROW, "requester__display_name", "requester__email", "requester__locale"
        )
    )
    tickets = list(rows)
    if not tickets:
        return []
    ids = sorted(row[0] for row in tickets)
    public: dict[int, list[str]] = defaultdict(list)
    notes: dict[int, list[str]] = defaultdict(list)
    watchers: dict[int, list[int]] = defaultdict(list)
    comments = Comment.objects.filter(ticket_id__gte=ids[0], ticket_id__lte=ids[-1])
    watching = Ticket.watchers.through.objects.filter(ticket_id__gte=ids[0], ticket_id__lte=ids[-1])
    if len(ids) < 50:
        comments = Comment.objects.filter(ticket_id__in=ids)
        watching = Ticket.watchers.through.objects.filter(ticket_id__in=ids)
    for ticket_id, user_id in watching.values_list("ticket_id", "user_id"):
        watchers[ticket_id].append(user_id)
    for ticket_id, body, is_public in comments.order_by("pk").values_list(
        "ticket_id", "body", "public"
    ):
        (public if is_public else notes)[ticket_id].append(body)
    now = timezone.now()
    return [
        _ticket_document(
            row,
            public=public.get(row[0], ()),
            notes=notes.get(row[0], ()),
            watchers=watchers.get(row[0], ()),
            now=now,
        )
        for row in tickets
    ]


def _write(model: Any, documents: list, scope_fields: list[str]) -> None:
    if documents:
        key = model._meta.pk.name
        model.objects.bulk_create(
            documents,
            update_conflicts=True,
            unique_fields=[key],
            update_fields=[*TEXT_FIELDS, *scope_fields],
        )


def _rewrite(model: Any, documents: list) -> None:
    """A batch's documents written again: the old ones deleted, then the new inserted in key
    order. Not upserted row by row: on SQLite past half a million tickets that took 27–30 s
    a batch of 2,000, against 0.7–1.6 s so (and replacing a row in place makes FTS5 write out
    its pending words for each row, as its key is not above the last one written)."""
    if documents:
        key = model._meta.pk.attname
        model.objects.filter(pk__in=[getattr(d, key) for d in documents]).delete()
        model.objects.bulk_create(sorted(documents, key=lambda d: getattr(d, key)))


TICKET_SCOPE = ["desk_id", "requester_id", "organisation_id"]


def index_tickets(ticket_ids: Iterable[int]) -> None:
    ids = sorted(set(ticket_ids))
    _write(TicketDocument, _ticket_documents({"pk__in": ids}), TICKET_SCOPE)


def add_comment_words(ticket_id: int, comment_id: int, *, public: bool) -> None:
    """Append one reply's (``public``) or note's words to its ticket's document: one
    statement, which reads the reply's text itself (this runs inside the reply's
    transaction, which on SQLite holds the write lock)."""
    words = "body" if public else "notes"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table(TicketDocument)} SET {words} = {words} || "  # noqa: S608
            f"COALESCE((SELECT %s || c.{column(Comment, 'body')} FROM {table(Comment)} c "
            f"WHERE c.{column(Comment, 'id')} = %s), ''), indexed_at = %s WHERE ticket_id = %s",
            ["\n", comment_id, timezone.now(), ticket_id],
        )
        found = cursor.rowcount
    if not found:
        index_tickets([ticket_id])


@cache
def _new_ticket_sql(vendor: str) -> str:
    t, u = Ticket, User
    return (
        f"SELECT {', '.join(f't.{column(t, name)}' for name in TICKET_ROW)}, "  # noqa: S608
        f"u.{column(u, 'display_name')}, u.{column(u, 'email')}, u.{column(u, 'locale')} "
        f"FROM {table(t)} t LEFT JOIN {table(u)} u ON u.{column(u, 'id')} = "
        f"t.{column(t, 'requester')} WHERE t.{column(t, 'id')} = %s"
    )


@subscribe(ev.TicketCreated, in_transaction=True)
def _ticket_created(event: ev.TicketCreated) -> None:
    """The document of a ticket just created: published by ``create_ticket`` before anything
    is added to it, so it has no reply, note nor watcher to read. Two statements written out
    (``core.sql``): this runs with every ticket created, by every door."""
    row = statement(_new_ticket_sql(connection.vendor), [event.ticket_id])
    if row is not None:
        upsert(_ticket_document(row, now=timezone.now()))


@subscribe(ev.TicketUpdated, in_transaction=True)
def _ticket_updated(event: ev.TicketUpdated) -> None:
    index_tickets([event.ticket_id])


@subscribe(ev.TicketMerged, in_transaction=True)
def _ticket_merged(event: ev.TicketMerged) -> None:
    # The replies, files and watchers moved to the ticket merged into.
    index_tickets([event.ticket_id, event.into_ticket_id])


@subscribe(ev.TicketCommented, in_transaction=True)
def _ticket_commented(event: ev.TicketCommented) -> None:
    add_comment_words(event.ticket_id, event.comment_id, public=event.public)


# ---------------------------------------------------------------------------------------------
# Articles


def _article_documents(variant_filter: dict[str, Any]) -> list[ArticleDocument]:
    variants = list(
        ArticleVariant.objects.filter(**variant_filter)
        .select_related("article", "article__category")
        .order_by("pk")
    )
    if not variants:
        return []
    tags: dict[int, list[str]] = defaultdict(list)
    organisations: dict[int, list[int]] = defaultdict(list)
    article_ids = {v.article_id for v in variants}
    for article_id, name in Article.tags.through.objects.filter(
        article_id__in=article_ids
    ).values_list("article_id", "articletag__name"):
        tags[article_id].append(name)
    for article_id, organisation_id in Article.organisations.through.objects.filter(
        article_id__in=article_ids
    ).values_list("article_id", "organisation_id"):
        organisations[article_id].append(organisation_id)
    now = timezone.now()
    documents = []
    for variant in variants:
        article = variant.article
        category = article.category.name if article.category else ""
        documents.append(
            ArticleDocument(
                variant_id=variant.pk,
                article_id=article.pk,
                desk_id=article.desk_id,
                status=article.status,
                visibility=article.visibility,
                language=variant.language,
                ref=" ".join([f"KB-{article.pk}", *tags.get(article.pk, ())]),
                title=variant.title,
                body="\n".join(part for part in (category, _text_of(variant.body_html)) if part),
                notes="",
                people="",
                scope=article_scope(
                    article.desk_id,
                    article.status,
                    article.visibility,
                    organisations.get(article.pk, ()),
                ),
                indexed_at=now,
            )
        )
    return documents


def _text_of(html: str) -> str:
    """The words of an article's rendered body, without its Markdown or markup: what a reader
    sees, and what a passage of it shows."""
    return unescape(strip_tags(html))


ARTICLE_SCOPE = ["article_id", "desk_id", "status", "visibility"]


def index_articles(article_ids: Iterable[int]) -> None:
    ids = sorted(set(article_ids))
    ArticleDocument.objects.filter(article_id__in=ids).exclude(
        variant_id__in=ArticleVariant.objects.filter(article_id__in=ids).values("pk")
    ).delete()
    _write(ArticleDocument, _article_documents({"article_id__in": ids}), ARTICLE_SCOPE)


@subscribe(kb_events.ArticleChanged, in_transaction=True)
def _article_changed(event: kb_events.ArticleChanged) -> None:
    index_articles([event.article_id])


@subscribe(kb_events.ArticleDeleted, in_transaction=True)
def _article_deleted(event: kb_events.ArticleDeleted) -> None:
    ArticleDocument.objects.filter(article_id=event.article_id).delete()


# ---------------------------------------------------------------------------------------------
# People


def _person_documents(user_filter: dict[str, Any]) -> list[PersonDocument]:
    rows = User.objects.filter(**user_filter).values_list(
        "pk", "email", "display_name", "phone", "locale", "organisation_id", "organisation__name"
    )
    now = timezone.now()
    return [
        PersonDocument(
            user_id=pk,
            organisation_id=org,
            is_active=True,
            language="",
            ref=" ".join(part for part in (email, phone) if part),
            title=name or "",
            body=org_name or "",
            notes="",
            people="",
            scope="active",
            indexed_at=now,
        )
        for pk, email, name, phone, _language, org, org_name in rows.order_by("pk")
    ]


PERSON_SCOPE = ["organisation_id", "is_active"]


def index_people(user_ids: Iterable[int]) -> None:
    ids = sorted(set(user_ids))
    documents = _person_documents({"pk__in": ids, "is_active": True})
    PersonDocument.objects.filter(user_id__in=ids).exclude(
        user_id__in=[d.user_id for d in documents]
    ).delete()
    _write(PersonDocument, documents, PERSON_SCOPE)


#: Saving only these changes nothing a search reads.
_UNSEARCHED = frozenset({"last_login", "password", "mail_notifications"})


#: A rename reaches at most this many ticket documents in the save itself; more (a monitoring
#: account's tickets) are written by a background job, this many per transaction.
RENAME_BATCH = 1000


def requester_renamed(user_id: int, *, limit: int, after: int = 0) -> list[int]:
    """Write a person's name and address into the documents of the tickets they requested,
    where they differ, ``limit`` at most, of tickets after ``after`` in id order (through the
    documents' index on the requester); return the ids written."""
    row = User.objects.filter(pk=user_id).values_list("display_name", "email").first()
    if row is None:
        return []
    people = requester_words(*row)
    ids = list(
        TicketDocument.objects.filter(requester_id=user_id, ticket_id__gt=after)
        .exclude(people=people)
        .order_by("ticket_id")
        .values_list("ticket_id", flat=True)[:limit]
    )
    TicketDocument.objects.filter(pk__in=ids).update(people=people, indexed_at=timezone.now())
    return ids


def person_saved(
    sender, instance: User, created=False, update_fields=None, raw=False, **kwargs
) -> None:
    if raw or (update_fields and set(update_fields) <= _UNSEARCHED):
        return
    written = [] if created else requester_renamed(instance.pk, limit=RENAME_BATCH)
    if len(written) == RENAME_BATCH:
        from comptoir.search.tasks import rename_requester_task

        user_id, after = instance.pk, written[-1]
        transaction.on_commit(lambda: rename_requester_task(user_id, after))
    index_people([instance.pk])


# ---------------------------------------------------------------------------------------------
# Rebuild

KINDS = ("tickets", "articles", "people")


class _Kind(NamedTuple):
    records: Any  # the model indexed
    documents: Any  # its documents' model
    build: Callable[[dict[str, Any]], list[Any]]  # a batch's documents, from record criteria
    search_index: fulltext.Index


_KINDS = {
    "tickets": _Kind(Ticket, TicketDocument, _ticket_documents, fulltext.TICKETS),
    "articles": _Kind(ArticleVariant, ArticleDocument, _article_documents, fulltext.ARTICLES),
    "people": _Kind(User, PersonDocument, _person_documents, fulltext.PEOPLE),
}

Progress = Callable[[str, int, int], None]


def count(kind: str) -> int:
    return _KINDS[kind].records.objects.count()


def rebuild(
    kind: str, *, batch_size: int = 2000, progress: Progress | None = None, jobs: int = 1
) -> int:
    """Write every document of ``kind`` again, in batches; return how many were written.

    Each batch commits on its own: searching goes on during a rebuild, and one interrupted
    halfway is finished by running it again. Documents whose record is gone are removed.

    ``jobs`` > 1 (PostgreSQL only) splits the records into that many runs of ids, each written
    by its own thread on its own connection: PostgreSQL's work per document (the vectors, the
    GIN index, the lexicon) then runs on as many of its cores. SQLite writes one transaction
    at a time, so more jobs there would only queue on its lock. Called inside a transaction,
    a rebuild writes on that transaction's connection alone: other connections would not see
    what it has not committed.
    """
    if jobs > 1 and connection.vendor != "postgresql":
        raise ValueError("A rebuild in several jobs needs PostgreSQL.")
    if connection.in_atomic_block:
        jobs = 1
    fulltext.ensure(connection)
    model, document_model, _build, index = _KINDS[kind]
    total = model.objects.count()
    tally = _Tally(kind, total, progress)
    runs = _id_runs(model, total, jobs)
    if len(runs) == 1:
        done = _rebuild_run(kind, runs[0], batch_size, tally)
    else:
        with ThreadPoolExecutor(len(runs), thread_name_prefix=f"rebuild-{kind}") as pool:
            futures = [
                pool.submit(
                    _in_own_connection, connection.alias, _rebuild_run, kind, run, batch_size, tally
                )
                for run in runs
            ]
            try:
                for future in as_completed(futures):
                    future.result()  # the first job to fail raises here, at once
            finally:
                tally.stopped.set()  # and the others stop at their next batch
            done = sum(future.result() for future in futures)
    # Documents whose record is gone, as an anti-join (``NOT IN`` a million ids is not hashed
    # by PostgreSQL within the default memory, and then tests each row against the list).
    records = model.objects.filter(pk=OuterRef(document_model._meta.pk.attname))
    if kind == "people":
        records = records.filter(is_active=True)
    document_model.objects.filter(~Exists(records)).delete()
    fulltext.settle(connection, index)
    return done


class _Tally:
    """The documents written so far by all of a rebuild's jobs, reported to ``progress``."""

    def __init__(self, kind: str, total: int, progress: Progress | None) -> None:
        self.kind, self.total, self.progress = kind, total, progress
        self.done = 0
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def add(self, count: int) -> None:
        with self.lock:
            self.done += count
            if self.progress:
                self.progress(self.kind, self.done, self.total)


def _id_runs(model: Any, total: int, jobs: int) -> list[tuple[int, int | None]]:
    """``jobs`` runs of ids (after ``low``, up to ``high`` included; ``None``: no end) with
    about as many records each, found by the ids at the cut points of the primary key."""
    ids = model.objects.order_by("pk").values_list("pk", flat=True)
    cuts: list[int] = []
    for k in range(1, max(jobs, 1)):
        at = k * total // jobs
        cut = next(iter(ids[at : at + 1]), None)
        if cut is not None and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    lows = [0, *cuts]
    return [(low, high) for low, high in zip(lows, [*cuts, None], strict=True)]


def _rebuild_run(kind: str, run: tuple[int, int | None], batch_size: int, tally: _Tally) -> int:
    """Write the documents of one run of ids, a batch per transaction."""
    model, document_model, build, _index = _KINDS[kind]
    last, high = run
    done = 0
    while not tally.stopped.is_set():
        records = model.objects.filter(pk__gt=last)
        if high is not None:
            records = records.filter(pk__lte=high)
        ids = list(records.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        criteria: dict[str, Any] = {"pk__gte": ids[0], "pk__lte": ids[-1]}
        if kind == "people":
            criteria["is_active"] = True
        with transaction.atomic():
            _rewrite(document_model, build(criteria))
        done += len(ids)
        last = ids[-1]
        tally.add(len(ids))
    return done


def _in_own_connection(alias: str, function: Callable[..., int], *args: Any) -> int:
    """Run ``function`` in this (pool) thread on a connection of its own to the database
    ``alias`` names, then close it. ``alias`` is the caller's default connection, which may
    stand for another database in the caller's thread (``comptoir db copy`` rebuilds on its
    target so): a new thread would otherwise get the configured default."""
    if alias != DEFAULT_DB_ALIAS:
        connections[DEFAULT_DB_ALIAS] = connections[alias]
    try:
        return function(*args)
    finally:
        connections.close_all()
