"""``comptoir restore ARCHIVE [--yes]``: a backup back into this install, after checking all of
it, then ``migrate`` (``comptoir.core.ops.restore``). Stop the server and workers first."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from comptoir.core.ops import OpsError
from comptoir.core.ops.restore import restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup of `comptoir backup` (a .tar.gz or a folder) into the configured "
        "database and storage, then migrate. Stop the server and workers first."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path, help="The .tar.gz or folder to restore.")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Replace a database that already holds tickets.",
        )

    def handle(self, *args, archive: Path | str, yes: bool, **options):
        try:
            result = restore_backup(Path(archive), confirmed=yes, say=self.stdout.write)
        except OpsError as exc:
            raise CommandError(exc.message) from exc
        manifest = result.manifest
        self.stdout.write(
            f"Restored the backup of {manifest.created_at} (Comptoir "
            f"{manifest.comptoir_version}): {result.tickets:,} tickets, {result.files:,} files, "
            f"{result.mail:,} spooled mails. Run `comptoir search rebuild` if search misses "
            "anything."
        )
