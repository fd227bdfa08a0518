"""``comptoir db copy --to DATABASE_URL [--batch-size N]``: move every row of the current
database (normally SQLite) into an empty PostgreSQL database (``comptoir.core.ops.copy``)."""

from __future__ import annotations

from typing import IO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from comptoir.core.ops import OpsError
from comptoir.core.ops.copy import copy_database
from comptoir.core.progress import ProgressBar


class Command(BaseCommand):
    help = (
        "Database operations. 'copy --to postgres://…' copies every row of the current database "
        "into an empty PostgreSQL database, checks the counts, and rebuilds search there. Stop "
        "the server and workers first; files stay where they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["copy"])
        parser.add_argument(
            "--to",
            dest="to",
            metavar="DATABASE_URL",
            help="The empty PostgreSQL database: postgres://USER:PASSWORD@HOST:5432/NAME.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="Rows per transaction (default 1000)."
        )

    def handle(self, *args, action: str, to: str | None, batch_size: int, **options):
        if not to:
            raise CommandError("Say where to copy to: --to postgres://USER:PASSWORD@HOST/NAME.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        bar = ProgressBar(self.stdout, unit="rows")
        try:
            result = copy_database(
                to=to,
                batch_size=batch_size,
                progress=bar,
                search_output=cast(IO[str], self.stdout._out),
            )
        except OpsError as exc:
            bar.close()
            raise CommandError(exc.message) from exc
        rows = sum(result.tables.values())
        self.stdout.write(
            f"Copied {rows:,} rows of {len(result.tables)} tables in {result.seconds:.1f} s; "
            "every table's count matches."
        )
        self.stdout.write(
            f"Files were not copied: they stay in {settings.MEDIA_ROOT} (and mail in "
            f"{settings.COMPTOIR_MAIL_SPOOL_DIR}). Give the PostgreSQL install the same "
            "COMPTOIR_DATA_DIR (or COMPTOIR_MEDIA_DIR and COMPTOIR_MAIL_SPOOL_DIR), set "
            "DATABASE_URL to the target, and start it."
        )
