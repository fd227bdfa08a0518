"""``take_backup``: one archive holding a consistent copy of the database, every stored file and
the raw mail spool, with a manifest (``archive``).

The database is copied first, as one snapshot, while the server goes on serving and writing:

- SQLite: through the online backup API (``sqlite3.Connection.backup``) in one step, which
  reads one snapshot of the database (WAL lets writers go on meanwhile). The full-text tables of
  search come with it.
- PostgreSQL: ``pg_dump --format=custom`` on a snapshot exported by a repeatable-read
  transaction, in which the manifest's counts and migrations are read too.

Files are copied after the database, streamed one by one into the archive. A file's row is
committed after its bytes are stored, so every file the database copy names is already there; a
file uploaded meanwhile may come along without its row, which is harmless (``comptoir cleanup``
removes files no row names).
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from comptoir.core.ops import OpsError, postgres
from comptoir.core.ops.archive import (
    DATABASE_PG,
    DATABASE_SQLITE,
    FILES,
    MAIL,
    MANIFEST,
    DirWriter,
    Manifest,
    Tally,
    TarWriter,
    Writer,
)

#: What the manifest counts: its key, and the model (app label, name) counted.
COUNTED = {
    "tickets": ("tickets", "Ticket"),
    "comments": ("tickets", "Comment"),
    "attachments": ("tickets", "Attachment"),
    "articles": ("kb", "Article"),
    "people": ("accounts", "User"),
}


@dataclass
class BackupResult:
    path: Path
    manifest: Manifest
    skipped: list[str]  # files listed by the storage but gone before they could be read


def comptoir_version() -> str:
    try:
        return metadata.version("comptoir")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed, even editable
        return "unknown"


def default_name(moment, *, folder: bool) -> str:
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    return f"comptoir-backup-{stamp}" + ("" if folder else ".tar.gz")


def sqlite_path(connection: Any) -> Path:
    """The file of a SQLite database; refuses a database held in memory."""
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name or name.startswith("file:memorydb"):
        raise OpsError(
            "engine_unsupported", "This SQLite database lives in memory: it has no file to copy."
        )
    return Path(name)


def take_backup(
    *,
    output: Path | None = None,
    folder: bool = False,
) -> BackupResult:
    """Write the archive; nothing appears under its name unless it is complete."""
    connection = connections[DEFAULT_DB_ALIAS]
    engine = connection.vendor
    if engine not in ("sqlite", "postgresql"):
        raise OpsError(
            "engine_unsupported", f"Backups support SQLite and PostgreSQL, not {engine}."
        )
    started = timezone.now()
    path = (output or Path(default_name(started, folder=folder))).absolute()
    if path.exists() or path.is_symlink():
        raise OpsError(
            "archive_exists", f"{path} already exists: choose another --output.", path=str(path)
        )
    dump_tool = None
    if engine == "postgresql":  # refuse a missing or old pg_dump before writing anything
        dump_tool = postgres.find("pg_dump", server_major=postgres.server_major(connection))
    else:
        source = sqlite_path(connection)
        if not source.is_file():
            raise OpsError("engine_unsupported", f"The database file {source} does not exist.")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer: Writer = DirWriter(path) if folder else TarWriter(path)
    try:
        if dump_tool is not None:
            database, migrations, counts = _postgres(writer, connection, dump_tool)
        else:
            database, migrations, counts = _sqlite(writer, source)
        files, skipped = _storage_files(writer, default_storage)
        mail = _spool(writer, Path(settings.COMPTOIR_MAIL_SPOOL_DIR))
        manifest = Manifest(
            comptoir_version=comptoir_version(),
            created_at=started.isoformat(),
            engine=engine,
            database=database,
            migrations=migrations,
            counts=counts,
            files=files,
            mail=mail,
        )
        writer.add_bytes(MANIFEST, manifest.to_bytes(), time.time())
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return BackupResult(path=path, manifest=manifest, skipped=skipped)


# ---------------------------------------------------------------------------------------------
# The database


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def counted_tables() -> dict[str, str]:
    tables = {}
    for key, (app_label, model_name) in COUNTED.items():
        try:
            tables[key] = apps.get_model(app_label, model_name)._meta.db_table
        except LookupError:  # pragma: no cover - every counted app is installed
            continue
    return tables


def read_state(cursor: Any, vendor: str) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The migrations applied and the counts, read through a DB-API cursor (of the copy, or of
    the snapshot's transaction)."""
    mark = "?" if vendor == "sqlite" else "%s"
    exists = (
        f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {mark}"  # noqa: S608
        if vendor == "sqlite"
        else f"SELECT to_regclass({mark})"
    )

    def present(table: str) -> bool:
        cursor.execute(exists, [table])
        row = cursor.fetchone()
        return row is not None and row[0] is not None

    migrations: dict[str, list[str]] = {}
    if present("django_migrations"):
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        for app, name in cursor.fetchall():
            migrations.setdefault(app, []).append(name)
    counts: dict[str, int] = {}
    for key, table in counted_tables().items():
        if present(table):
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608 - our own table names
            counts[key] = int(cursor.fetchone()[0])
    return migrations, counts


def _sqlite(
    writer: Writer, source: Path
) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, int]]:
    with writer.produced(DATABASE_SQLITE) as copy:
        origin = sqlite3.connect(f"{source.absolute().as_uri()}?mode=rw", uri=True, timeout=30)
        try:
            target = sqlite3.connect(copy)
            try:
                # One step: one read transaction, so one snapshot, however long it takes.
                origin.backup(target)
                # The copy stands alone: no write-ahead log beside it.
                target.execute("PRAGMA journal_mode=DELETE")
                migrations, counts = read_state(target.cursor(), "sqlite")
            finally:
                target.close()
        finally:
            origin.close()
        sha256, size = _digest(copy)
    database = {"member": DATABASE_SQLITE, "sha256": sha256, "bytes": size}
    return database, migrations, counts


def _postgres(
    writer: Writer, connection: Any, tool: postgres.Tool
) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, int]]:
    env = postgres.environment(connection.settings_dict)
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        raw.autocommit = True
        with raw.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            migrations, counts = read_state(cursor, "postgresql")
            with writer.produced(DATABASE_PG) as dump:
                postgres.run(
                    tool, ["--format=custom", f"--snapshot={snapshot}", f"--file={dump}"], env
                )
                sha256, size = _digest(dump)
            cursor.execute("COMMIT")
    finally:
        raw.close()
    database = {
        "member": DATABASE_PG,
        "sha256": sha256,
        "bytes": size,
        "server_version": postgres.server_version(connection),
        "pg_dump_version": tool.version,
        "pg_dump_major": tool.major,
    }
    return database, migrations, counts


# ---------------------------------------------------------------------------------------------
# The files


def storage_names(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file of the storage, folder by folder, through the storage API (any backend)."""
    try:
        folders, names = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(names):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(folders):
        yield from storage_names(storage, f"{folder}/{sub}" if folder else sub)


def _size_and_time(stream: IO[bytes], storage: Storage, name: str) -> tuple[int, float]:
    try:
        stat = os.fstat(stream.fileno())
        return stat.st_size, stat.st_mtime
    except (AttributeError, OSError, io.UnsupportedOperation):
        try:
            moment = storage.get_modified_time(name).timestamp()
        except (NotImplementedError, OSError):
            moment = time.time()
        return storage.size(name), moment


def _storage_files(writer: Writer, storage: Storage) -> tuple[Tally, list[str]]:
    tally, skipped = Tally(), []
    for name in storage_names(storage):
        try:
            stream = storage.open(name, "rb")
        except FileNotFoundError:  # removed since it was listed (a cleanup): nothing names it
            skipped.append(name)
            continue
        with stream:
            size, moment = _size_and_time(stream, storage, name)
            sha256 = writer.add_stream(f"{FILES}/{name}", stream, size, moment)
        tally.add(name, sha256, size)
    return tally, skipped


def spool_names(root: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """The spool's regular files (links are left alone), as (name in the archive, path)."""
    try:
        with os.scandir(root) as listing:
            items = sorted(listing, key=lambda item: item.name)
    except FileNotFoundError:
        return
    for item in items:
        if item.is_symlink():
            continue
        if item.is_dir(follow_symlinks=False):
            yield from spool_names(Path(item.path), f"{prefix}{item.name}/")
        elif item.is_file(follow_symlinks=False):
            yield f"{prefix}{item.name}", Path(item.path)


def _spool(writer: Writer, root: Path) -> Tally:
    tally = Tally()
    for name, path in spool_names(root):
        try:
            stream = path.open("rb")
        except FileNotFoundError:  # pragma: no cover - a spool file is never removed meanwhile
            continue
        with stream:
            stat = os.fstat(stream.fileno())
            sha256 = writer.add_stream(f"{MAIL}/{name}", stream, stat.st_size, stat.st_mtime)
        tally.add(name, sha256, stat.st_size)
    return tally
