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
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import accumulate, islice

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


def _lowered(text: str) -> str | None:
    """``text`` ``aligned`` and lowered where that is ASCII (each character where it was),
    else None: where every word of a French or English text starts can be looked for at once."""
    plain = aligned(text)
    return plain.lower() if plain.isascii() else None


class Marker:
    def __init__(self, words: Words) -> None:
        self.words = [fold(w) for w in words.words]
        self._seen: dict[str, bool] = {}
        self._heads = {word[:PREFIX_FROM] for word in self.words}
        # Any token a word matches starts with the word's first three letters (``_is``): in
        # a text without accents, a word whose start is nowhere is nowhere. Each is looked for
        # in lowered ASCII text, where no letter or digit is before it: the letters first, which
        # the engine then finds as a plain string (fifteen times faster over a page of text than
        # a pattern that starts by testing the character before).
        starts = {head: re.escape(head) + f"(?<![a-z0-9]{re.escape(head)})" for head in self._heads}
        self._starts = [re.compile(starts[word[:PREFIX_FROM]]) for word in self.words]
        #: Where any word looked for may start, in lowered ASCII text; None: no word to find.
        self._any_start = (
            re.compile("|".join(starts[h] for h in sorted(starts))) if starts else None
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
        return self.holding([text], every=every)[0]

    def holding(self, texts: Sequence[str], *, every: bool = True) -> list[bool]:
        """``holds`` of each of ``texts``, read together: each word's first letters are looked
        for once in all the texts, not once in each (a search scores hundreds of candidates'
        short columns), and only the texts where they are found are read word by word."""
        if not self.words:
            return [False] * len(texts)
        lowered = [_lowered(text) for text in texts]
        in_ascii = [i for i, text in enumerate(lowered) if text is not None]
        maybe = set(range(len(texts))).difference(in_ascii)  # read word by word, as they are
        if in_ascii:
            # Joined by a line break, which no word start spans; each found start's text is
            # the first whose end lies past it.
            joined = "\n".join(lowered[i] or "" for i in in_ascii)
            ends = list(accumulate(len(texts[i]) + 1 for i in in_ascii))
            starts = [
                {in_ascii[bisect_right(ends, at.start())] for at in start.finditer(joined)}
                for start in self._starts
            ]
            maybe.update(set.intersection(*starts) if every else set.union(*starts))
        return [i in maybe and self._read_holds(text, every) for i, text in enumerate(texts)]

    def _read_holds(self, text: str, every: bool) -> bool:
        """``holds``, read word by word."""
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
        return self._mark(text, 0, len(text), _lowered(text))

    def passage(self, text: str) -> str:
        """About thirty words around the first word found (the start if none is).

        The text is read up to that word only, keeping the few words before it.
        """
        lowered = _lowered(text)
        searched = lowered is not None and self._any_start is not None
        first = self._first_found(lowered) if lowered is not None else None
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
        return prefix + self._mark(text, start, end, lowered) + suffix

    def _first_found(self, text: str) -> re.Match[str] | None:
        """The first word found in a ``_lowered`` text (its places are those of the text it
        comes from), looked for where a word starts with the first letters of one looked for
        (``_any_start``): any word found does."""
        if self._any_start is None:
            return None
        at = 0
        while (start := self._any_start.search(text, at)) is not None:
            token = _TOKEN.match(text, start.start())
            if token is None:  # pragma: no cover - a head is letters or digits
                return None
            if self.found(token.group()):
                return token
            at = token.end()
        return None

    def _mark(self, text: str, start: int, end: int, lowered: str | None) -> str:
        """``text`` from ``start`` to ``end`` (a word's end), escaped, the words found marked.
        With ``text`` ``_lowered``, only its words that start as one looked for are read."""
        out: list[str] = []
        at = start
        if lowered is None:
            tokens: Iterator[re.Match[str] | None] = _TOKEN.finditer(text, start, end)
        elif self._any_start is None:
            tokens = iter(())
        else:
            starts = self._any_start.finditer(lowered, start, end)
            tokens = (_TOKEN.match(text, head.start()) for head in starts)
        for token in tokens:
            if token is not None and self.found(token.group()):
                out.append(html.escape(text[at : token.start()], quote=False))
                out.append("<mark>" + html.escape(token.group(), quote=False) + "</mark>")
                at = token.end()
        out.append(html.escape(text[at:end], quote=False))
        return " ".join("".join(out).split()) if "\n" in text[start:end] else "".join(out)
