"""Short-lived, per-process copies of the rows every API request reads.

Every request reads the caller's token, user and organisation, the desk it names and the caller's
roles: rows that change a few times a year, read hundreds of times a second. Reading them through
the ORM is most of a small request's time (docs/performance.md). A :class:`RowCache` keeps them
for ``COMPTOIR_CACHE_SECONDS`` (5 by default, 0 turns caching off) in the process's memory.

What is cached is never trusted for longer than that: a change made through this process drops its
entry at once (the owning app connects the drop to the models' save and delete), and another
process sees it when its own copy expires. The expiry of a token is checked on every request, not
cached. ADR 12 says why this bound is acceptable and where it is not used.

Callers get a fresh model instance built from the cached values on each read (:func:`freeze`,
:func:`thaw`), so a request that changes its copy changes nobody else's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import models

M = TypeVar("M", bound=models.Model)
V = TypeVar("V")

_registry: list[RowCache] = []

#: An entry count past which a cache starts over (a bound on memory, not an eviction policy:
#: the entries of a busy process are a few hundred tokens, users and desks).
MAX_ENTRIES = 10_000


def ttl() -> float:
    return float(getattr(settings, "COMPTOIR_CACHE_SECONDS", 5))


class RowCache:
    """A dict with an expiry per entry, safe to share between the threads of a process."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        _registry.append(self)

    def get(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The cached value for ``key``, or ``load()`` (cached unless it is None)."""
        seconds = ttl()
        if seconds <= 0:
            return load()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()
        if value is not None:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + seconds, value)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Replace ``key``'s value (a change this process made and wrote itself)."""
        if ttl() > 0:
            self._entries[key] = (time.monotonic() + ttl(), value)

    def drop(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


def drop_on_change(cache: RowCache, key: Hashable | None = None) -> None:
    """Drop ``key`` (every entry when None) now and again when the change commits, so that a
    request reading the row between the two cannot keep the old version."""
    from django.db import transaction

    def drop() -> None:
        cache.clear() if key is None else cache.drop(key)

    drop()
    transaction.on_commit(drop)


def clear_all() -> None:
    """Forget every cached row of this process (tests, and a change that touches many rows)."""
    for cache in _registry:
        cache.clear()


@dataclass(frozen=True)
class Frozen:
    """A model row's field values, and the frozen rows it was read with (``select_related``)."""

    model: type[models.Model]
    db: str | None
    names: tuple[str, ...]
    values: tuple[Any, ...]
    related: tuple[tuple[str, Frozen | None], ...] = ()


def freeze(instance: models.Model, *related: str, skip: tuple[str, ...] = ()) -> Frozen:
    """The values of ``instance``'s loaded fields and of the named, already loaded relations.

    Fields in ``skip`` are left out: on the thawed instance they are deferred, read from the
    database if used, and left alone by ``save()`` (a counter other requests move, for one).
    """
    deferred = instance.get_deferred_fields() | set(skip)
    fields = [f for f in instance._meta.concrete_fields if f.attname not in deferred]
    nested = []
    for name in related:
        head, _, rest = name.partition("__")
        target = getattr(instance, head)
        nested.append((head, freeze(target, *([rest] if rest else [])) if target else None))
    return Frozen(
        model=type(instance),
        db=instance._state.db,
        names=tuple(f.attname for f in fields),
        values=tuple(copy.deepcopy(getattr(instance, f.attname)) for f in fields),
        related=tuple(nested),
    )


def thaw(frozen: Frozen) -> Any:
    """A new instance of the frozen row, as if read from the database, with its relations."""
    values = [copy.deepcopy(v) if isinstance(v, list | dict) else v for v in frozen.values]
    instance = frozen.model.from_db(frozen.db, list(frozen.names), values)
    for name, nested in frozen.related:
        field = frozen.model._meta.get_field(name)
        field.set_cached_value(instance, thaw(nested) if nested is not None else None)  # type: ignore[union-attr]
    return instance
