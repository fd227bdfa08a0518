"""``comptoir db copy --to DATABASE_URL [--batch-size N]``: move every row of the current
database (normally SQLite) into an empty PostgreSQL database (``comptoir.core.ops.copy``)."""

from __future__ import annotations

import time
from typing import IO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from comptoir.core.ops import OpsError
from comptoir.core.ops.copy import copy_database


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
        bar = TableBar(self.stdout)
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


class TableBar:
    """One line per table, redrawn in place on a terminal; otherwise a line every 10 %."""

    WIDTH = 30

    def __init__(self, out) -> None:
        self.out = out
        self.tty = out.isatty()
        self.table: str | None = None
        self.shown = -1
        self.started = time.monotonic()
        self.open_line = False

    def __call__(self, table: str, done: int, total: int) -> None:
        if table != self.table:
            self.close()
            self.table, self.shown, self.started = table, -1, time.monotonic()
        share = done / total if total else 1.0
        step = int(share * 10)
        if not self.tty:
            if step == self.shown or (done == 0 and total):
                return
            self.shown = step
        filled = int(share * self.WIDTH)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        line = (
            f"{table:<36} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{done:,}/{total:,} {rate:,.0f} rows/s"
        )
        if self.tty:
            self.out.write("\r" + line, ending="")
            self.out.flush()
            self.open_line = True
            if done >= total:
                self.close()
        else:
            self.out.write(line)

    def close(self) -> None:
        if self.open_line:
            self.out.write("")
            self.open_line = False
