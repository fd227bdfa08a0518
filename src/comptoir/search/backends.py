"""The two full-text engines behind one small interface.

``candidates`` runs the match, narrowed by a visibility predicate on the document row, ranked,
bounded: this is the only query that touches the full-text index. The visibility predicate is
given as SQL over the document alias ``d`` with ``%s`` parameters, built by ``selectors`` from
values only. Found words are marked by ``highlight``, in Python, on the few rows shown.
"""

from __future__ import annotations

from django.db import connection

from comptoir.search.fulltext import Index
from comptoir.search.query import Words, fts5_match

#: Columns a search that must not see staff notes may match (the order of ``COLUMNS``).
PUBLIC_COLUMNS = ("ref", "title", "body", "people")


def _where(where: str) -> str:
    return f" AND ({where})" if where else ""


class SqliteBackend:
    #: bm25 weight of each column (ref, title, body, notes, people).
    WEIGHTS = "10.0, 4.0, 1.0, 1.0, 2.0"

    def match(self, words: Words, staff_text: bool) -> str:
        return fts5_match(words, None if staff_text else PUBLIC_COLUMNS)

    def candidates(
        self,
        index: Index,
        words: Words,
        *,
        staff_text: bool,
        where: str = "",
        params: tuple = (),
        limit: int,
    ) -> list[tuple[int, float]]:
        fts, table, key = index.fts, index.table, index.key
        sql = (
            f"SELECT d.{key}, bm25({fts}, {self.WEIGHTS}) AS score "
            f"FROM {fts} JOIN {table} d ON d.{key} = {fts}.rowid "
            f"WHERE {fts} MATCH %s{_where(where)} ORDER BY score LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.match(words, staff_text), *params, limit])
            # bm25 is lower for better matches; report higher-is-better like PostgreSQL.
            return [(row[0], -row[1]) for row in cursor.fetchall()]


class PostgresBackend:
    def tsquery(self, words: Words, staff_text: bool) -> str:
        """The query as ``tsquery`` text: each word in any of the three configurations.

        A word one language treats as a stop word is left out, as that language's documents
        do not index it.
        """
        weights = "" if staff_text else "AB"
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
        return " & ".join(terms)

    @staticmethod
    def _term(word: str, words: Words, weights: str) -> str:
        # ``word`` holds letters and digits only (query.read): nothing to escape.
        suffix = ":*" + weights if words.is_prefix(word) else (":" + weights if weights else "")
        return f"'{word}'{suffix}"

    def candidates(
        self,
        index: Index,
        words: Words,
        *,
        staff_text: bool,
        where: str = "",
        params: tuple = (),
        limit: int,
    ) -> list[tuple[int, float]]:
        query = self.tsquery(words, staff_text)
        if not query:
            return []
        table, key = index.table, index.key
        sql = (
            f"SELECT d.{key}, ts_rank(d.vector, q.query) AS score "
            f"FROM {table} d, (SELECT %s::tsquery AS query) q "
            f"WHERE d.vector @@ q.query{_where(where)} ORDER BY score DESC, d.{key} DESC LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [query, *params, limit])
            return [(row[0], float(row[1])) for row in cursor.fetchall()]


def backend() -> SqliteBackend | PostgresBackend:
    return PostgresBackend() if connection.vendor == "postgresql" else SqliteBackend()
