"""``comptoir worker``: run the background job consumer (SLA sweeps, routing hand-overs, mail…).

Each job it runs is counted, by task and outcome, in the host's metrics folder, which a scrape
of ``/metrics`` on any web process of the same host adds up (docs/deploy/observability.md). On
a host without web processes, ``--metrics-port`` serves ``/metrics`` from the worker itself.
"""

from __future__ import annotations

import os

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Run the background worker: the queue's consumer and its periodic jobs. Any number may "
        "run at once, on any machine sharing the database and REDIS_URL."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--threads", type=int, default=None, help="Jobs run at once (default 2)."
        )
        parser.add_argument(
            "--no-periodic",
            action="store_true",
            help="Do not schedule the periodic jobs (another worker does).",
        )
        parser.add_argument("--verbose", action="store_true", help="Log every job.")
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=int(os.environ.get("COMPTOIR_WORKER_METRICS_PORT") or 0),
            help="Serve /metrics on this port (hosts without a web process; default: do not).",
        )
        parser.add_argument(
            "--metrics-host",
            default=os.environ.get("COMPTOIR_WORKER_METRICS_HOST") or "127.0.0.1",
            help="Address for --metrics-port (default 127.0.0.1).",
        )

    def handle(self, *args, threads, no_periodic, verbose, metrics_port, metrics_host, **options):
        arguments: dict = {}
        if threads:
            arguments["workers"] = threads
        if no_periodic:
            arguments["periodic"] = False
        if verbose:
            import logging

            logging.getLogger("huey").setLevel(logging.INFO)
        from django.conf import settings
        from huey.contrib.djhuey import HUEY

        from comptoir.core import metrics

        metrics.clean_directory()
        metrics.watch_jobs(HUEY)
        if metrics_port:
            from comptoir.core.metrics.exporter import start_exporter

            try:
                start_exporter(metrics_host, metrics_port)
            except OSError as exc:
                raise CommandError(
                    f"Cannot serve /metrics on {metrics_host}:{metrics_port}: {exc}"
                ) from exc
            self.stdout.write(f"Metrics on http://{metrics_host}:{metrics_port}/metrics")
        queue = "Redis" if settings.REDIS_URL else settings.HUEY.get("filename", "SQLite")
        self.stdout.write(f"Comptoir worker: queue in {queue}; Ctrl+C to stop.")
        self.stdout.flush()
        call_command("run_huey", **arguments)
