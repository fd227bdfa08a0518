"""A small typed, in-process event bus.

Apps publish past-tense dataclasses (``TicketCreated``); other apps subscribe handlers to the
type. Handlers run after the surrounding transaction commits, so a rolled-back change announces
nothing. A handler that fails is logged and does not undo the change nor stop other handlers.

What must not be lost (an outbound mail, a webhook) is written as an outbox row in the same
transaction as the change: ``subscribe(…, in_transaction=True)`` handlers run at publication,
inside the transaction; if one fails, the change fails with it.
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
_in_transaction: dict[type, list[Handler]] = defaultdict(list)


def subscribe(
    event_type: type[E], *, in_transaction: bool = False
) -> Callable[[Callable[[E], None]], Callable[[E], None]]:
    registry = _in_transaction if in_transaction else _handlers

    def register(handler: Callable[[E], None]) -> Callable[[E], None]:
        if handler not in registry[event_type]:
            registry[event_type].append(handler)
        return handler

    return register


def unsubscribe(event_type: type, handler: Handler) -> None:
    for registry in (_handlers, _in_transaction):
        if handler in registry.get(event_type, []):
            registry[event_type].remove(handler)


def _dispatch(event: object) -> None:
    for event_type in type(event).__mro__:
        for handler in list(_handlers.get(event_type, ())):
            try:
                handler(event)
            except Exception:
                logger.exception("Event handler %r failed on %r", handler, event)


def publish(event: object) -> None:
    """Run the in-transaction subscribers now; deliver to the others once the transaction commits."""
    for event_type in type(event).__mro__:
        for handler in list(_in_transaction.get(event_type, ())):
            handler(event)
    transaction.on_commit(lambda: _dispatch(event), robust=False)
