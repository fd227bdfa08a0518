"""``copy_database``: every row of the current database (normally SQLite) into an empty
PostgreSQL database, without loss.

1. Checks first: the target is PostgreSQL, is not the current database and holds no ticket; the
   current database has every migration applied.
2. ``migrate`` on the target, then its tables emptied of what migrating wrote there (content
   types, permissions), so that every row keeps its id.
3. Every model's rows, many-to-many tables included, table by table in dependency order (the
   app registry's foreign keys), in batches keyed by primary key, each batch in its own
   transaction. A reference that cannot be written yet, to a row of the same table or of a
   table copied later (a ticket's parent, a desk's default team), is written empty and filled
   in once every table is there.
4. The target's sequences set past the highest ids; every table's row count compared.
5. The search index rebuilt on the target, through ``comptoir search rebuild``.

Values travel as the ORM reads and writes them (dates, JSON, booleans…), never as the source's
raw storage. Files are not copied: they stay in the storage, which both databases share.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import dj_database_url
from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.db.migrations.executor import MigrationExecutor

from comptoir.core.ops import OpsError
from comptoir.core.ops.restore import tickets_in

TARGET = "comptoir_copy_target"
#: Parameters in one INSERT, well under PostgreSQL's limit of 65,535.
MAX_PARAMETERS = 30_000

#: Told (table, rows copied, rows in all) after each batch of a table, and once before it.
Progress = Callable[[str, int, int], None]


@dataclass
class CopyResult:
    tables: dict[str, int]  # table: rows copied
    seconds: float


def target_settings(url: str) -> dict[str, Any]:
    try:
        settings_dict = dj_database_url.parse(url)
    except ValueError as exc:
        raise OpsError("target_invalid", f"The target is not a database URL: {exc}.") from exc
    if settings_dict.get("ENGINE") != "django.db.backends.postgresql":
        raise OpsError(
            "target_invalid",
            "The target must be a PostgreSQL database: postgres://USER:PASSWORD@HOST:5432/NAME.",
        )
    if not settings_dict.get("NAME"):
        raise OpsError("target_invalid", "The target URL names no database.")
    return dict(settings_dict)


def _same_database(source: Any, target: dict[str, Any]) -> bool:
    ours = source.settings_dict
    return source.vendor == "postgresql" and all(
        str(ours.get(key) or "") == str(target.get(key) or "") for key in ("HOST", "PORT", "NAME")
    )


@contextmanager
def target_connection(settings_dict: dict[str, Any]) -> Iterator[Any]:
    """The target as a database alias of its own, for the length of the block."""
    configured = connections.configure_settings({DEFAULT_DB_ALIAS: dict(settings_dict)})
    connections.settings[TARGET] = configured[DEFAULT_DB_ALIAS]
    try:
        target = connections[TARGET]
        try:
            target.ensure_connection()
        except DatabaseError as exc:
            raise OpsError(
                "target_invalid",
                f"Cannot connect to the target database {settings_dict.get('NAME')}: "
                f"{str(exc).strip()}",
            ) from exc
        yield target
    finally:
        try:
            connections[TARGET].close()
            del connections[TARGET]
        except AttributeError:  # pragma: no cover - never opened
            pass
        connections.settings.pop(TARGET, None)


@contextmanager
def as_default(alias: str) -> Iterator[None]:
    """In this thread, code that uses the default database uses ``alias`` instead: how the
    search app's own command rebuilds the index on the target, without core importing it."""
    saved = connections[DEFAULT_DB_ALIAS]
    connections[DEFAULT_DB_ALIAS] = connections[alias]
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = saved


def copied_models() -> list[type[models.Model]]:
    """Every model with a table of its own, the auto-created many-to-many tables included."""
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and not model._meta.swapped
    ]


def copy_order(
    chosen: list[type[models.Model]],
) -> tuple[list[type[models.Model]], dict[type[models.Model], list[Any]]]:
    """The models in an order where each comes after those it refers to, and per model the
    references written later (to itself, or breaking a cycle where the reference may be empty).
    """
    members = set(chosen)
    needs: dict[type[models.Model], dict[type[models.Model], list[Any]]] = {}
    late: dict[type[models.Model], list[Any]] = defaultdict(list)
    for model in chosen:
        needs[model] = defaultdict(list)
        for field in model._meta.concrete_fields:
            if not field.is_relation or field.related_model is None:
                continue
            other = field.related_model._meta.concrete_model
            if other is model:
                if field.null:
                    late[model].append(field)
            elif other in members:
                needs[model][other].append(field)
    order: list[type[models.Model]] = []
    placed: set[type[models.Model]] = set()
    remaining = sorted(chosen, key=lambda model: model._meta.label)

    def unmet(model: type[models.Model]) -> list[Any]:
        return [f for other, fields in needs[model].items() if other not in placed for f in fields]

    while remaining:
        ready = [model for model in remaining if not unmet(model)]
        if not ready:
            breakable = [m for m in remaining if all(field.null for field in unmet(m))]
            if not breakable:  # pragma: no cover - the models have no such cycle
                names = ", ".join(m._meta.label for m in remaining)
                raise RuntimeError(f"A cycle of required references between {names}.")
            chosen_one = min(breakable, key=lambda m: (len(unmet(m)), m._meta.label))
            late[chosen_one].extend(unmet(chosen_one))
            ready = [chosen_one]
        for model in ready:
            order.append(model)
            placed.add(model)
            remaining.remove(model)
    return order, dict(late)


def copy_database(
    *,
    to: str,
    batch_size: int = 1000,
    progress: Progress | None = None,
    search_output: IO[str] | None = None,
) -> CopyResult:
    if batch_size < 1:
        raise OpsError("target_invalid", "--batch-size must be at least 1.")
    started = time.monotonic()
    source = connections[DEFAULT_DB_ALIAS]
    wanted = target_settings(to)
    if _same_database(source, wanted):
        raise OpsError("target_invalid", "The target is the current database.")
    executor = MigrationExecutor(source)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if unapplied:
        raise OpsError(
            "source_not_migrated",
            f"The current database lacks {len(unapplied)} migration(s): run `comptoir migrate` "
            "first, then copy.",
        )
    tell = progress or (lambda table, done, total: None)
    with target_connection(wanted) as target:
        if tickets_in(target):
            raise OpsError(
                "target_not_empty",
                f"The target database {wanted['NAME']} already holds tickets. Copy into an "
                "empty database (createdb NAME).",
            )
        call_command("migrate", database=TARGET, interactive=False, verbosity=0)
        order, late = copy_order(copied_models())
        _empty(target, order)
        copied = {
            model._meta.db_table: _copy_rows(
                model, source, target, late.get(model, []), batch_size, tell
            )
            for model in order
        }
        for model, fields in late.items():
            _fill_late(model, fields, source, target, batch_size)
        _reset_sequences(target, order)
        _compare_counts(order, source, target)
        with as_default(TARGET):
            call_command("search", "rebuild", batch_size=batch_size, stdout=search_output)
    return CopyResult(tables=copied, seconds=time.monotonic() - started)


def _empty(target: Any, order: list[type[models.Model]]) -> None:
    existing = set(target.introspection.table_names())
    tables = [model._meta.db_table for model in order if model._meta.db_table in existing]
    statements = target.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    with transaction.atomic(using=TARGET), target.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _copy_rows(
    model: type[models.Model],
    source: Any,
    target: Any,
    late: list[Any],
    batch_size: int,
    tell: Progress,
) -> int:
    fields = [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]
    names = [field.attname for field in fields]
    later = {field.attname for field in late}
    quote = target.ops.quote_name
    table = model._meta.db_table
    columns = ", ".join(quote(field.column) for field in fields)
    insert = f"INSERT INTO {quote(table)} ({columns}) VALUES "  # noqa: S608 - our own names
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = max(1, min(batch_size, MAX_PARAMETERS // len(fields)))
    key = names.index(model._meta.pk.attname)
    manager = model._base_manager.using(source.alias)
    rows = manager.order_by("pk").values_list(*names)
    total = manager.count()
    done, last = 0, None
    tell(table, 0, total)
    while True:
        batch = list((rows if last is None else rows.filter(pk__gt=last))[:batch_size])
        if not batch:
            break
        values = [
            [
                None if field.attname in later else field.get_db_prep_save(value, target)
                for field, value in zip(fields, row, strict=True)
            ]
            for row in batch
        ]
        with transaction.atomic(using=TARGET), target.cursor() as cursor:
            for start in range(0, len(values), per_statement):
                chunk = values[start : start + per_statement]
                cursor.execute(
                    insert + ", ".join([row_marks] * len(chunk)),
                    [value for row in chunk for value in row],
                )
        done += len(batch)
        last = batch[-1][key]
        tell(table, done, total)
    return done


def _fill_late(
    model: type[models.Model], fields: list[Any], source: Any, target: Any, batch_size: int
) -> None:
    """Write the references left empty by ``_copy_rows``, now that every row is there."""
    pk = model._meta.pk
    quote = target.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    update = (
        f"UPDATE {quote(model._meta.db_table)} SET {assignments} "  # noqa: S608 - our own names
        f"WHERE {quote(pk.column)} = %s"
    )
    filled = models.Q()
    for field in fields:
        filled |= models.Q(**{f"{field.attname}__isnull": False})
    rows = (
        model._base_manager.using(source.alias)
        .filter(filled)
        .order_by("pk")
        .values_list("pk", *[field.attname for field in fields])
    )
    last = None
    while True:
        batch = list((rows if last is None else rows.filter(pk__gt=last))[:batch_size])
        if not batch:
            break
        parameters = [
            [
                field.get_db_prep_save(value, target)
                for field, value in zip(fields, row[1:], strict=True)
            ]
            + [pk.get_db_prep_save(row[0], target)]
            for row in batch
        ]
        with transaction.atomic(using=TARGET), target.cursor() as cursor:
            cursor.executemany(update, parameters)
        last = batch[-1][0]


def _reset_sequences(target: Any, order: list[type[models.Model]]) -> None:
    with transaction.atomic(using=TARGET), target.cursor() as cursor:
        for statement in target.ops.sequence_reset_sql(no_style(), order):
            cursor.execute(statement)


def _compare_counts(order: list[type[models.Model]], source: Any, target: Any) -> None:
    differ = []
    for model in order:
        mine = model._base_manager.using(source.alias).count()
        theirs = model._base_manager.using(target.alias).count()
        if mine != theirs:
            differ.append(f"{model._meta.db_table}: {mine:,} here, {theirs:,} in the target")
    if differ:
        raise OpsError(
            "counts_differ",
            "The copy is not whole: "
            + "; ".join(differ)
            + ". Was the current database written to meanwhile? Stop the server and workers, "
            "drop and create the target database, and copy again.",
            tables=differ[:50],
        )
