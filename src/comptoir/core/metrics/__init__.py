"""Prometheus metrics: what each process counts, and what the shared state shows at scrape time.

Every web and worker process of a host counts in files of its own, in one folder
(``COMPTOIR_METRICS_DIR``, ``metrics`` in the data folder by default), through the Prometheus
client's multiprocess mode (ADR 13); a scrape of any web process adds up the files of all the
host's processes. Gauges of the shared state (queue, open tickets, SLA breaches, mail) are read
from the database and the queue when scraped (:mod:`.state`), so every process answers alike.

The client library reads ``PROMETHEUS_MULTIPROC_DIR`` once, when first imported: the settings
set it from ``COMPTOIR_METRICS_DIR``, before anything can import the library.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from prometheus_client import Counter, Histogram, values
from prometheus_client import multiprocess as _multiprocess

_DIRECTORY = Path(settings.COMPTOIR_METRICS_DIR)
if not getattr(values.ValueClass, "_multiprocess", False):
    raise ImproperlyConfigured(
        "The Prometheus client was imported before Comptoir's settings were read: each "
        "process would count on its own. Import it only after Django is set up."
    )

logger = logging.getLogger(__name__)

#: Seconds: from a fast page to the 60 s request timeout of ``comptoir serve``.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900)

HTTP_REQUESTS = Counter(
    "comptoir_http_requests",
    "HTTP requests answered, by method, URL route and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "comptoir_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response is handed to the server).",
    ["method", "route"],
    buckets=REQUEST_BUCKETS,
)
JOBS = Counter(
    "comptoir_jobs",
    "Background jobs by task and outcome (complete, error, retrying, locked, canceled, "
    "expired, revoked, interrupted).",
    ["task", "outcome"],
)
JOB_DURATION = Histogram(
    "comptoir_job_duration_seconds",
    "Time a background job ran, by task (complete or error).",
    ["task"],
    buckets=JOB_BUCKETS,
)

#: Huey's signals that end a job's run, and the outcome label each gives.
_OUTCOMES = {
    "complete": "complete",
    "error": "error",
    "retrying": "retrying",
    "locked": "locked",
    "canceled": "canceled",
    "expired": "expired",
    "revoked": "revoked",
    "interrupted": "interrupted",
}
_started: dict[str, float] = {}
_watched: set[int] = set()


def _on_job_signal(signal: str, task: Any, *args: Any, **kwargs: Any) -> None:
    name = str(getattr(task, "name", "") or "unknown")[:100]
    task_id = str(getattr(task, "id", ""))
    if signal == "executing":
        _started[task_id] = time.perf_counter()
        return
    outcome = _OUTCOMES.get(signal)
    if outcome is None:
        return
    began = _started.pop(task_id, None) if signal != "retrying" else None
    try:
        JOBS.labels(name, outcome).inc()
        if began is not None and outcome in ("complete", "error"):
            JOB_DURATION.labels(name).observe(time.perf_counter() - began)
    except OSError:  # a full or missing metrics folder never stops a job
        logger.warning("Could not count job %s in %s", name, _DIRECTORY, exc_info=True)


def watch_jobs(huey: Any) -> None:
    """Count the jobs this process runs from ``huey`` (once per queue, however often called)."""
    if id(huey) in _watched:
        return
    _watched.add(id(huey))
    huey.signal("executing", *_OUTCOMES)(_on_job_signal)


def clean_directory(directory: Path | None = None) -> int:
    """Remove the files of processes that are no longer running; returns how many.

    Run when ``comptoir serve`` or ``comptoir worker`` starts: a restart begins the counts
    anew, as Prometheus expects after one, while the files of this host's processes still
    running (a worker started apart) are kept, since they are still written to.
    """
    folder = directory or _DIRECTORY
    removed = 0
    for path in folder.glob("*.db"):
        pid_text = path.stem.rsplit("_", 1)[-1]
        if pid_text.isdigit() and not _running(int(pid_text)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    return True


def process_exited(pid: int) -> None:
    """Bookkeeping for a web worker that has exited (Gunicorn's ``child_exit`` hook)."""
    _multiprocess.mark_process_dead(pid, str(_DIRECTORY))


def directory() -> Path:
    return _DIRECTORY


__all__ = [
    "HTTP_REQUESTS",
    "HTTP_REQUEST_DURATION",
    "JOBS",
    "JOB_DURATION",
    "clean_directory",
    "directory",
    "process_exited",
    "watch_jobs",
]
