"""The two full-text engines behind one small interface.

``candidates`` runs the match, narrowed to what the searcher may see (a ``Scope``), ranked,
bounded: this is the only query that touches the full-text index. The scope is more words in
the same match (visibility tokens) where it is a small share of the index, else a predicate on
the document row's copy of the visibility columns. Both are built by ``selectors`` from values
only. Found words are marked by ``highlight``, in Python, on the few rows shown.

Ranking is bounded too: ``recent`` ranks only the most recent matches (by id) that pass the
predicate. Scoring a match costs far more than finding it (``ts_rank`` reads each matching
document's vector, BM25 each one's statistics), so a word found in a fifth of a million tickets
would cost seconds to rank in full; bounded, a query costs about the same whether it matches a
thousand records or a million. A query matching fewer than ``recent`` records is ranked in full.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from django.db import connection

from comptoir.core.memo import RowCache
from comptoir.search import fulltext
from comptoir.search.fulltext import TEXT_COLUMNS, TICKETS, Index, age_token
from comptoir.search.highlight import Marker
from comptoir.search.query import Words, fts5_match

_TOKEN_WORD = re.compile(r"[A-Za-z0-9]+")
#: A lexeme in ``tsquery`` text: quoted, a quote inside doubled.
_LEXEME = re.compile(r"'((?:[^']|'')*)'")

#: Longer words a prefix is looked for as, at most (``PostgresBackend._started``).
EXPANSIONS = 64

#: Columns a search that must not see staff notes may match.
PUBLIC_COLUMNS = ("ref", "title", "body", "people")
#: Matches an age window must hold for its share to be trusted (``PostgresBackend._newest``).
SAMPLE = 20


@dataclass(frozen=True)
class Scope:
    """What a searcher may see of one kind, as each engine narrows a match to it.

    ``where``/``params``: the rule as SQL over the document alias ``d``; ``tokens``: the same
    rule as an FTS5 expression over the document's ``scope`` column (``r5 OR w5``), which
    SQLite uses instead when given (see ``SqliteBackend.candidates``). Both empty: everything.
    ``staff_text``: whether the staff notes' words may match. ``probe``: SQL true when the scope
    holds any document, by the relational indexes, for PostgreSQL's ``holds``; it takes
    ``params`` as ``where`` does (the same rule, each part probed alone).
    """

    tokens: str = ""
    where: str = ""
    params: tuple = ()
    staff_text: bool = True
    probe: str = ""


def _where(where: str) -> str:
    return f" AND ({where})" if where else ""


#: A large index's score: 1, plus these for each column holding every word (``boosted``).
BOOSTS = (("ref", 10.0), ("title", 4.0), ("people", 2.0))


def boosted(
    index: Index,
    words: Words,
    ids: list[int],
    limit: int,
    known: dict[int, tuple[str, ...]] | None = None,
) -> list[tuple[int, float]]:
    """A large index's matches, best first: scored by the columns holding every word
    (``BOOSTS``: reference, title, people), then the newest first.

    Both engines' own scores read far more: BM25 first counts every row each word is in, over
    the whole index; ``ts_rank`` reads each match's vector, from TOAST. These columns come
    first in a document row and are short: read with the row, without the long text, or
    taken from ``known`` (id → their values), where the match already read them.
    """
    if not ids:
        return []
    known = known or {}
    texts = {pk: known[pk] for pk in ids if pk in known}
    if missing := [pk for pk in ids if pk not in texts]:
        texts.update(_columns_of(index, tuple(c for c, _ in BOOSTS), missing))
    marker = Marker(words)
    scores = dict.fromkeys(texts, 1.0)
    for column, (_, boost) in enumerate(BOOSTS):
        held = marker.holding(
            [values[column] or "" for values in texts.values()], every=not words.any
        )
        for pk, holds in zip(texts, held, strict=True):
            scores[pk] += boost if holds else 0.0
    return sorted(scores.items(), key=lambda item: (-item[1], -item[0]))[:limit]


def texts(index: Index, ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The title, body and staff notes of ``index``'s documents ``ids``, for marking the found
    words of a page (``selectors._mark``): a plain read, without building a query."""
    return _columns_of(index, ("title", "body", "notes"), ids)


def _columns_of(index: Index, columns: tuple[str, ...], ids: list[int]) -> dict[int, tuple]:
    """``columns`` (ours, never typed) of ``index``'s documents ``ids``, by id."""
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {index.key}, {', '.join(columns)} FROM {index.table} "  # noqa: S608
            f"WHERE {index.key} IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )
        return {pk: tuple(values) for pk, *values in cursor.fetchall()}


class _Engine:
    """What both engines share: one per search, it keeps a large index's matches' ``BOOSTS``
    columns where the match read them with the document row it reads anyway, for
    ``boosted``."""

    def __init__(self) -> None:
        self._boosts: dict[int, tuple[str, ...]] = {}

    def boosted(
        self, index: Index, words: Words, ids: list[int], limit: int
    ) -> list[tuple[int, float]]:
        """``boosted``, from the columns the match read where it read them."""
        return boosted(index, words, ids, limit, self._boosts if index.large else None)

    def prepare(self, index: Index | None, words: Words, probes: tuple[Scope, ...] = ()) -> None:
        """Ask ahead, in one statement, what a search of ``words`` in ``index`` will need
        before its first match, and whether the scopes of ``probes`` hold any document
        (``holds``); SQLite, in the process, has no round trip to spare."""


def _boost_columns(index: Index) -> str:
    """The ``BOOSTS`` columns of the document alias ``d``, for a large index's match."""
    return "".join(f", d.{column}" for column, _ in BOOSTS) if index.large else ""


class SqliteBackend(_Engine):
    #: bm25 weight of each column (ref, title, body, notes, people, scope).
    WEIGHTS = "10.0, 4.0, 1.0, 1.0, 2.0, 0.0"

    def match(self, words: Words, scope: Scope, columns: tuple[str, ...] | None = None) -> str:
        columns = columns or (TEXT_COLUMNS if scope.staff_text else PUBLIC_COLUMNS)
        return fts5_match(words, columns, scope.tokens)

    def candidates(
        self,
        index: Index,
        words: Words,
        scope: Scope,
        *,
        limit: int,
        recent: int | None = None,
        ranked: bool = True,
    ) -> list[tuple[int, float]]:
        """Best first, as (id, score); newest first, unscored, when not ``ranked`` (``rank``
        scores them later, if they are kept).

        A scope given as tokens is matched with the words in one FTS5 query: right when it is
        a small share of the index (a requester's own tickets), whose short token lists the
        match intersects cheaply. A scope given as SQL only is checked on each match's
        document row, newest first, until ``recent`` pass: right when most matches pass (an
        agent's desks), where intersecting a token list of most of the index costs more.

        A small index is ranked by BM25. A large one is not: BM25 first counts every row each
        word is in, over the whole index, which at a million tickets costs ten times the
        search. Its matches are scored instead by ``boosted``.
        """
        fts, table, key = index.fts, index.table, index.key
        arguments: list = [self.match(words, scope)]
        score = f"bm25({fts}, {self.WEIGHTS})" if ranked and not index.large else "0"
        boosts = ""
        if scope.tokens or not scope.where:
            matched = f"SELECT rowid AS id, {score} AS score FROM {fts} WHERE {fts} MATCH %s"
        else:  # the document row is read for the scope: its boosts come with it
            boosts = _boost_columns(index)
            matched = (
                f"SELECT {fts}.rowid AS id, {score} AS score{boosts} "
                f"FROM {fts} JOIN {table} d ON d.{key} = {fts}.rowid "
                f"WHERE {fts} MATCH %s AND ({scope.where})"
            )
            arguments += scope.params
        # FTS5 walks a match in rowid order, newest first when asked: the inner LIMIT stops it.
        if recent:
            matched += f" ORDER BY {fts}.rowid DESC LIMIT %s"
            arguments.append(recent)
        with connection.cursor() as cursor:
            if index.large or not ranked:
                cursor.execute(matched, arguments)
                rows = cursor.fetchall()
                if boosts:
                    self._boosts.update((row[0], tuple(row[2:])) for row in rows)
                found = [(row[0], 0.0) for row in rows]
                return self.rank(index, words, scope, found, limit) if ranked else found
            cursor.execute(
                f"SELECT id, score FROM ({matched}) ORDER BY score, id DESC LIMIT %s",
                [*arguments, limit],
            )
            # bm25 is lower for better matches; report higher-is-better like PostgreSQL.
            return [(row[0], -row[1]) for row in cursor.fetchall()]

    def holds(self, index: Index, scope: Scope) -> bool:
        """Whether any document carries the scope's tokens."""
        fts = index.fts
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {fts} WHERE {fts} MATCH %s LIMIT 1",  # noqa: S608
                [f"scope : ({scope.tokens})"],
            )
            return cursor.fetchone() is not None

    def rank(
        self, index: Index, words: Words, scope: Scope, found: list[tuple[int, float]], limit: int
    ) -> list[tuple[int, float]]:
        """``found`` (from ``candidates``, not ``ranked``), best first: a large index's by
        ``boosted``, a small index's matched again, with BM25."""
        if not found:
            return []
        if not index.large:
            return self.candidates(index, words, scope, limit=limit, recent=len(found))
        return self.boosted(index, words, [pk for pk, _ in found], limit)


class PostgresBackend(_Engine):
    """One per search: it keeps what the search asks more than once (each query's text, the
    newest id, each match's ids), which the database would otherwise
    be asked again for each pass: a prefix that starts no longer word is its whole word's
    query again."""

    def __init__(self) -> None:
        super().__init__()
        self._queries: dict[tuple[Words, bool], str] = {}
        self._forms: dict[Words, list[tuple[str, str, str]]] = {}
        self._rows: dict[tuple[str, ...], list[tuple[str, str, str, str]]] = {}
        self._newest_id: dict[str, int] = {}
        self._runs: dict[tuple[str, tuple], list[int]] = {}
        self._holds: dict[tuple[str, str], bool] = {}

    def tsquery(self, words: Words, staff_text: bool) -> str:
        if (words, staff_text) not in self._queries:
            self._queries[words, staff_text] = self._tsquery(words, staff_text)
        return self._queries[words, staff_text]

    def _tsquery(self, words: Words, staff_text: bool) -> str:
        """The query as ``tsquery`` text: each word in any of the three configurations (the
        last, a prefix, unstemmed), and with ``staff_text`` in the staff notes too (their
        lexemes are ``!word``: fulltext.py).

        A word one language treats as a stop word is left out, as that language's documents
        do not index it.
        """
        rows = self._forms_of(words)
        terms = [
            self._either({v for v in (english, french, simple) if v}, staff_text)
            for english, french, simple in rows
            if english and french
        ]
        if not terms:  # nothing but stop words: take them as they are
            terms = [self._either({simple}, staff_text) for _en, _fr, simple in rows if simple]
        return (" | " if words.any else " & ").join(terms)

    def _forms_of(self, words: Words) -> list[tuple[str, str, str]]:
        """Each word's forms as ``tsquery`` text: English, French, and as typed (a prefix as the
        lexicon's words it starts)."""
        if words not in self._forms:
            self._forms[words] = [
                (
                    english,
                    french,
                    self._started(started)
                    if english and french and started and words.is_prefix(word)
                    else whole,
                )
                for word, (english, french, whole, started) in zip(
                    words.words, self._rows_of(words), strict=True
                )
            ]
        return self._forms[words]

    def _rows_of(self, words: Words) -> list[tuple[str, str, str, str]]:
        """Each word in English, in French, whole, and as a prefix if it may be one: once per
        search (``prepare``), since the whole words are matched first, then the prefix
        (``selectors._best_of``), and a ticket search has two scopes."""
        if words.words not in self._rows:
            self.prepare(None, words)
        return self._rows[words.words]

    def prepare(self, index: Index | None, words: Words, probes: tuple[Scope, ...] = ()) -> None:
        """What a search needs before its first match, in one statement where it was three:
        the words' forms (``_rows_of``), the newest ticket (``index``'s age windows) and
        whether each scope of ``probes`` holds any document (``holds``). Each is asked once
        per search; what is known already is not asked again."""
        table = index.table if index is not None else ""
        columns: list[str] = []
        params: list = []
        forms = bool(words.words) and words.words not in self._rows
        if forms:
            typed = dataclasses.replace(words, prefixes=True)
            columns.append(
                "(SELECT json_agg(json_build_array(to_tsquery('comptoir_en', q)::text, "
                "to_tsquery('comptoir_fr', q)::text, to_tsquery('comptoir_simple', q)::text, "
                "to_tsquery('comptoir_simple', p)::text) ORDER BY n) "
                "FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS w(q, p, n))"
            )
            params += [[f"'{w}'" for w in words.words], [self._term(w, typed) for w in words.words]]
        aged = (
            index if index is not None and _aged(index) and table not in self._newest_id else None
        )
        if aged is not None:
            columns.append(f"(SELECT max({aged.key}) FROM {table})")
        asked = [s for s in probes if s.probe and table and (table, s.tokens) not in self._holds]
        for scope in asked:
            columns.append(f"({scope.probe})")
            params += scope.params
        if not columns:
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(columns), params)
            values = list(cursor.fetchone())
        if forms:
            self._rows[words.words] = [tuple(form) for form in values.pop(0)]
        if aged is not None:
            self._newest_id[table] = values.pop(0) or 0
        for scope in asked:
            self._holds[table, scope.tokens] = bool(values.pop(0))

    @staticmethod
    def _started(prefix: str) -> str:
        """A prefix (``'webca':*``, from ``to_tsquery``) as the words of the lexicon it starts,
        or'ed (``'webcam' | 'webcams'``): the GIN index intersects these like any word, where
        the prefix itself makes it read every one of their lists whole. Past ``EXPANSIONS``
        words, the prefix as it is. ``fulltext.LEXICON``."""
        found = _LEXEME.match(prefix)
        if found is None or not prefix.endswith(":*"):
            return prefix
        start = found.group(1).replace("''", "'")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT word FROM {fulltext.LEXICON} WHERE word >= %s AND word < %s "  # noqa: S608
                "ORDER BY word LIMIT %s",
                [start, start[:-1] + chr(ord(start[-1]) + 1), EXPANSIONS + 1],
            )
            started = [row[0] for row in cursor.fetchall()]
        if len(started) > EXPANSIONS:
            return prefix
        if not started:  # no document holds a word it starts: the word alone, found nowhere
            return f"'{found.group(1)}'"
        return " | ".join(
            "'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in started
        )

    @staticmethod
    def _term(word: str, words: Words) -> str:
        """The word as typed, and as the start of longer words if it is the prefix: never its
        stem as a prefix, which would find words the typed letters do not begin ("losi",
        stemmed "los", would find "lost"). ``word`` holds letters and digits only
        (``query.read``): nothing to escape."""
        return f"'{word}'" + (":*" if words.is_prefix(word) else "")

    @staticmethod
    def _either(variants: set[str], staff_text: bool) -> str:
        """One word's forms (``tsquery`` text from ``to_tsquery``), or'ed; with their notes
        forms when notes may match."""
        if staff_text:
            variants |= {_LEXEME.sub(r"'!\1'", v) for v in variants}
        return "(" + " | ".join(sorted(variants)) + ")"

    @staticmethod
    def scope_query(tokens: str) -> str:
        """A scope's FTS5-style expression (``r5 OR (published AND public)``) as ``tsquery``
        text over the visibility tokens (``#r5``). Tokens are ours (letters and digits)."""
        return _TOKEN_WORD.sub(
            lambda m: {"AND": "&", "OR": "|"}.get(m.group(), f"'#{m.group().lower()}'"), tokens
        )

    def candidates(
        self,
        index: Index,
        words: Words,
        scope: Scope,
        *,
        limit: int,
        recent: int | None = None,
        ranked: bool = True,
    ) -> list[tuple[int, float]]:
        """Best first, as (id, score): the GIN index finds the matches (with the scope's
        tokens, else with its SQL over indexed columns), the newest ``recent`` are ranked;
        newest first, unscored, when not ``ranked`` (``rank`` scores them later, if kept).

        The newest matches are looked for among the newest tickets first, by their age tokens
        (``fulltext.AGES``; ``_newest`` chooses the windows). Each query reads only the rows
        of its window that match, where sorting the whole match by id would read every
        matching row, hundreds of thousands for a common word.
        """
        query = self.tsquery(words, scope.staff_text)
        if not query:
            return []
        table, key = index.table, index.key
        where, params = ("", ()) if scope.tokens else (scope.where, scope.params)
        # The scope's tokens and the age window are each a condition of their own, not a part
        # of the words' query. Within one query, GIN reads every item of the least frequent
        # lexemes (a rare form of a word, a staff note's) over the whole index, and for each
        # looks up every other lexeme's list: 10 ms where the window holds 5,000 tickets.
        # Given apart, it steps the conditions past each other's items (1.5 ms).
        narrowed = [self.scope_query(scope.tokens)] if scope.tokens else []
        # ``+ 0``: sorted after the match, never by walking the primary key and testing each
        # row's vector (which a rare word turns into a walk through the whole table).
        # A large index's matches are scored by ``boosted`` from a few short columns of the
        # row: read here, with the row the match reads anyway (the scope's test, the id).
        boosts = _boost_columns(index)
        with connection.cursor() as cursor:

            def run(window: str) -> list[int]:
                also = [*narrowed, window] if window else narrowed
                matched = (
                    f"SELECT d.{key}{boosts} FROM {table} d WHERE d.vector @@ %s::tsquery"
                    + " AND d.vector @@ %s::tsquery" * len(also)
                    + f"{_where(where)} ORDER BY d.{key} + 0 DESC"
                    + (" LIMIT %s" if recent else "")
                )
                arguments = (query, *also, *params, *([recent] if recent else []))
                if (matched, arguments) not in self._runs:
                    cursor.execute(matched, arguments)
                    rows = cursor.fetchall()
                    if boosts:
                        self._boosts.update((row[0], tuple(row[1:])) for row in rows)
                    self._runs[matched, arguments] = [row[0] for row in rows]
                return self._runs[matched, arguments]

            def estimate() -> float:
                """The share of rows that match, by the statistics of the words and the scope's
                tokens (its SQL left out: an expression the statistics do not know)."""
                both = " & ".join(f"({q})" for q in (query, *narrowed))
                return estimated_share(both, lexeme_statistics(table))

            windows = self._windows(self._newest_id_of(index), index) if recent else []
            ids = self._newest(run, windows, recent, estimate) if recent else run("")
        if not ranked:
            return [(pk, 0.0) for pk in ids]
        return self._ranked(index, words, query, ids, limit)

    def rank(
        self, index: Index, words: Words, scope: Scope, found: list[tuple[int, float]], limit: int
    ) -> list[tuple[int, float]]:
        """``found`` (from ``candidates``, not ``ranked``), best first, by ``ts_rank``."""
        if not found:
            return []
        ids = [pk for pk, _ in found]
        return self._ranked(index, words, self.tsquery(words, scope.staff_text), ids, limit)

    def _ranked(
        self, index: Index, words: Words, query: str, ids: list[int], limit: int
    ) -> list[tuple[int, float]]:
        """``ids`` best first: a large index's by ``boosted`` (``ts_rank`` would read each
        one's vector from TOAST: 200 of them cost more than finding them), a small index's by
        ``ts_rank``."""
        if not ids:
            return []
        if index.large:
            return self.boosted(index, words, ids, limit)
        table, key = index.table, index.key
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {key}, ts_rank(vector, %s::tsquery) AS score FROM {table} "  # noqa: S608
                f"WHERE {key} = ANY(%s) ORDER BY score DESC, {key} DESC LIMIT %s",
                [query, ids, limit],
            )
            return [(row[0], float(row[1])) for row in cursor.fetchall()]

    def holds(self, index: Index, scope: Scope) -> bool:
        """Whether any document carries the scope's tokens, asked once per search and scope.

        By the scope's ``probe`` where it has one: each test an index probe that stops at the
        first row. The GIN index cannot stop early: it gathers every row a token names before
        the first is read, 40–60 ms for an organisation's 300,000 tickets on each search of
        an agent in that organisation. Without a probe, the match is planned apart from the
        ``LIMIT`` (a materialised CTE): with the limit in view, a token the statistics do not
        know makes the planner scan the table for the first row, which for a token no row
        carries is every row.
        """
        key = (index.table, scope.tokens)
        if key not in self._holds and scope.probe:
            self.prepare(index, Words(words=()), (scope,))
        if key not in self._holds:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"WITH m AS MATERIALIZED (SELECT 1 FROM {index.table} "  # noqa: S608
                    "WHERE vector @@ %s::tsquery) SELECT 1 FROM m LIMIT 1",
                    [self.scope_query(scope.tokens)],
                )
                self._holds[key] = cursor.fetchone() is not None
        return self._holds[key]

    @staticmethod
    def _newest(run, windows: list[tuple[str, int]], recent: int, estimate) -> list[int]:
        """The newest ``recent`` matches: ``run`` over the smallest window that should hold
        them by the planner's ``estimate`` of the share of rows that match; if it holds fewer,
        over the window the share it found says should, or, when it found only a handful
        (``SAMPLE``), over a window four times as wide (the next size of bucket); past the
        last window, over every row. A window too small costs a second query, which reads its
        matches again, so few are run: the estimate (``estimated_share``: the planner's, from
        the statistics of the words, within a factor of two at a million tickets, and no
        statement) spares the windows too small for a rare word's matches. Twice the rows
        wanted are asked for, for safety.

        A handful of matches among the newest tickets says little of the older ones: the
        newest may be about something else (an outage, a batch of imports). Taken at its word,
        one match in the newest 5,000 asked for every row, and ranked all 130,000 matches of a
        common word (250 ms) where the next window held the 200 newest in a few milliseconds."""
        *bounded, (_, rows) = windows
        if not bounded:
            return run("")
        share = estimate()
        wanted = recent * 2 / share if share > 0 else rows + 1
        for window, span in bounded:
            if span < wanted:
                continue
            ids = run(window)
            if len(ids) >= recent:
                return ids
            wanted = span * recent * 2 // len(ids) if len(ids) >= SAMPLE else span * 4
        return run("")

    def _newest_id_of(self, index: Index) -> int:
        """The newest id of ``index``, whose age windows start there (once per search, by
        ``prepare``); 0 for an index without age tokens, which has no windows."""
        if not _aged(index):
            return 0
        if index.table not in self._newest_id:
            self.prepare(index, Words(words=()))
        return self._newest_id[index.table]

    @staticmethod
    def _windows(newest: int, index: Index) -> list[tuple[str, int]]:
        """The age windows of ``index`` whose newest id is ``newest``, smallest first, as
        ``tsquery`` text with the number of rows they span; the last is every row (empty).
        Only tickets carry age tokens.

        A window is the current bucket of a size and the ones before it: two, and up to as
        many as one bucket of the next size holds (four), so that the spans between two
        sizes are windows too. Three buckets of 20,000 span 40,000 to 60,000 tickets, where
        the next size's two buckets of 80,000 span 80,000 to 160,000: a window twice as wide
        as needed reads the match's rows twice over.
        """
        if not _aged(index):
            return [("", 0)]
        windows = []
        for level, size in enumerate(fulltext.AGES):
            bucket = newest // size
            if bucket < 2:  # this window and the larger ones would be every row
                break
            larger = fulltext.AGES[level + 1] // size if level + 1 < len(fulltext.AGES) else 2
            for count in range(2, max(2, larger) + 1):
                first = bucket - count + 1
                if first < 1:  # from the first bucket on: every row
                    break
                buckets = range(bucket, first - 1, -1)
                tokens = " | ".join(f"'{age_token(level, b)}'" for b in buckets)
                windows.append((tokens, newest - first * size + 1))
        # The same span twice: the fewer, larger buckets.
        windows.sort(key=lambda window: (window[1], window[0].count("|")))
        return [*windows, ("", newest)]


def _aged(index: Index) -> bool:
    """Whether the documents of ``index`` carry age tokens (``fulltext.age_token``): tickets."""
    return index.table == TICKETS.table


#: The share of rows PostgreSQL gives a word its statistics do not list, at most; and a whole
#: query's, on a column it holds no statistics of (``DEFAULT_TS_MATCH_SEL``).
UNLISTED_SHARE = 0.005
#: A ``tsquery``'s text as tokens: a lexeme (quoted, ``''`` for a quote; ``:*`` a prefix), or
#: an operator or parenthesis.
_QUERY_TOKEN = re.compile(r"\s*(?:'((?:[^']|'')*)'(:[*A-D]*)?|(<->|<\d+>|[&|!()]))")


@dataclass(frozen=True)
class LexemeStatistics:
    """The share of rows holding each of a vector column's most common lexemes, as ``ANALYZE``
    found them, and the share below which it lists none."""

    shares: dict[str, float]
    least: float


#: By table, the statistics of its ``vector`` column (``lexeme_statistics``).
_LEXEMES = RowCache("search.lexeme_statistics")


def lexeme_statistics(table: str) -> LexemeStatistics | None:
    """What the planner knows of ``table``'s words (``pg_stats``: a thousand lexemes by
    default), kept as the process keeps the rows every request reads (``core.memo``): read
    once, where asking the planner for an estimate was a statement on every search. None
    before the first ``ANALYZE``."""

    def read() -> LexemeStatistics | None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = %s AND attname = 'vector'",
                [table],
            )
            row = cursor.fetchone()
        if row is None or not row[0] or not row[1]:
            return None
        lexemes, shares = row
        # After the lexemes' shares come the least and the greatest of them (pg_statistic).
        return LexemeStatistics(dict(zip(lexemes, shares, strict=False)), shares[len(lexemes)])

    return _LEXEMES.get(table, read)


def estimated_share(query: str, statistics: LexemeStatistics | None) -> float:
    """The share of rows a ``tsquery`` (as text) matches, by the column's ``statistics``, the
    way PostgreSQL's planner estimates it (``tsquery_opr_selec``): a listed lexeme its share, an
    unlisted one half the least listed (``UNLISTED_SHARE`` at most), a prefix the listed
    lexemes it starts; the words of ``&`` and ``<->`` taken as independent, ``|`` as either,
    ``!`` as the rest. Text it cannot read is taken as matching every row."""
    if statistics is None:
        return UNLISTED_SHARE
    shares, unlisted = statistics.shares, min(UNLISTED_SHARE, statistics.least / 2)
    # Each token an operator (str), or a lexeme's share.
    tokens: list[str | float] = []
    at, end = 0, len(query.rstrip())
    while at < end:
        token = _QUERY_TOKEN.match(query, at)
        if token is None:
            return 1.0
        lexeme, flags, operator = token.groups()
        if operator:
            tokens.append(operator)
        elif "*" in (flags or ""):
            start = lexeme.replace("''", "'")
            started = sum(s for word, s in shares.items() if word.startswith(start))
            tokens.append(max(unlisted, min(1.0, started)))
        else:
            tokens.append(shares.get(lexeme.replace("''", "'"), unlisted))
        at = token.end()
    position = 0

    def peek() -> str | float | None:
        return tokens[position] if position < len(tokens) else None

    def either() -> float:  # the loosest: a | b
        nonlocal position
        share = both()
        while peek() == "|":
            position += 1
            other = both()
            share = share + other - share * other
        return share

    def both() -> float:  # a & b
        nonlocal position
        share = followed()
        while peek() == "&":
            position += 1
            share *= followed()
        return share

    def followed() -> float:  # a <-> b, a <2> b: the tightest but ``!``
        nonlocal position
        share = single()
        while isinstance(op := peek(), str) and op.startswith("<"):
            position += 1
            share *= single()
        return share

    def single() -> float:
        nonlocal position
        item = peek()
        position += 1
        if isinstance(item, float):
            return item
        if item == "!":
            return 1.0 - single()
        if item == "(":
            share = either()
            if peek() != ")":
                raise ValueError(query)
            position += 1
            return share
        raise ValueError(query)

    try:
        share = either()
    except ValueError:
        return 1.0
    return min(1.0, max(0.0, share)) if position == len(tokens) else 1.0


def backend() -> SqliteBackend | PostgresBackend:
    return PostgresBackend() if connection.vendor == "postgresql" else SqliteBackend()
