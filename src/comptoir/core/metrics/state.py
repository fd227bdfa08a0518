"""Gauges of the shared state, read when scraped: the queue, open tickets, SLA breaches, mail.

Every web process answers the same, since all read the same database and queue. Each figure is
one grouped query on indexed columns (or a count the queue keeps), never a query per row, and
the whole reading is kept for ``COMPTOIR_METRICS_CACHE_SECONDS`` in Django's cache (Redis when
configured), so that scrapes of many processes cost one reading per interval.

Core imports no other app: the models are reached through the app registry, and the labels are
desk slugs, statuses and SLA metrics only, never anything a ticket says or who it is about.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

CACHE_KEY = "comptoir:metrics:state"
OPEN_CATEGORIES = ("open", "pending")


def _desk_slugs() -> dict[int, str]:
    Desk = apps.get_model("desks", "Desk")
    return dict(Desk.objects.values_list("id", "slug"))


def _open_tickets(slugs: dict[int, str]) -> list[tuple[str, str, int]]:
    Ticket = apps.get_model("tickets", "Ticket")
    rows = (
        Ticket.objects.filter(status_category__in=OPEN_CATEGORIES)
        .order_by()
        .values_list("desk_id", "status")
        .annotate(n=Count("pk"))
    )
    return [(slugs.get(desk, str(desk)), status, n) for desk, status, n in rows]


def _breached_clocks(slugs: dict[int, str]) -> list[tuple[str, str, int]]:
    """Clocks of tickets still being worked on whose target has passed (recorded or not yet)."""
    SlaClock = apps.get_model("sla", "SlaClock")
    rows = (
        SlaClock.objects.exclude(state="stopped")
        .filter(Q(breached_at__isnull=False) | Q(state="running", due_at__lt=timezone.now()))
        .order_by()
        .values_list("ticket__desk_id", "metric")
        .annotate(n=Count("pk"))
    )
    return [(slugs.get(desk, str(desk)), metric, n) for desk, metric, n in rows]


def _mail(app_model: str, statuses: tuple[str, ...]) -> dict[str, int]:
    Model = apps.get_model("mail", app_model)
    counts = dict.fromkeys(statuses, 0)
    rows = (
        Model.objects.filter(status__in=statuses)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    counts.update({status: n for status, n in rows})
    return counts


def read_state() -> dict[str, Any]:
    """One reading of the shared state; a part that cannot be read is left out and marked down."""
    state: dict[str, Any] = {"up": {}}
    try:
        from huey.contrib.djhuey import HUEY

        state["queue"] = {"pending": HUEY.pending_count(), "scheduled": HUEY.scheduled_count()}
        state["up"]["queue"] = 1
    except Exception:
        logger.warning("Metrics: the queue could not be read", exc_info=True)
        state["up"]["queue"] = 0
    try:
        slugs = _desk_slugs()
        state["tickets"] = _open_tickets(slugs)
        state["breaches"] = _breached_clocks(slugs)
        state["outbound"] = _mail("OutboundMessage", ("pending", "failed"))
        state["inbound"] = _mail("InboundMessage", ("received", "failed"))
        state["up"]["database"] = 1
    except Exception:
        logger.warning("Metrics: the database could not be read", exc_info=True)
        state["up"]["database"] = 0
    return state


def cached_state() -> dict[str, Any]:
    seconds = settings.COMPTOIR_METRICS_CACHE_SECONDS
    if seconds <= 0:
        return read_state()
    try:
        state = cache.get(CACHE_KEY)
    except Exception:  # the cache down must not hide the figures the database still gives
        state = None
    if state is None:
        state = read_state()
        try:
            cache.set(CACHE_KEY, state, seconds)
        except Exception:
            logger.warning("Metrics: the cache could not keep the state", exc_info=True)
    return state


class StateCollector(Collector):
    """Prometheus collector of :func:`cached_state`, registered in each scrape's registry."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = cached_state()
        yield _gauges(
            "comptoir_state_up",
            "1 if the source of the state gauges (database, queue) could be read at this scrape.",
            ["source"],
            [((source,), value) for source, value in sorted(state["up"].items())],
        )
        if "queue" in state:
            yield GaugeMetricFamily(
                "comptoir_queue_pending_jobs",
                "Background jobs waiting for a worker.",
                value=state["queue"]["pending"],
            )
            yield GaugeMetricFamily(
                "comptoir_queue_scheduled_jobs",
                "Background jobs scheduled for later (retries, delayed jobs).",
                value=state["queue"]["scheduled"],
            )
        if "tickets" in state:
            yield _gauges(
                "comptoir_tickets_open",
                "Tickets not resolved or closed, by desk and status.",
                ["desk", "status"],
                [((desk, status), n) for desk, status, n in state["tickets"]],
            )
            yield _gauges(
                "comptoir_sla_breached_clocks",
                "SLA targets breached on tickets still being worked on, by desk and metric.",
                ["desk", "metric"],
                [((desk, metric), n) for desk, metric, n in state["breaches"]],
            )
            yield _gauges(
                "comptoir_mail_outbound_messages",
                "Outgoing mail waiting to be sent (pending) or given up on (failed).",
                ["status"],
                [((status,), n) for status, n in state["outbound"].items()],
            )
            yield _gauges(
                "comptoir_mail_inbound_messages",
                "Received mail not processed yet (received) or that could not be (failed).",
                ["status"],
                [((status,), n) for status, n in state["inbound"].items()],
            )


def _gauges(name: str, documentation: str, labels: list[str], rows) -> GaugeMetricFamily:
    """A gauge family with one sample per ``(label values, value)`` row."""
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in rows:
        family.add_metric(list(values), value)
    return family
