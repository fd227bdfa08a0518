"""``restore_backup``: an archive of ``comptoir backup`` back into the configured install.

Everything that can be checked is checked before anything is written: the target holds no
ticket (or the operator said ``--yes``), the whole archive is read and every member found safe
(``archive.verify``: names, types, digests, a manifest at the end), its database is of the
configured engine and has no migration this code does not know (a newer Comptoir), a SQLite
copy passes ``PRAGMA quick_check``, and ``pg_restore`` is there and recent enough. Then:

1. the database: SQLite through the online backup API into the database file, which refuses
   while another process (a server, a worker) has it open; PostgreSQL with ``pg_restore
   --clean --if-exists --no-owner`` in one transaction;
2. the files into the storage and the mail spool, each under its name (a file of the same name
   is replaced; other files are left alone);
3. ``migrate``: an archive of an older Comptoir is brought up to date.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from django.apps import apps
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import Storage, default_storage
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader

from comptoir.core.ops import OpsError, postgres
from comptoir.core.ops.archive import (
    FILES,
    MAIL,
    Archive,
    Manifest,
    copy_exactly,
    open_archive,
    unsafe,
    verify,
)
from comptoir.core.ops.backup import comptoir_version, sqlite_path


@dataclass
class RestoreResult:
    manifest: Manifest
    tickets: int
    files: int
    mail: int


def restore_backup(
    archive_path: Path, *, confirmed: bool, say: Callable[[str], None] = lambda _: None
) -> RestoreResult:
    connection = connections[DEFAULT_DB_ALIAS]
    engine = connection.vendor
    if engine not in ("sqlite", "postgresql"):
        raise OpsError(
            "engine_unsupported", f"Restores support SQLite and PostgreSQL, not {engine}."
        )
    archive = open_archive(Path(archive_path))
    target = sqlite_path(connection) if engine == "sqlite" else None
    if not confirmed and tickets_in(connection) > 0:
        raise OpsError(
            "target_not_empty",
            "The database already holds tickets, and restoring replaces everything in it. "
            "Run again with --yes to replace them with the archive's.",
        )
    restore_tool = postgres.find("pg_restore") if engine == "postgresql" else None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(
        tempfile.mkdtemp(prefix=".comptoir-restore-", dir=target.parent if target else None)
    )
    try:
        say(f"Checking {archive_path}…")
        verified = verify(archive, scratch)
        manifest = verified.manifest
        check_engine(manifest, engine)
        check_migrations_known(manifest)
        if target is not None:
            _check_sqlite_copy(verified.database)
        if restore_tool is not None:
            written_by = int(manifest.database.get("pg_dump_major") or 0)
            if restore_tool.major < written_by:
                raise OpsError(
                    "pg_tool_too_old",
                    f"{restore_tool.path} is version {restore_tool.version}; the archive was "
                    f"written by pg_dump {manifest.database.get('pg_dump_version')}. Install the "
                    f"client programs of version {written_by} or later.",
                    tool="pg_restore",
                )

        say("Restoring the database…")
        if target is not None:
            _restore_sqlite(verified.database, target)
        else:
            assert restore_tool is not None  # noqa: S101 - set for PostgreSQL above
            _restore_postgres(verified.database, connection, restore_tool)
        connections.close_all()
        tickets = tickets_in(connections[DEFAULT_DB_ALIAS])
        if tickets != manifest.counts.get("tickets", tickets):
            raise OpsError(
                "counts_differ",
                f"The restored database holds {tickets:,} tickets; the archive's manifest says "
                f"{manifest.counts.get('tickets'):,}.",
            )
        say(f"Restoring {manifest.files.count:,} files and {manifest.mail.count:,} spooled mails…")
        files, mail = _restore_files(
            archive, default_storage, Path(settings.COMPTOIR_MAIL_SPOOL_DIR)
        )
        say("Bringing the database up to date (migrate)…")
        call_command("migrate", interactive=False, verbosity=0)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return RestoreResult(manifest=manifest, tickets=tickets, files=files, mail=mail)


# ---------------------------------------------------------------------------------------------
# Checks


def tickets_in(connection: Any) -> int:
    """How many tickets the database holds (0 when it has no ticket table yet)."""
    table = apps.get_model("tickets", "Ticket")._meta.db_table
    if table not in connection.introspection.table_names():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return int(cursor.fetchone()[0])


def check_engine(manifest: Manifest, engine: str) -> None:
    if manifest.engine != engine:
        raise OpsError(
            "engine_mismatch",
            f"This archive holds a {_engine_name(manifest.engine)} database and this install "
            f"runs on {_engine_name(engine)}. Restore it into a {_engine_name(manifest.engine)} "
            "install"
            + (
                ", then move it with `comptoir db copy --to DATABASE_URL`."
                if manifest.engine == "sqlite"
                else "."
            ),
            archive_engine=manifest.engine,
            engine=engine,
        )


def _engine_name(engine: str) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(engine, engine)


def known_migrations() -> set[tuple[str, str]]:
    """Every migration this code has, and those its squashed migrations replace."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    for migration in loader.disk_migrations.values():
        known.update((app, name) for app, name in migration.replaces)
    return known


def check_migrations_known(manifest: Manifest) -> None:
    known = known_migrations()
    unknown = sorted(
        f"{app}.{name}"
        for app, names in manifest.migrations.items()
        for name in names
        if (app, name) not in known
    )
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise OpsError(
            "archive_newer",
            f"This archive comes from a newer Comptoir ({manifest.comptoir_version}) than this "
            f"one ({comptoir_version()}): its database has migrations this version does not "
            f"know ({shown}). Install Comptoir {manifest.comptoir_version} or later, then "
            "restore. Nothing was restored.",
            unknown=unknown[:50],
            comptoir_version=manifest.comptoir_version,
        )


def _check_sqlite_copy(path: Path) -> None:
    try:
        check = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            result = check.execute("PRAGMA quick_check").fetchone()
        finally:
            check.close()
    except sqlite3.DatabaseError as exc:
        raise OpsError(
            "archive_damaged", f"Refused: the archive's database is not readable ({exc})."
        ) from exc
    if result is None or result[0] != "ok":
        raise OpsError(
            "archive_damaged",
            f"Refused: the archive's database fails SQLite's check ({result and result[0]}).",
        )


# ---------------------------------------------------------------------------------------------
# The database


def _restore_sqlite(copy: Path, target: Path) -> None:
    connections.close_all()
    destination = sqlite3.connect(target, timeout=5)
    try:
        # Leaving WAL needs the database to itself: it stays in WAL while a server or a worker
        # has it open, and then nothing is written.
        mode = destination.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if str(mode).lower() == "wal":
            raise OpsError(
                "target_in_use",
                f"{target} is open in another process (a server or a worker): stop them, "
                "then restore. Nothing was restored.",
            )
        source = sqlite3.connect(f"{copy.absolute().as_uri()}?mode=ro", uri=True)
        try:
            source.backup(destination)
        finally:
            source.close()
    except sqlite3.OperationalError as exc:
        raise OpsError(
            "target_in_use",
            f"{target} could not be written ({exc}): is a server or a worker using it? Stop "
            "them, then restore. Nothing was restored.",
        ) from exc
    finally:
        destination.close()


_TABLE_ENTRY = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ")


def _tables_in_dump(tool: postgres.Tool, dump: Path, env: dict[str, str]) -> set[str]:
    listing = postgres.run(tool, ["--list", str(dump)], env)
    return {m.group(2) for line in listing.splitlines() if (m := _TABLE_ENTRY.match(line))}


def _restore_postgres(dump: Path, connection: Any, tool: postgres.Tool) -> None:
    env = postgres.environment(connection.settings_dict)
    # Tables of this code's models that the archive lacks (made by migrations newer than it)
    # would stand in the way of pg_restore --clean and of migrate: they go first.
    in_dump = _tables_in_dump(tool, dump, env)
    newer = sorted(set(connection.introspection.django_table_names(only_existing=True)) - in_dump)
    if newer:
        with connection.cursor() as cursor:
            for table in newer:
                cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)} CASCADE")
    connections.close_all()  # hold no lock pg_restore would wait for
    name = str(connection.settings_dict["NAME"])
    postgres.run(
        tool,
        [
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            f"--dbname={name}",
            str(dump),
        ],
        env,
    )


# ---------------------------------------------------------------------------------------------
# The files


class _Unseekable(io.RawIOBase):
    """A member's bytes read once, in order: the storage may not rewind them."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self.stream, self.left = stream, size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        data = self.stream.read(self.left if size is None or size < 0 else min(size, self.left))
        self.left -= len(data)
        return data


def _put_file(storage: Storage, name: str, stream: IO[bytes], size: int) -> None:
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, File(cast(IO[bytes], _Unseekable(stream, size)), name=name))
    if saved != name:  # pragma: no cover - only if another process wrote the name meanwhile
        raise OpsError("target_in_use", f"The storage kept {name} as {saved}: is a server running?")


def _put_spool(root: Path, name: str, stream: IO[bytes], size: int) -> None:
    target = root.joinpath(*name.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    inside = root.resolve()
    if inside != target.parent.resolve() and inside not in target.parent.resolve().parents:
        raise unsafe(f"the mail {name!r} would land outside the spool.")
    fd, scratch = tempfile.mkstemp(dir=target.parent, prefix=".restoring-")
    try:
        with os.fdopen(fd, "wb") as out:
            copy_exactly(stream, out, size)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, target)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def _restore_files(archive: Archive, storage: Storage, spool: Path) -> tuple[int, int]:
    files = mail = 0
    for name, size, stream in archive.entries():
        top, _, rest = name.partition("/")
        if top == FILES:
            _put_file(storage, rest, stream, size)
            files += 1
        elif top == MAIL:
            _put_spool(spool, rest, stream, size)
            mail += 1
    return files, mail
