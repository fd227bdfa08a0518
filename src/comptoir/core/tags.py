"""Tags, as tickets and articles take them: free words, each kept once in its own table
(``tickets.Tag``, ``kb.ArticleTag``) and shared by everything that carries it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from django.db import models

from comptoir.core.errors import DomainError, ErrorCode

T = TypeVar("T", bound=models.Model)

#: A tag: a letter or digit, then letters, digits, ``.``, ``-`` and spaces, 50 at most.
TAG_RE = re.compile(r"^[\w][\w.\- ]{0,49}$", re.UNICODE)


def clean_tags(tags: Iterable[str], *, most: int, holder: str) -> list[str]:
    """``tags`` as stored: spaces folded, lower case, each once, in the order given; a tag
    that is not one, or more than ``most`` of them, is refused (``holder``: "A ticket")."""
    names: list[str] = []
    for raw in tags:
        name = " ".join(str(raw).split()).lower()
        if not TAG_RE.match(name):
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"Tag {raw!r} is not valid: letters, digits, '.', '-' and spaces, 50 at most.",
                {"field": "tags"},
            )
        if name not in names:
            names.append(name)
    if len(names) > most:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, f"{holder} has at most {most} tags.", {"field": "tags"}
        )
    return names


def tag_rows(model: type[T], names: list[str]) -> list[T]:
    """The rows of ``model`` (a tag table: a unique ``name``) for ``names``, in their order,
    the missing ones made; two writers making the same tag at once both get the one row."""
    if not names:
        return []
    existing = _named(model, names)
    missing = [model(name=n) for n in names if n not in existing]
    if missing:
        model._default_manager.bulk_create(missing, ignore_conflicts=True)
        existing = _named(model, names)
    return [existing[n] for n in names]


def _named(model: type[T], names: list[str]) -> dict[str, T]:
    rows = model._default_manager.filter(name__in=names)
    return {row.name: row for row in rows}  # type: ignore[attr-defined]
