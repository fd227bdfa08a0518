"""``comptoir cleanup``: remove what is no longer needed (orphan files, old idempotency keys)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from comptoir.core.idempotency import purge_expired
from comptoir.tickets.services import prune_orphan_files


class Command(BaseCommand):
    help = (
        "Remove orphan attachment files and expired Idempotency-Key records. Safe to run any time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--min-age-minutes",
            type=int,
            default=60,
            help="Only files older than this (default 60).",
        )

    def handle(self, *args, min_age_minutes, **options):
        files = prune_orphan_files(older_than=timedelta(minutes=min_age_minutes))
        keys = purge_expired()
        self.stdout.write(
            f"Removed {len(files)} orphan file(s) and {keys} expired idempotency record(s)."
        )
