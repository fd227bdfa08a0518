"""Who else has a ticket open: a mark per ticket in the cache, refreshed by the page's poll.

Without a poll for ``PRESENCE_SECONDS`` a person's mark is gone (a closed tab, a lost network).
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.http import HttpRequest

from comptoir.tickets.models import Ticket

#: How often the page asks (seconds).
POLL_SECONDS = 10
#: A mark older than this is gone: three polls missed (a closed tab, a lost network).
PRESENCE_SECONDS = 30


def _now() -> float:
    return time.time()


def _key(ticket_id: int) -> str:
    return f"comptoir:presence:ticket:{ticket_id}"


def mark_presence(ticket_id: int, user_id: int, name: str) -> list[str]:
    """Note that this person has the ticket open now; the names of the others who do.

    One cache entry per ticket maps each viewer to their name and last poll. Two polls landing
    at the same instant may drop one of the marks until its next poll, ten seconds later.
    """
    now = _now()
    seen = cache.get(_key(ticket_id)) or {}
    if not isinstance(seen, dict):
        seen = {}
    fresh = {
        uid: (who, at)
        for uid, (who, at) in seen.items()
        if now - at < PRESENCE_SECONDS and uid != user_id
    }
    others = sorted(who for who, _at in fresh.values())
    fresh[user_id] = (name, now)
    cache.set(_key(ticket_id), fresh, PRESENCE_SECONDS)
    return others


def live_context(request: HttpRequest, ticket: Ticket, last_event_id: int, shown: str = "") -> dict:
    """The live strip: the last event the page shows, the state its buttons were drawn for
    (``shown``, see ``views.shown_state``), and who else is looking."""
    user = request.user
    return {
        "ticket": ticket,
        "last_event_id": last_event_id,
        "shown": shown,
        "others": mark_presence(ticket.pk, int(user.pk or 0), str(user)),  # str: the name
        "poll_seconds": POLL_SECONDS,
    }
