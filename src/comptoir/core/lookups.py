"""How the doors name things: a slug, or a numeric id."""

from __future__ import annotations

from django.db.models import Q


def slug_or_id(value: str | int, *, slug_field: str = "slug") -> Q:
    """Match ``value`` against the slug field, and against the id when it is all digits."""
    text = str(value).strip()
    query = Q(**{slug_field: text})
    if text.isdigit():
        query |= Q(pk=int(text))
    return query
