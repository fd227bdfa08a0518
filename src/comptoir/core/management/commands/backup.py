"""``comptoir backup [--output PATH] [--format tar.gz|dir]``: one archive of the database, the
stored files and the mail spool, taken while the server runs (``comptoir.core.ops.backup``)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from comptoir.core.ops import OpsError
from comptoir.core.ops.backup import take_backup


class Command(BaseCommand):
    help = (
        "Write a backup: a consistent copy of the database, every stored file and the mail "
        "spool, with a manifest, in one .tar.gz (or a folder). Safe while the server runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            help="Where to write it (default: comptoir-backup-<UTC time>.tar.gz here). "
            "It must not exist yet.",
        )
        parser.add_argument(
            "--format",
            choices=["tar.gz", "dir"],
            default="tar.gz",
            help="A compressed archive (default), or a folder with the same layout.",
        )

    def handle(self, *args, output: Path | str | None, format: str, **options):
        try:
            result = take_backup(output=Path(output) if output else None, folder=format == "dir")
        except OpsError as exc:
            raise CommandError(exc.message) from exc
        manifest = result.manifest
        counts = manifest.counts
        self.stdout.write(
            f"Backup written to {result.path}: {manifest.engine} database "
            f"({counts.get('tickets', 0):,} tickets, {counts.get('articles', 0):,} articles, "
            f"{counts.get('people', 0):,} people), {manifest.files.count:,} files "
            f"({_size(manifest.files.bytes)}), {manifest.mail.count:,} spooled mails."
        )
        if result.skipped:
            self.stdout.write(
                f"{len(result.skipped):,} file(s) were removed while the backup ran and are not "
                "in it (files no ticket names, removed by a cleanup)."
            )


def _size(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TB"  # pragma: no cover - the loop returns at GB
