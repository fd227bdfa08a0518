"""Search, as the person asking may see it (rule 2).

Each kind is searched in two steps:

1. **Candidates**: the full-text match narrowed to what the searcher may see without leaving
   the search tables (``Scope``: visibility tokens matched with the words, or the copies of the
   visibility columns on the document row), the newest ``RANKED`` matches ranked, the best
   ``CANDIDATES`` kept. This is the only query that touches the full-text index, and it never
   joins the tickets table: the engine drives from its index and the planner has nothing to mix.
2. **Records**: the usual selector (``tickets_visible_to`` through ``filter_tickets``,
   ``articles_visible_to``) applied to those ids with the list filters; without filters, the
   same rule on the tickets read by id (``visible_among``). It is the authority on who sees
   what; step 1 only keeps the candidates relevant.

Staff notes are words for the ticket's desk staff only: tickets are searched in two scopes,
the searcher's staff desks (notes included) and their own tickets (public text only).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from comptoir.accounts.models import User
from comptoir.accounts.permissions import staff_desk_ids
from comptoir.core.actor import Actor
from comptoir.core.errors import NotFound
from comptoir.core.memo import RowCache
from comptoir.desks.models import Desk
from comptoir.kb.models import Article, ArticleVariant
from comptoir.search import fulltext
from comptoir.search.backends import Scope, backend, texts
from comptoir.search.fulltext import Index
from comptoir.search.highlight import Marker
from comptoir.search.models import TicketDocument
from comptoir.search.query import Words, read
from comptoir.tickets.models import Ticket
from comptoir.tickets.selectors import (
    filter_tickets,
    get_ticket_for,
    list_relations_of,
    visible_by_id,
)

#: Matches ranked, per kind: the newest this many that the searcher may see (see backends).
RANKED = 200
#: Rows the full-text step hands to the visibility step, per kind.
CANDIDATES = 1000
#: What a ticket's hit shows of its relations besides its requester and assignee; the API adds
#: the rest of a list row's (``tickets.selectors.add_list_relations``).
HIT_RELATIONS = ("desk",)

KINDS = ("ticket", "article", "person")


@dataclass
class TicketHit:
    #: Read with its requester, assignee and ``HIT_RELATIONS``.
    ticket: Ticket
    score: float
    title: str = ""
    snippet: str = ""
    exact: bool = False


@dataclass
class ArticleHit:
    article: Article
    variant: ArticleVariant
    score: float
    title: str = ""
    snippet: str = ""
    exact: bool = False


@dataclass
class PersonHit:
    person: User
    score: float
    title: str = ""
    snippet: str = ""
    exact: bool = False


@dataclass
class Results:
    words: Words
    tickets: list[TicketHit] = field(default_factory=list)
    articles: list[ArticleHit] = field(default_factory=list)
    people: list[PersonHit] = field(default_factory=list)
    #: Per kind: how many matched (at most ``CANDIDATES``), and whether more matched than were
    #: ranked (``RANKED``): a more precise query would find the rest.
    totals: dict[str, int] = field(default_factory=dict)
    bounded: dict[str, bool] = field(default_factory=dict)


def search(
    actor: Actor,
    text: str,
    *,
    kinds: tuple[str, ...] = KINDS,
    limit: int = 20,
    offset: int = 0,
    filters: dict[str, Any] | None = None,
    any_word: bool = False,
) -> Results:
    """What ``actor`` may see that matches ``text``, best first, ``limit`` of each kind.

    ``any_word``: a record matching any of the words qualifies, those matching more (and
    better) first; for suggestions from a title, whose words an article rarely has all of.
    """
    words = read(text)
    if any_word:
        words = dataclasses.replace(words, any=True)
    results = Results(words=words)
    if not words:
        return results
    if "ticket" in kinds:
        _tickets(actor, words, results, limit, offset, filters or {})
    if "article" in kinds:
        desk_ids = (filters or {}).get("desk_ids")
        _articles(actor, words, results, limit, offset, desk_ids)
    if "person" in kinds and _sees_people(actor):
        _people(words, results, limit, offset)
    return results


def index_is_empty() -> bool:
    """Tickets exist but none is in the search index (an upgrade, a database restored without
    it): two existence checks, each one row at most."""
    return not TicketDocument.objects.exists() and Ticket.objects.exists()


def _sees_everything(actor: Actor) -> bool:
    return actor.is_system or actor.is_superuser


def _sees_people(actor: Actor) -> bool:
    return _sees_everything(actor) or bool(staff_desk_ids(actor))


def _in(column: str, values: list[int] | set[int]) -> tuple[str, list[int]]:
    values = sorted(values)
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


# ---------------------------------------------------------------------------------------------
# Tickets


def _ticket_scopes(actor: Actor, staff: set[int]) -> list[Scope]:
    """``tickets_visible_to`` as scopes of the match: the staff desks' tickets, where notes
    count, and the searcher's own (asked, watched, their organisation's when shared), where
    only the public text does."""
    if _sees_everything(actor):
        return [Scope()]
    user = actor.user
    if user is None or not user.is_active:
        return []
    scopes = []
    if staff:
        # ``+``: checked on each match's row, never through the index on the desk. These
        # desks hold most tickets (else the tokens serve), whose index PostgreSQL would
        # otherwise read whole and intersect with the match: 700,000 entries for one desk.
        clause, values = _in("+d.desk_id", staff)
        desks = " OR ".join(f"d{d}" for d in sorted(staff)) if _small_share(staff) else ""
        scopes.append(Scope(tokens=desks, where=clause, params=tuple(values)))
    tokens = [f"r{user.pk}", f"w{user.pk}"]
    parts = ["d.requester_id = %s"]
    params: list[Any] = [user.pk]
    organisation = user.organisation if user.organisation_id is not None else None
    if organisation is not None and organisation.members_see_all_tickets:
        tokens.append(f"o{organisation.pk}")
        parts.append("d.organisation_id = %s")
        params.append(organisation.pk)
    watchers = Ticket.watchers.through._meta.db_table
    parts.append(f"d.ticket_id IN (SELECT ticket_id FROM {watchers} WHERE user_id = %s)")
    params.append(user.pk)
    documents = fulltext.TICKETS.table
    scopes.append(
        Scope(
            tokens=" OR ".join(tokens),
            where=" OR ".join(parts),
            params=tuple(params),
            staff_text=False,
            # Each part alone, so that each is one probe of its index, stopping at the first.
            probe=" OR ".join(f"EXISTS (SELECT 1 FROM {documents} d WHERE {p})" for p in parts),
        )
    )
    return scopes


#: Each desk's ticket counter, for ``_small_share``: a share moves slowly, and reading the
#: desks cost each agent's search a statement (ADR 12 bounds how stale it may be).
_DESK_COUNTS = RowCache("search.desk_counts")


def _small_share(desk_ids: set[int]) -> bool:
    """Whether these desks hold under a tenth of the tickets (by their ticket counters)."""
    counts = (
        _DESK_COUNTS.get("all", lambda: dict(Desk.objects.values_list("pk", "last_number"))) or {}
    )
    total = sum(counts.values())
    return total > 0 and sum(counts.get(d, 0) for d in desk_ids) * 10 < total


def _best_of(
    engine, index, words: Words, scopes: list[Scope], enough: int = RANKED
) -> tuple[list[tuple[int, float]], bool]:
    """The candidates of every scope, best first, each record once; and whether a scope had
    more matches than were ranked.

    Whole words first: when they alone find ``enough`` matches over all the scopes (the page
    asked for, or the ranked window when list filters will narrow them further), the longer
    words the last word starts are not looked for. Expanding a word to every word it starts
    is what makes a query slow: the engine merges the postings of each ("user" into "users",
    "username"…), all of them, however few matches are kept. Otherwise the words are matched
    again with the last as a prefix too, which finds the whole-word matches and the longer
    words; a scope given as visibility tokens where whole words found nothing is first asked
    whether any document carries them (an agent who never asked for anything), as the
    expansion costs the same in a scope that holds no document.
    """
    # A staff member's own requests: often none, and first asked so (with what the engine
    # needs before its first match: one statement).
    asked = tuple(s for s in scopes if not s.staff_text and s.tokens) if len(scopes) > 1 else ()
    engine.prepare(index, words, asked)
    if asked:
        scopes = [s for s in scopes if s not in asked or engine.holds(index, s)]
    exact = words.exact()
    passes: list[list[tuple[int, float]]] = []
    if exact is not None:  # ranked only if kept
        passes = [
            engine.candidates(index, exact, scope, limit=CANDIDATES, recent=RANKED, ranked=False)
            for scope in scopes
        ]
        if len({pk for found in passes for pk, _ in found}) >= enough:
            return _ranked(engine, index, exact, scopes, passes)
    # A large index's matches are scored once, all scopes together (``_ranked``).
    passes = [
        engine.candidates(
            index, words, scope, limit=CANDIDATES, recent=RANKED, ranked=not index.large
        )
        if exact is None or passes[i] or not scope.tokens or engine.holds(index, scope)
        else []
        for i, scope in enumerate(scopes)
    ]
    return _ranked(engine, index, words, scopes, passes) if index.large else _merged(passes)


def _ranked(
    engine, index, words: Words, scopes: list[Scope], passes: list[list[tuple[int, float]]]
) -> tuple[list[tuple[int, float]], bool]:
    """The scopes' candidates, found unscored, now best first, each record once; and whether a
    scope had more matches than were ranked. A large index's are scored by their document alone
    (``backends.boosted``), whatever the scope: all in one statement."""
    if not index.large:
        return _merged(
            [
                engine.rank(index, words, scope, found, CANDIDATES)
                for scope, found in zip(scopes, passes, strict=True)
            ]
        )
    ids = list(dict.fromkeys(pk for found in passes for pk, _ in found))
    return engine.boosted(index, words, ids, CANDIDATES), any(
        len(found) >= RANKED for found in passes
    )


def _merged(passes: list[list[tuple[int, float]]]) -> tuple[list[tuple[int, float]], bool]:
    """Several scopes' candidates as one list, best first, each record at its best score; and
    whether a scope had more matches than were ranked."""
    ranked: dict[int, float] = {}
    for found in passes:
        for pk, score in found:
            if pk not in ranked or score > ranked[pk]:
                ranked[pk] = score
    ordered = sorted(ranked.items(), key=lambda item: (-item[1], -item[0]))
    return ordered[:CANDIDATES], any(len(found) >= RANKED for found in passes)


def _tickets(
    actor: Actor, words: Words, results: Results, limit: int, offset: int, filters: dict
) -> None:
    engine = backend()
    every = _sees_everything(actor)
    staff = set() if every else staff_desk_ids(actor)
    exact: list[Ticket] = []
    if words.ticket_ref:
        with contextlib.suppress(NotFound):
            exact.append(get_ticket_for(actor, words.ticket_ref))
    ranked: list[tuple[int, float]] = []
    bounded = False
    if words.words:
        enough = RANKED if _filtering(filters) else offset + limit
        ranked, bounded = _best_of(
            engine, fulltext.TICKETS, words, _ticket_scopes(actor, staff), enough
        )
    ordered = [t.pk for t in exact]
    allowed, records = _allowed(
        actor, [pk for pk, _ in ranked if pk not in ordered], offset + limit, filters
    )
    ordered += allowed
    records.update((t.pk, t) for t in exact)
    scores = dict(ranked)
    shown = ordered[offset : offset + limit]
    # Every shown id passed ``_allowed`` (or ``get_ticket_for``): the rule is not applied twice.
    if missing := [pk for pk in shown if pk not in records]:
        records.update(
            (t.pk, t)
            for t in list_relations_of(Ticket.objects.filter(pk__in=missing), HIT_RELATIONS)
        )
    exact_ids = {t.pk for t in exact}
    hits = [
        TicketHit(
            ticket=records[pk],
            score=float("inf") if pk in exact_ids else scores[pk],
            exact=pk in exact_ids,
        )
        for pk in shown
        if pk in records
    ]
    found = len(ordered) if _filtering(filters) else len({*ordered, *(pk for pk, _ in ranked)})
    results.totals["ticket"] = found
    results.bounded["ticket"] = bounded
    page = hits
    _mark(
        fulltext.TICKETS,
        words,
        page,
        key=lambda hit: hit.ticket.pk,
        staff_text=lambda hit: every or hit.ticket.desk_id in staff,
    )
    results.tickets = page


def _filtering(filters: dict) -> bool:
    """Whether list filters narrow the tickets (``assignee_id=None`` asks for unassigned)."""
    return "assignee_id" in filters or any(
        value not in (None, [], "", ()) for value in filters.values()
    )


def _allowed(
    actor: Actor, ids: list[int], wanted: int, filters: dict
) -> tuple[list[int], dict[int, Ticket]]:
    """``ids`` (best first) that the tickets' own selector lets ``actor`` see, with the list
    filters: the authority on visibility, over the candidates' ids only; and the records read
    on the way, with what a list row shows.

    With list filters every candidate is checked (the filters decide which remain), by id.
    Without, the candidates already are what the searcher may see (step 1's copy of the rule):
    only as many are checked as the page needs, a window that grows if some are refused. The
    window's records, read by id with what a hit shows (``HIT_RELATIONS``), are checked by the
    rule itself (``visible_by_id``; ``visible_among`` is held equal to ``tickets_visible_to``
    by a test): the same answers as the rule in SQL, without compiling and planning it around
    the ids.
    """
    if _filtering(filters):
        tickets = filter_tickets(actor, **filters)
        allowed = set(tickets.filter(pk__in=ids).values_list("pk", flat=True))
        return [pk for pk in ids if pk in allowed], {}
    kept: list[int] = []
    records: dict[int, Ticket] = {}
    start, size = 0, wanted + 10
    while start < len(ids) and len(kept) < wanted:
        window = ids[start : start + size]
        records.update((t.pk, t) for t in visible_by_id(actor, window, HIT_RELATIONS))
        kept += [pk for pk in window if pk in records]
        start, size = start + size, size * 2
    return kept + ids[start:], records


def _mark(index: Index, words: Words, hits: list, *, key, staff_text) -> None:
    """Fill each hit's title and passage from its document in ``index``, found words marked,
    as safe HTML.

    A passage shows staff notes only where the searcher is staff of the record's desk.
    """
    marker = Marker(words)
    documents = texts(index, [key(hit) for hit in hits])
    for hit in hits:
        title, body, notes = documents.get(key(hit), ("", "", ""))
        hit.title = marker.title(title)
        passage = marker.passage(body)
        if staff_text(hit) and notes and "<mark>" not in passage:
            noted = marker.passage(notes)
            passage = noted if "<mark>" in noted else passage
        hit.snippet = passage


# ---------------------------------------------------------------------------------------------
# Articles


def _article_scope(actor: Actor, staff: set[int]) -> Scope:
    """``articles_visible_to`` as a scope of the match."""
    if _sees_everything(actor):
        return Scope()
    tokens = "published AND (public"
    where = "d.status = 'published' AND (d.visibility = 'public'"
    params: list[Any] = []
    user = actor.user
    if user is not None and user.is_active and user.organisation_id is not None:
        orgs = Article.organisations.through._meta.db_table
        tokens += f" OR (organisations AND o{user.organisation_id})"
        where += (
            " OR (d.visibility = 'organisations' AND d.article_id IN "
            f"(SELECT article_id FROM {orgs} WHERE organisation_id = %s))"
        )
        params.append(user.organisation_id)
    tokens, where = tokens + ")", where + ")"
    if not staff:
        return Scope(tokens=tokens, where=where, params=tuple(params))
    clause, values = _in("d.desk_id", staff)
    desks = " OR ".join(f"d{d}" for d in sorted(staff))
    return Scope(
        tokens=f"{desks} OR ({tokens})",  # articles are few: the tokens always serve
        where=f"{clause} OR ({where})",
        params=(*values, *params),
    )


def _articles(
    actor: Actor,
    words: Words,
    results: Results,
    limit: int,
    offset: int,
    desk_ids: list[int] | None,
) -> None:
    engine = backend()
    from comptoir.kb.selectors import articles_visible_to

    staff = set() if _sees_everything(actor) else staff_desk_ids(actor)
    visible = articles_visible_to(actor)
    if desk_ids:
        visible = visible.filter(desk_id__in=desk_ids)
    exact: list[Article] = []
    if words.article_id is not None:
        exact = list(visible.filter(pk=words.article_id).select_related("desk"))
    ranked: list[tuple[int, float]] = []
    bounded = False
    if words.words:
        ranked, bounded = _best_of(engine, fulltext.ARTICLES, words, [_article_scope(actor, staff)])
    # The authority on visibility, over the candidates' ids only; then the shown page in full.
    # Each candidate's article, then which of those the reader may see: two lookups by key
    # (a subquery over every readable article would test the rule on each).
    of_article = dict(
        ArticleVariant.objects.filter(pk__in=[pk for pk, _ in ranked]).values_list(
            "pk", "article_id"
        )
    )
    readable = set(visible.filter(pk__in=set(of_article.values())).values_list("pk", flat=True))
    allowed = {pk: article for pk, article in of_article.items() if article in readable}
    language = actor.user.locale if actor.user is not None else ""
    chosen: list[tuple[int | None, int, float]] = []  # (variant, article, score)
    seen: set[int] = set()
    for article in exact:
        chosen.append((None, article.pk, float("inf")))
        seen.add(article.pk)
    for pk, score in ranked:  # the best-ranked language of each article
        of = allowed.get(pk)
        if of is None or of in seen:
            continue
        seen.add(of)
        chosen.append((pk, of, score))
    results.totals["article"] = len(chosen)
    results.bounded["article"] = bounded
    shown = chosen[offset : offset + limit]
    variants = {
        v.pk: v
        for v in ArticleVariant.objects.filter(
            pk__in=[pk for pk, _, _ in shown if pk is not None]
        ).select_related("article", "article__desk")
    }
    exact_by_id = {a.pk: a for a in exact}
    page: list[ArticleHit] = []
    for key, article_pk, score in shown:
        if key is None:
            variant = _variant_in(exact_by_id[article_pk], language)
            if variant is not None:
                page.append(
                    ArticleHit(
                        article=exact_by_id[article_pk], variant=variant, score=score, exact=True
                    )
                )
        elif key in variants:
            page.append(
                ArticleHit(article=variants[key].article, variant=variants[key], score=score)
            )
    _mark(
        fulltext.ARTICLES, words, page, key=lambda hit: hit.variant.pk, staff_text=lambda hit: True
    )
    results.articles = page


def _variant_in(article: Article, language: str) -> ArticleVariant | None:
    from comptoir.kb.selectors import variant_for

    return variant_for(article, language)


# ---------------------------------------------------------------------------------------------
# People (staff only)


def _people(words: Words, results: Results, limit: int, offset: int) -> None:
    engine = backend()
    exact: list[User] = []
    if words.email:
        exact = list(
            User.objects.filter(email__iexact=words.email, is_active=True).select_related(
                "organisation"
            )
        )
    ranked: list[tuple[int, float]] = []
    bounded = False
    if words.words:
        ranked, bounded = _best_of(
            engine, fulltext.PEOPLE, words, [Scope(tokens="active", where="d.is_active")]
        )
    active = set(
        User.objects.filter(pk__in=[pk for pk, _ in ranked], is_active=True).values_list(
            "pk", flat=True
        )
    )
    ordered = [(u.pk, float("inf")) for u in exact]
    seen = {u.pk for u in exact}
    ordered += [(pk, score) for pk, score in ranked if pk in active and pk not in seen]
    results.totals["person"] = len(ordered)
    results.bounded["person"] = bounded
    shown = ordered[offset : offset + limit]
    people = {
        u.pk: u
        for u in User.objects.filter(pk__in=[pk for pk, _ in shown]).select_related("organisation")
    }
    page = [
        PersonHit(person=people[pk], score=score, exact=score == float("inf"))
        for pk, score in shown
        if pk in people
    ]
    _mark(fulltext.PEOPLE, words, page, key=lambda hit: hit.person.pk, staff_text=lambda hit: True)
    results.people = page
