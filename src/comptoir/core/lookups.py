"""How the doors name things (a slug, or a numeric id), and quick lookups by column."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model, Q


def slug_or_id(value: str | int, *, slug_field: str = "slug") -> Q:
    """Match ``value`` against the slug field, and against the id when it is all digits."""
    text = str(value).strip()
    query = Q(**{slug_field: text})
    if text.isdigit():
        query |= Q(pk=int(text))
    return query


def any_row(model: type[Model], **equal: Any) -> bool:
    """Whether a row of ``model`` has these column values: ``.filter(**equal).exists()`` in
    one statement the ORM does not have to compile, for checks made on every request."""
    ops = connection.ops
    columns = [model._meta.get_field(name).column for name in equal]  # type: ignore[union-attr]
    where = " AND ".join(f"{ops.quote_name(str(column))} = %s" for column in columns)
    sql = f"SELECT 1 FROM {ops.quote_name(model._meta.db_table)} WHERE {where} LIMIT 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, list(equal.values()))
        return cursor.fetchone() is not None
