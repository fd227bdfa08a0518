"""``comptoir cleanup``: remove what is no longer needed (orphan files, old idempotency keys)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from comptoir.core.cleanup import prune_orphan_files
from comptoir.core.idempotency import purge_expired


class Command(BaseCommand):
    help = (
        "Remove stored files no row points to (ticket attachments, knowledge-base files) and "
        "expired Idempotency-Key records. Safe to run any time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--min-age-minutes",
            type=int,
            default=60,
            help="Only files older than this (default 60).",
        )

    def handle(self, *args, min_age_minutes, **options):
        if min_age_minutes < 0:
            self.stderr.write("--min-age-minutes cannot be negative.")
            raise SystemExit(2)
        removed = prune_orphan_files(older_than=timedelta(minutes=min_age_minutes))
        keys = purge_expired()
        total = sum(len(names) for names in removed.values())
        kinds = ", ".join(f"{label} {len(names)}" for label, names in removed.items())
        self.stdout.write(
            f"Removed {total} orphan file(s) ({kinds}) and {keys} expired idempotency record(s)."
        )
