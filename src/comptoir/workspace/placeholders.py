"""Placeholders of canned responses, filled in by plain substitution.

A response's text is a person's text: it never reaches a template engine. Four names are
known — ``{ticket.ref}``, ``{ticket.title}``, ``{requester.name}``, ``{agent.name}`` — and each
is replaced by its value, read as one line of plain text with the characters that would start
Markdown formatting escaped, so a requester's name or a ticket's title is shown as typed and
cannot turn into a link or emphasis in the reply. Anything else between braces is left as
written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

PLACEHOLDERS = ("ticket.ref", "ticket.title", "requester.name", "agent.name")
_PATTERN = re.compile(r"\{(" + "|".join(re.escape(name) for name in PLACEHOLDERS) + r")\}")
#: Characters that start inline Markdown (emphasis, code, links, raw HTML, tables, strikes).
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~])")
#: A value longer than this is cut: it is a name or a title.
MAX_VALUE = 300


def plain_value(value: object) -> str:
    """A value as one line of plain text with Markdown's characters escaped."""
    text = "".join(
        " " if ch.isspace() else ch
        for ch in str(value or "")
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split())[:MAX_VALUE])


def fill(text: str, values: Mapping[str, object]) -> str:
    """``text`` with each known placeholder replaced by its value (empty when not given)."""
    return _PATTERN.sub(lambda found: plain_value(values.get(found.group(1), "")), text)
