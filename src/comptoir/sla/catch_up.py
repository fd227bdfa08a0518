"""Recomputing the clocks a lost job left stale.

A ticket's clocks are recomputed by a job queued after each change to it. That job can be lost:
the worker that took it was killed, or Redis restarted before a worker took it. Every change
moves the ticket's ``updated_at``, so the database alone says which tickets may have stale
clocks: those changed since the last catch-up. ``catch_up_clocks`` (run by the minute's sweep,
before the thresholds are acted on) recomputes the clocks of the tickets changed between its
mark and the grace period ago, on desks with an active policy or with clocks to stop, and moves
its mark on. Recomputing is idempotent: a ticket whose job did run changes nothing.

The mark lives in the cache (Redis when there is one). When it is missing (first run, Redis
restarted empty), the catch-up starts ``LOOKBACK`` ago: a restart of Redis, which loses its
queued jobs, is made up within the next minutes.

A job that did run says so in the cache too (``note_refreshed``: the ticket's ``updated_at``
its recompute read), and the catch-up skips the tickets whose last change it covered, so that
a ticket's clocks are not recomputed twice for one change. Without the note (Redis restarted,
the note expired) the catch-up recomputes: it never skips on a guess.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from comptoir.sla.models import SlaClock, SlaPolicy
from comptoir.sla.services import refresh_clocks
from comptoir.tickets.models import Ticket

logger = logging.getLogger(__name__)

#: How far back the catch-up starts when it has no mark.
LOOKBACK = timedelta(hours=6)
#: The cache key of the mark (per queue, as the jobs are).
MARK_KEY = "sla:clocks-caught-up-to:{queue}"


def grace() -> timedelta:
    """How old a change must be before the catch-up recomputes its clocks in place of its job."""
    return timedelta(seconds=max(int(settings.COMPTOIR_CATCH_UP_AFTER_SECONDS), 0))


#: The cache key of a ticket's note: the ``updated_at`` its job's recompute read.
REFRESHED_KEY = "sla:clocks-refreshed:{queue}:{ticket}"


def _mark_key() -> str:
    return MARK_KEY.format(queue=settings.HUEY.get("name", "comptoir"))


def _refreshed_key(ticket_id: int) -> str:
    return REFRESHED_KEY.format(queue=settings.HUEY.get("name", "comptoir"), ticket=ticket_id)


def note_refreshed(ticket_id: int, seen: datetime | None) -> None:
    """Say that the clocks of ``ticket_id`` are true as of its change at ``seen`` (its job
    ran), for as long as the catch-up may look back."""
    if seen is not None:
        cache.set(_refreshed_key(ticket_id), seen, timeout=int(LOOKBACK.total_seconds()))


def _noted(rows: list[tuple[int, datetime]]) -> set[int]:
    """The tickets of ``rows`` whose job recomputed their clocks as of their last change: the
    note holds that very ``updated_at`` (a job never reads a later one than the ticket has; an
    earlier one is a change since)."""
    notes = cache.get_many([_refreshed_key(pk) for pk, _ in rows])
    return {pk for pk, updated_at in rows if notes.get(_refreshed_key(pk)) == updated_at}


def _changed(since: datetime, until: datetime, batch: int) -> list[tuple[int, datetime]]:
    with_policy = SlaPolicy.objects.filter(is_active=True).values("desk_id")
    has_clock = SlaClock.objects.filter(ticket_id=OuterRef("pk"))
    return list(
        Ticket.objects.filter(updated_at__gte=since, updated_at__lte=until)
        .filter(Q(desk_id__in=with_policy) | Q(Exists(has_clock)))
        .order_by("updated_at", "pk")
        .values_list("pk", "updated_at")[:batch]
    )


def catch_up_clocks(
    *, now: datetime | None = None, batch: int = 200, budget_seconds: float = 30.0
) -> int:
    """Recompute the clocks of the tickets changed since the mark whose job did not; returns
    how many tickets were recomputed.

    Works for ``budget_seconds`` at most; what is left waits for the next sweep.
    """
    now = now or timezone.now()
    until = now - grace()
    mark = cache.get(_mark_key())
    since = mark if isinstance(mark, datetime) else now - LOOKBACK
    if since > until:  # written by a machine whose clock is ahead of ours: look a little back
        since = until - grace() - timedelta(minutes=1)
    started = time.monotonic()
    done = 0
    while True:
        rows = _changed(since, until, batch)
        noted = _noted(rows)
        for ticket_id, _ in rows:
            if ticket_id in noted:
                continue
            try:
                refresh_clocks(ticket_id, now=now)
            except Exception:  # one ticket's trouble never stops the others
                logger.exception("Recomputing the clocks of ticket %s failed", ticket_id)
            done += 1
        if len(rows) < batch:
            cache.set(_mark_key(), until, timeout=None)
            return done
        last = rows[-1][1]
        if last == since:  # a whole batch changed at one instant: step over it
            last = since + timedelta(microseconds=1)
        since = last
        cache.set(_mark_key(), since, timeout=None)
        if time.monotonic() - started > budget_seconds:
            return done
