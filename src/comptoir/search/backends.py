"""The two full-text engines behind one small interface.

``candidates`` runs the match, narrowed to what the searcher may see (a ``Scope``), ranked,
bounded: this is the only query that touches the full-text index. On SQLite the scope is more
words in the same FTS5 match (tokens of the ``scope`` column); on PostgreSQL a predicate on
indexed columns of the document row, which the planner combines with the GIN index. Both are
built by ``selectors`` from values only. Found words are marked by ``highlight``, in Python, on
the few rows shown.

Ranking is bounded too: ``recent`` ranks only the most recent matches (by id) that pass the
predicate. Scoring a match costs far more than finding it (BM25 or ``ts_rank`` reads each
matching document's statistics), so a word found in a fifth of a million tickets would cost
seconds to rank in full; bounded, a query costs the same whether it matches a thousand records
or a million. A query matching fewer than ``recent`` records is ranked in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection

from comptoir.search.fulltext import TEXT_COLUMNS, Index
from comptoir.search.query import Words, fts5_match

_TOKEN_WORD = re.compile(r"[A-Za-z0-9]+")

#: Columns a search that must not see staff notes may match.
PUBLIC_COLUMNS = ("ref", "title", "body", "people")


@dataclass(frozen=True)
class Scope:
    """What a searcher may see of one kind, as each engine narrows a match to it.

    ``where``/``params``: the rule as SQL over the document alias ``d``; ``tokens``: the same
    rule as an FTS5 expression over the document's ``scope`` column (``r5 OR w5``), which
    SQLite uses instead when given (see ``SqliteBackend.candidates``). Both empty: everything.
    ``staff_text``: whether the staff notes' words may match.
    """

    tokens: str = ""
    where: str = ""
    params: tuple = ()
    staff_text: bool = True


def _where(where: str) -> str:
    return f" AND ({where})" if where else ""


class SqliteBackend:
    #: bm25 weight of each column (ref, title, body, notes, people, scope).
    WEIGHTS = "10.0, 4.0, 1.0, 1.0, 2.0, 0.0"

    def match(self, words: Words, scope: Scope) -> str:
        columns = TEXT_COLUMNS if scope.staff_text else PUBLIC_COLUMNS
        return fts5_match(words, columns, scope.tokens)

    def candidates(
        self, index: Index, words: Words, scope: Scope, *, limit: int, recent: int | None = None
    ) -> list[tuple[int, float]]:
        """Best first, as (id, score).

        A scope given as tokens is matched with the words in one FTS5 query: right when it is
        a small share of the index (a requester's own tickets), whose short token lists the
        match intersects cheaply. A scope given as SQL only is checked on each match's
        document row, newest first, until ``recent`` pass: right when most matches pass (an
        agent's desks), where intersecting a token list of most of the index costs more.
        """
        fts, table, key = index.fts, index.table, index.key
        arguments: list = [self.match(words, scope)]
        if scope.tokens or not scope.where:
            matched = (
                f"SELECT rowid AS id, bm25({fts}, {self.WEIGHTS}) AS score FROM {fts} "
                f"WHERE {fts} MATCH %s"
            )
        else:
            matched = (
                f"SELECT {fts}.rowid AS id, bm25({fts}, {self.WEIGHTS}) AS score "
                f"FROM {fts} JOIN {table} d ON d.{key} = {fts}.rowid "
                f"WHERE {fts} MATCH %s AND ({scope.where})"
            )
            arguments += scope.params
        # FTS5 walks a match in rowid order, newest first when asked: the inner LIMIT stops it.
        if recent:
            matched += f" ORDER BY {fts}.rowid DESC LIMIT %s"
            arguments.append(recent)
        sql = f"SELECT id, score FROM ({matched}) ORDER BY score, id DESC LIMIT %s"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*arguments, limit])
            # bm25 is lower for better matches; report higher-is-better like PostgreSQL.
            return [(row[0], -row[1]) for row in cursor.fetchall()]


class PostgresBackend:
    def tsquery(self, words: Words, staff_text: bool) -> str:
        """The query as ``tsquery`` text: each word in any of the three configurations.

        A word one language treats as a stop word is left out, as that language's documents
        do not index it.
        """
        # Words never match the D-weighted visibility tokens (fulltext.py).
        weights = "ABC" if staff_text else "AB"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT to_tsquery('comptoir_en', q)::text, to_tsquery('comptoir_fr', q)::text, "
                "to_tsquery('comptoir_simple', q)::text FROM unnest(%s::text[]) "
                "WITH ORDINALITY AS w(q, n) ORDER BY n",
                [[self._term(w, words, weights) for w in words.words]],
            )
            rows = cursor.fetchall()
        terms = []
        for english, french, simple in rows:
            if not english or not french:
                continue
            variants = sorted({v for v in (english, french, simple) if v})
            terms.append("(" + " | ".join(variants) + ")")
        if not terms:  # nothing but stop words: take them as they are
            terms = [f"({simple})" for _en, _fr, simple in rows if simple]
        return (" | " if words.any else " & ").join(terms)

    @staticmethod
    def _term(word: str, words: Words, weights: str) -> str:
        # ``word`` holds letters and digits only (query.read): nothing to escape.
        suffix = ":*" + weights if words.is_prefix(word) else ":" + weights
        return f"'{word}'{suffix}"

    @staticmethod
    def scope_query(tokens: str) -> str:
        """A scope's FTS5-style expression (``r5 OR (published AND public)``) as ``tsquery``
        text over the D-weighted tokens. Tokens are ours (letters and digits)."""
        return _TOKEN_WORD.sub(
            lambda m: {"AND": "&", "OR": "|"}.get(m.group(), f"'{m.group().lower()}':D"), tokens
        )

    def candidates(
        self, index: Index, words: Words, scope: Scope, *, limit: int, recent: int | None = None
    ) -> list[tuple[int, float]]:
        """Best first, as (id, score): the GIN index and the scope columns' indexes find the
        matches, the newest ``recent`` of them are ranked."""
        query = self.tsquery(words, scope.staff_text)
        if not query:
            return []
        table, key = index.table, index.key
        # The scope's tokens in the match itself (the GIN index answers both), else its SQL
        # over indexed columns, which the planner combines with the GIN index.
        where, params = ("", ()) if scope.tokens else (scope.where, scope.params)
        if scope.tokens:
            query = f"({query}) & ({self.scope_query(scope.tokens)})"
        matched = (
            f"SELECT d.{key} AS id FROM {table} d WHERE d.vector @@ %s::tsquery{_where(where)}"
        )
        bound = f" ORDER BY d.{key} DESC LIMIT %s" if recent else ""
        sql = (
            f"WITH found AS MATERIALIZED ({matched}{bound}) "
            f"SELECT d.{key}, ts_rank(d.vector, %s::tsquery) AS score "
            f"FROM found JOIN {table} d ON d.{key} = found.id "
            f"ORDER BY score DESC, d.{key} DESC LIMIT %s"
        )
        arguments = [query, *params, *([recent] if recent else []), query, limit]
        with connection.cursor() as cursor:
            cursor.execute(sql, arguments)
            return [(row[0], float(row[1])) for row in cursor.fetchall()]


def backend() -> SqliteBackend | PostgresBackend:
    return PostgresBackend() if connection.vendor == "postgresql" else SqliteBackend()
