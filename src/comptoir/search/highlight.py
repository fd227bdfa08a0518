"""Found words marked in a title and a short passage, as safe HTML.

Done here rather than by the engine: SQLite's ``snippet()`` and PostgreSQL's ``ts_headline``
both run the match again over every document that matches, to mark twenty; this reads the
twenty documents' text and marks the words the way the match reads them (case and accents
ignored, a word of three letters or more as the start of a longer one, and, for the stemmed
PostgreSQL match, a longer query word whose start is the text's word: "printers" marks
"printer").
"""

from __future__ import annotations

import html
import re
import unicodedata

from comptoir.search.query import PREFIX_FROM, Words

_TOKEN = re.compile(r"[^\W_]+")
#: Words shown before and after the first word found, in a passage.
BEFORE, AFTER = 8, 24


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class Marker:
    def __init__(self, words: Words) -> None:
        self.words = [fold(w) for w in words.words]
        self._seen: dict[str, bool] = {}

    def found(self, token: str) -> bool:
        known = self._seen.get(token)
        if known is None:
            known = self._seen[token] = self._matches(token)
        return known

    def _matches(self, token: str) -> bool:
        token = token.lower() if token.isascii() else fold(token)
        for word in self.words:
            if token == word:
                return True
            if len(word) >= PREFIX_FROM and token.startswith(word):
                return True
            if len(token) >= 4 and word.startswith(token):
                return True
        return False

    def title(self, text: str) -> str:
        return self._mark(text, 0, len(text))

    def passage(self, text: str) -> str:
        """About thirty words around the first word found (the start if none is)."""
        tokens = list(_TOKEN.finditer(text))
        if not tokens:
            return html.escape(text[:200], quote=False)
        first = next((i for i, t in enumerate(tokens) if self.found(t.group())), 0)
        start_token = max(0, first - BEFORE)
        end_token = min(len(tokens), first + AFTER)
        start = tokens[start_token].start()
        end = tokens[end_token - 1].end()
        prefix = "… " if start_token > 0 else ""
        suffix = " …" if end_token < len(tokens) else ""
        return prefix + self._mark(text, start, end) + suffix

    def _mark(self, text: str, start: int, end: int) -> str:
        out: list[str] = []
        at = start
        for token in _TOKEN.finditer(text, start, end):
            if self.found(token.group()):
                out.append(html.escape(text[at : token.start()], quote=False))
                out.append("<mark>" + html.escape(token.group(), quote=False) + "</mark>")
                at = token.end()
        out.append(html.escape(text[at:end], quote=False))
        return " ".join("".join(out).split()) if "\n" in text[start:end] else "".join(out)
