"""A small typed, in-process event bus.

Apps publish past-tense dataclasses (``TicketCreated``); other apps subscribe handlers to the
type. Handlers run after the surrounding transaction commits, so a rolled-back change announces
nothing. A handler that fails is logged and does not undo the change nor stop other handlers:
anything that must not be lost goes through an outbox row written in the same transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], None]

_handlers: dict[type, list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E]) -> Callable[[Callable[[E], None]], Callable[[E], None]]:
    def register(handler: Callable[[E], None]) -> Callable[[E], None]:
        if handler not in _handlers[event_type]:
            _handlers[event_type].append(handler)
        return handler

    return register


def unsubscribe(event_type: type, handler: Handler) -> None:
    if handler in _handlers.get(event_type, []):
        _handlers[event_type].remove(handler)


def _dispatch(event: object) -> None:
    for event_type in type(event).__mro__:
        for handler in list(_handlers.get(event_type, ())):
            try:
                handler(event)
            except Exception:
                logger.exception("Event handler %r failed on %r", handler, event)


def publish(event: object) -> None:
    """Deliver ``event`` to its subscribers once the current transaction commits."""
    transaction.on_commit(lambda: _dispatch(event), robust=False)
