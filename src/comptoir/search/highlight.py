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
from collections import deque
from functools import lru_cache
from itertools import islice

from comptoir.search.query import PREFIX_FROM, Words

_TOKEN = re.compile(r"[^\W_]+")
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
#: Words shown before and after the first word found, in a passage.
BEFORE, AFTER = 8, 24
#: Characters read back from the first word found for the words before it (more if they do
#: not hold ``BEFORE`` words).
_LOOKBACK = 40 * BEFORE


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=4096)
def _folded_char(char: str) -> str:
    folded = fold(char)
    return folded if len(folded) == 1 else char


def aligned(text: str) -> str:
    """``text`` folded character by character where a character folds to one ("é" to "e"),
    others left as they are: the same length as ``text``, so that what is found in it is
    found at the same place in ``text``. ASCII when the text is French or English."""
    if text.isascii():
        return text
    return _NOT_ASCII.sub(lambda found: _folded_char(found.group()), text)


class Marker:
    def __init__(self, words: Words) -> None:
        self.words = [fold(w) for w in words.words]
        self._seen: dict[str, bool] = {}
        self._heads = {word[:PREFIX_FROM] for word in self.words}
        # Any token a word matches starts with the word's first three letters (``_is``): in
        # a text without accents, a word whose start is nowhere is nowhere.
        self._starts = {
            word: re.compile(r"(?<![^\W_])" + re.escape(word[:PREFIX_FROM]), re.IGNORECASE)
            for word in self.words
        }
        self._any_start = re.compile(
            r"(?<![^\W_])(?:" + "|".join(re.escape(h) for h in sorted(self._heads)) + ")",
            re.IGNORECASE,
        )

    def found(self, token: str) -> bool:
        known = self._seen.get(token)
        if known is None:
            known = self._seen[token] = self._matches(token)
        return known

    def _matches(self, token: str) -> bool:
        token = token.lower() if token.isascii() else fold(token)
        # Whatever the rule, a token matching a word starts with the word's first letters.
        if token[:PREFIX_FROM] not in self._heads:
            return False
        return any(self._is(token, word) for word in self.words)

    @staticmethod
    def _is(token: str, word: str) -> bool:
        """Whether a folded token of the text is a folded word looked for: the same, a longer
        word it starts, or (stemming) the start of a longer word looked for."""
        return (
            token == word
            or (len(word) >= PREFIX_FROM and token.startswith(word))
            or (len(token) >= 4 and word.startswith(token))
        )

    def holds(self, text: str, *, every: bool = True) -> bool:
        """Whether ``text`` holds every word looked for (``every=False``: any of them)."""
        if (plain := aligned(text)).isascii():
            starts = (start.search(plain) for start in self._starts.values())
            if not (all(starts) if every else any(starts)):
                return False
        wanted = set(self.words)
        found: set[str] = set()
        for token in _TOKEN.findall(text):
            if self.found(token):
                folded = token.lower() if token.isascii() else fold(token)
                found.update(w for w in wanted if self._is(folded, w))
                if not every or found == wanted:
                    return True
        return False

    def title(self, text: str) -> str:
        return self._mark(text, 0, len(text))

    def passage(self, text: str) -> str:
        """About thirty words around the first word found (the start if none is).

        The text is read up to that word only, keeping the few words before it.
        """
        plain = aligned(text)
        searched = plain.isascii() and bool(self.words)
        first = self._first_found(plain) if searched else None
        if first is not None:  # found without reading every word before it
            before = [*_TOKEN.finditer(text, max(0, first.start() - _LOOKBACK), first.start())]
            if len(before) <= BEFORE and first.start() > _LOOKBACK:  # very long words
                before = [*_TOKEN.finditer(text, 0, first.start())]
            window: deque[re.Match[str]] = deque([*before[-BEFORE:], first])
            tokens = _TOKEN.finditer(text, first.end())
        elif searched:  # no word found (any would start where ``_first_found`` looked): the start
            tokens = _TOKEN.finditer(text)
            window = deque(islice(tokens, 1))
        else:
            tokens = _TOKEN.finditer(text)
            window = deque(maxlen=BEFORE + 1)
            for token in tokens:
                window.append(token)
                if self.found(token.group()):
                    break
            else:  # no word found: the start
                tokens = _TOKEN.finditer(text)
                window = deque(islice(tokens, 1))
        if not window:
            return html.escape(text[:200], quote=False)
        shown = [*window, *islice(tokens, AFTER - 1)]
        start, end = shown[0].start(), shown[-1].end()
        prefix = "… " if _TOKEN.search(text, 0, start) else ""
        suffix = " …" if _TOKEN.search(text, end) else ""
        return prefix + self._mark(text, start, end) + suffix

    def _first_found(self, text: str) -> re.Match[str] | None:
        """The first word found in an ASCII ``text`` (a text ``aligned``: its place is the same
        in the text it was folded from), looked for where a word starts with the first letters
        of one looked for (``_any_start``): any word found does."""
        at = 0
        while (start := self._any_start.search(text, at)) is not None:
            token = _TOKEN.match(text, start.start())
            if token is None:  # pragma: no cover - a head is letters or digits
                return None
            if self.found(token.group()):
                return token
            at = token.end()
        return None

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
