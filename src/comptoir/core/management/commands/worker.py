"""``comptoir worker``: run the background job consumer (SLA sweeps, routing hand-overs, mail…)."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand


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

    def handle(self, *args, threads, no_periodic, verbose, **options):
        arguments: dict = {}
        if threads:
            arguments["workers"] = threads
        if no_periodic:
            arguments["periodic"] = False
        if verbose:
            import logging

            logging.getLogger("huey").setLevel(logging.INFO)
        from django.conf import settings

        queue = "Redis" if settings.REDIS_URL else settings.HUEY.get("filename", "SQLite")
        self.stdout.write(f"Comptoir worker: queue in {queue}; Ctrl+C to stop.")
        self.stdout.flush()
        call_command("run_huey", **arguments)
