"""Statements written out, for the few that run on every request, message or ticket.

Compiling a statement through the ORM costs several times what running it does (as for
``core.lookups.any_row``); for the statements on the hottest paths (the mail intake's, the
search index's), the SQL is built once per process from the models' metadata (names quoted,
values always parameters) and the rows are turned into model instances as the ORM would (its
converters, ``Model.from_db``). Everything else goes through the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, Any], Any]


def column(model: type[models.Model], name: str) -> str:
    """The quoted column of ``model``'s field ``name``."""
    return connection.ops.quote_name(str(getattr(model._meta.get_field(name), "column", name)))


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: type[models.Model], alias: str) -> str:
    """Every concrete column of ``model``, in field order, after ``alias.``."""
    return ", ".join(f"{alias}.{column(model, f.name)}" for f in model._meta.concrete_fields)


def statement(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run one statement; its first row, if it returns rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else None


def when(moment: datetime | None) -> Any:
    """A time as the database takes it in a statement written out."""
    return connection.ops.adapt_datetimefield_value(moment)


# --- rows into instances ---------------------------------------------------------------------


@cache
def _converters(vendor: str, model: type[models.Model]) -> list[tuple[Any, list[Converter]]]:
    """For each concrete field of ``model``, its column and what turns the column's value into
    Python's: what the ORM's compiler applies (JSON, dates and booleans on SQLite…)."""
    found = []
    for field in model._meta.concrete_fields:
        col = field.get_col(model._meta.db_table)
        found.append(
            (col, [*connection.ops.get_db_converters(col), *field.get_db_converters(connection)])
        )
    return found


def instance(model: type[M], values: Sequence[Any]) -> M:
    """A ``model`` instance from the values of its concrete columns (``columns`` order), as the
    ORM would build it."""
    converted = []
    for value, (col, converters) in zip(values, _converters(connection.vendor, model), strict=True):
        for convert in converters:
            value = convert(value, col, connection)
        converted.append(value)
    names = [field.attname for field in model._meta.concrete_fields]
    return model.from_db(connection.alias, names, converted)


def instances(models_: Sequence[type[models.Model]], values: Sequence[Any]) -> list[Any]:
    """One instance per model from a row that holds each one's ``columns`` in turn (a join);
    None for a model whose primary key is NULL there (a ``LEFT JOIN`` that found no row)."""
    found, start = [], 0
    for model in models_:
        fields = model._meta.concrete_fields
        end = start + len(fields)
        part = values[start:end]
        found.append(None if part[fields.index(model._meta.pk)] is None else instance(model, part))
        start = end
    return found


# --- inserts ---------------------------------------------------------------------------------


@cache
def _insert_sql(
    vendor: str, model: type[models.Model], rows: int, *, ignore_conflicts: bool, returning: bool
) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    names = ", ".join(column(model, f.name) for f in fields)
    one = f"({', '.join(['%s'] * len(fields))})"
    sql = f"INSERT INTO {table(model)} ({names}) VALUES {', '.join([one] * rows)}"  # noqa: S608
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {column(model, model._meta.pk.name)}"
    return sql, fields


def insert(rows: Iterable[models.Model], *, ignore_conflicts: bool = False) -> None:
    """Insert new instances of one model in one statement, as ``Model.save(force_insert=True)``
    would (their defaults and ``auto_now_add`` applied; no signals: the models written so have
    no receiver). Without ``ignore_conflicts`` each gets its primary key; with it (a row
    already there is left as it was), none does."""
    rows = list(rows)
    if not rows:
        return
    model = type(rows[0])
    returning = not ignore_conflicts
    if returning and len(rows) > 1:  # the order RETURNING gives rows back in is not promised
        for row in rows:
            insert([row])
        return
    if returning and not connection.features.can_return_columns_from_insert:
        rows[0].save(force_insert=True)
        return
    sql, fields = _insert_sql(
        connection.vendor, model, len(rows), ignore_conflicts=ignore_conflicts, returning=returning
    )
    params = [
        field.get_db_prep_save(field.pre_save(row, True), connection)
        for row in rows
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchall() if returning else []
    for index, row in enumerate(rows):
        if returning:
            row.pk = keys[index][0]
        row._state.adding = False
        row._state.db = connection.alias


@cache
def _upsert_sql(vendor: str, model: type[models.Model]) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(model._meta.concrete_fields)
    key = column(model, model._meta.pk.name)
    names = ", ".join(column(model, f.name) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    updates = ", ".join(
        f"{column(model, f.name)} = excluded.{column(model, f.name)}"
        for f in fields
        if not f.primary_key
    )
    sql = (
        f"INSERT INTO {table(model)} ({names}) VALUES ({values}) "  # noqa: S608
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
    return sql, fields


def upsert(row: models.Model) -> None:
    """Write ``row`` whole, over the row of the same primary key if there is one: one statement
    (``INSERT … ON CONFLICT … DO UPDATE``, on SQLite and PostgreSQL alike); for rows whose
    key is given, not generated. No signals."""
    sql, fields = _upsert_sql(connection.vendor, type(row))
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
