"""Keyset (cursor) pagination: constant cost at any depth, stable while rows are added."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from comptoir.core.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool
    is_datetime: bool = False


def encode_cursor(sort: str, value: Any, pk: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([sort, value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, key: SortKey) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if name != sort or not isinstance(pk, int):
            raise ValueError("cursor of another sort")
        if key.is_datetime:
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int):
            raise ValueError("bad value")
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DomainError(
            ErrorCode.INVALID_CURSOR,
            "The cursor is not valid for this sort; start again without it.",
        ) from exc
    return value, pk


def page(
    queryset: QuerySet, *, sort: str, key: SortKey, cursor: str | None, limit: int
) -> tuple[list, str | None]:
    """One page of ``queryset`` ordered by ``key`` then id, and the cursor of the next page."""
    direction = "-" if key.descending else ""
    queryset = queryset.order_by(f"{direction}{key.field}", f"{direction}id")
    if cursor:
        value, pk = decode_cursor(cursor, sort, key)
        op = "lt" if key.descending else "gt"
        # The first bound is implied by the second; written out, it gives the database an
        # index range to start from, so a page deep in the list costs what the first one does.
        queryset = queryset.filter(
            Q(**{f"{key.field}__{op}": value}) | Q(**{key.field: value, f"id__{op}": pk}),
            **{f"{key.field}__{op}e": value},
        )
    rows = list(queryset[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(sort, getattr(last, key.field), last.pk)
    return rows, next_cursor
