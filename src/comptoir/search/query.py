"""What a person typed in a search box, read as words: never as query syntax.

Full-text engines give meaning to ``"``, ``*``, ``-``, ``:``, ``NEAR``, ``AND``, parentheses…
Here every character that is not part of a word separates words, and each word is handed to the
engine quoted, so no input can be an error or change the query's shape. All words must match
(AND); the last word, of three letters or more, also matches as the start of a longer word, as
it may be the one being typed: "imprim" finds "imprimante" and, on SQLite, which has no
stemmer, "réseau" finds "réseaux" (searches look for the whole words first, and for longer
words only when those do not fill the page: ``selectors._best_of``). The words before
it match whole (stemmed, on PostgreSQL): expanding each word to every word it starts costs
more than the rest of a search at a million tickets.

A query that is a ticket reference (``IT-000042``), an article number (``KB-12``) or an email
address is also looked up exactly.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

#: Longest query read; the rest of a pasted page is ignored, not an error.
MAX_QUERY_CHARS = 500
#: Words kept from a query; more narrow nothing in practice and cost a join each.
MAX_WORDS = 12
#: Shortest last word matched as a prefix of longer ones.
PREFIX_FROM = 3

_WORD = re.compile(r"[^\W_]+")
_REF = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]{0,15}-\d{1,12})\s*$")
_ARTICLE = re.compile(r"^\s*KB-(\d{1,12})\s*$", re.IGNORECASE)
_EMAIL = re.compile(r"^\s*([^@\s]{1,200}@[^@\s]{1,200}\.[^@\s]{1,50})\s*$")

#: Words too common to narrow anything, in the two languages of the interface. PostgreSQL's
#: stemmers drop these (and more) from what they index; dropping them from the query on both
#: databases keeps the answers the same.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "was",
        "with",
        "au",
        "aux",
        "avec",
        "ce",
        "ces",
        "d",
        "dans",
        "de",
        "des",
        "du",
        "en",
        "est",
        "et",
        "il",
        "la",
        "le",
        "les",
        "l",
        "mais",
        "ne",
        "ni",
        "ou",
        "par",
        "pas",
        "pour",
        "qu",
        "que",
        "qui",
        "sa",
        "se",
        "ses",
        "son",
        "sur",
        "un",
        "une",
    ]
)


@dataclass(frozen=True)
class Words:
    words: tuple[str, ...]
    ticket_ref: str = ""
    article_id: int | None = None
    email: str = ""
    #: Any word may match instead of all (suggestions from a title: the more the better).
    any: bool = False
    #: Whether the last word, if long enough, also matches longer words it starts
    #: (``is_prefix``).
    prefixes: bool = True

    def __bool__(self) -> bool:
        return bool(self.words or self.ticket_ref or self.article_id or self.email)

    def is_prefix(self, word: str) -> bool:
        return (
            self.prefixes
            and len(word) >= PREFIX_FROM
            and bool(self.words)
            and word == self.words[-1]
        )

    def exact(self) -> Words | None:
        """The same words matched as whole words only; None when that is no narrower (the last
        word is too short to be a prefix)."""
        if not self.words or not self.is_prefix(self.words[-1]):
            return None
        return dataclasses.replace(self, prefixes=False)


def read(text: str) -> Words:
    text = (text or "")[:MAX_QUERY_CHARS]
    words: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word not in words:
            words.append(word)
    meaningful = [w for w in words if w not in STOP_WORDS]
    words = (meaningful or words)[:MAX_WORDS]
    article = _ARTICLE.match(text)
    ref = _REF.match(text) if article is None else None
    email = _EMAIL.match(text)
    return Words(
        words=tuple(words),
        ticket_ref=ref.group(1).upper() if ref else "",
        article_id=int(article.group(1)) if article else None,
        email=email.group(1).lower() if email else "",
    )


def fts5_match(words: Words, columns: tuple[str, ...], scope: str = "") -> str:
    """An FTS5 MATCH expression: each word quoted, the last a prefix if long enough, all required,
    in ``columns`` only; and, when given, the ``scope`` expression over the scope column.
    """
    terms = []
    for word in words.words:
        quoted = '"' + word.replace('"', '""') + '"'
        terms.append(quoted + "*" if words.is_prefix(word) else quoted)
    joined = (" OR " if words.any else " AND ").join(terms)
    expression = "{" + " ".join(columns) + "} : (" + joined + ")"
    if scope:
        expression += " AND scope : (" + scope + ")"
    return expression
