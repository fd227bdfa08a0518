"""The backup archive: its layout, how it is written, and how it is read without trusting it.

The layout is the same in a ``.tar.gz`` and in a folder (``comptoir backup --format dir``)::

    database/comptoir.sqlite3   the SQLite database (a copy through the online backup API), or
    database/comptoir.pgdump    the PostgreSQL database (``pg_dump --format=custom``)
    files/<name>                every file of the storage, under its storage name
    mail/<path>                 the raw mail spool
    manifest.json               written last: what the archive holds, and how to check it

A reader trusts nothing in an archive. Every member must be a regular file or a folder (no
link, device or FIFO) whose name is a plain relative path under one of those places, and the
database and the files must match the manifest's digests. ``verify`` reads the whole archive
before a restore writes anything; an archive cut short has no manifest (it comes last).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from comptoir.core.ops import OpsError

#: The version of this layout. A reader refuses an archive of a later one.
FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_SQLITE = "database/comptoir.sqlite3"
DATABASE_PG = "database/comptoir.pgdump"
DATABASES = (DATABASE_SQLITE, DATABASE_PG)
FILES = "files"
MAIL = "mail"
#: A manifest is a few kilobytes; anything much larger is not one of ours.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
CHUNK = 1024 * 1024


def unsafe(message: str, **details: Any) -> OpsError:
    return OpsError("archive_unsafe", f"Refused: {message} Nothing was restored.", **details)


def damaged(message: str, **details: Any) -> OpsError:
    return OpsError("archive_damaged", f"Refused: {message} Nothing was restored.", **details)


# ---------------------------------------------------------------------------------------------
# What the archive holds


@dataclass
class Tally:
    """A set of files: how many, their bytes, and a digest of their names and contents that
    does not depend on their order (a sum of one SHA-256 per file), so that a folder read in
    another order than it was written checks the same."""

    count: int = 0
    bytes: int = 0
    digest: int = 0

    def add(self, name: str, sha256: str, size: int) -> None:
        one = hashlib.sha256(f"{name}\0{sha256}".encode()).digest()
        self.count += 1
        self.bytes += size
        self.digest = (self.digest + int.from_bytes(one, "big")) % (1 << 256)

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "bytes": self.bytes, "digest": f"{self.digest:064x}"}

    @classmethod
    def from_json(cls, data: Any, what: str) -> Tally:
        try:
            tally = cls(int(data["count"]), int(data["bytes"]), int(str(data["digest"]), 16))
        except (KeyError, TypeError, ValueError) as exc:
            raise damaged(f"the manifest's {what} entry is unreadable.") from exc
        return tally


@dataclass
class Manifest:
    """What an archive holds. Written last, as ``manifest.json``."""

    comptoir_version: str
    created_at: str
    engine: str  # "sqlite" or "postgresql"
    database: dict[str, Any]  # member, sha256, bytes; PostgreSQL: server and pg_dump versions
    migrations: dict[str, list[str]]  # app label: names of the migrations applied
    counts: dict[str, int]  # tickets, comments, attachments, articles, people
    files: Tally = field(default_factory=Tally)
    mail: Tally = field(default_factory=Tally)
    format: int = FORMAT

    def to_bytes(self) -> bytes:
        data = {
            "format": self.format,
            "comptoir_version": self.comptoir_version,
            "created_at": self.created_at,
            "engine": self.engine,
            "database": self.database,
            "migrations": self.migrations,
            "counts": self.counts,
            "files": self.files.as_json(),
            "mail_spool": self.mail.as_json(),
        }
        return json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise damaged("the manifest is not readable JSON.") from exc
        if not isinstance(data, dict):
            raise damaged("the manifest is not a JSON object.")
        version = data.get("format")
        if not isinstance(version, int):
            raise damaged("the manifest does not say its format.")
        if version > FORMAT:
            raise OpsError(
                "archive_newer",
                f"This archive was written by a newer Comptoir "
                f"({data.get('comptoir_version', 'unknown')}, archive format {version}); this "
                f"one reads format {FORMAT} at most. Restore it with that version or a later one.",
                comptoir_version=data.get("comptoir_version"),
            )
        migrations = data.get("migrations")
        database = data.get("database")
        counts = data.get("counts")
        if not (
            isinstance(migrations, dict)
            and all(
                isinstance(app, str)
                and isinstance(names, list)
                and all(isinstance(n, str) for n in names)
                for app, names in migrations.items()
            )
            and isinstance(database, dict)
            and database.get("member") in DATABASES
            and isinstance(counts, dict)
            and all(isinstance(v, int) for v in counts.values())
            and data.get("engine") in ("sqlite", "postgresql")
        ):
            raise damaged("the manifest is missing entries or holds entries of the wrong type.")
        return cls(
            comptoir_version=str(data.get("comptoir_version", "unknown")),
            created_at=str(data.get("created_at", "")),
            engine=data["engine"],
            database=database,
            migrations=migrations,
            counts=counts,
            files=Tally.from_json(data.get("files"), "files"),
            mail=Tally.from_json(data.get("mail_spool"), "mail spool"),
            format=version,
        )


# ---------------------------------------------------------------------------------------------
# Names


def check_name(name: str, *, folder: bool) -> str:
    """The member's name when it is a plain relative path where a Comptoir backup puts things;
    refuses anything else (an absolute path, ``..``, a name outside the layout)."""
    shown = repr(name)[:200]
    if not name or len(name) > 4096:
        raise unsafe("a member has an empty or overlong name.")
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise unsafe(f"the member {shown} has an absolute path.", member=name[:200])
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise unsafe(f"the member {shown} has control characters in its name.", member=name[:200])
    trimmed = name[:-1] if folder and name.endswith("/") else name
    parts = trimmed.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise unsafe(
            f"the member {shown} has '..', '.' or an empty part in its path.", member=name[:200]
        )
    if folder:
        allowed = parts[0] in (FILES, MAIL) or (len(parts) == 1 and parts[0] == "database")
    else:
        allowed = trimmed in (MANIFEST, *DATABASES) or (
            parts[0] in (FILES, MAIL) and len(parts) > 1
        )
    if not allowed:
        raise unsafe(f"the member {shown} is not part of a Comptoir backup.", member=name[:200])
    return trimmed


# ---------------------------------------------------------------------------------------------
# Writing


def copy_exactly(source: IO[bytes], target: IO[bytes], size: int) -> str:
    """Copy ``size`` bytes in chunks; return their SHA-256. Fails if the source ends first."""
    digest = hashlib.sha256()
    left = size
    while left:
        chunk = source.read(min(CHUNK, left))
        if not chunk:
            raise OSError(f"the file ended {left} bytes early")
        digest.update(chunk)
        target.write(chunk)
        left -= len(chunk)
    return digest.hexdigest()


class _Hashing:
    """A read-only stream that hashes what is read through it (for ``tarfile.addfile``)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        return data


class Writer:
    """Where a backup goes: members added one by one, nothing visible under the final name
    until ``commit`` (a half-written archive is never mistaken for a backup)."""

    path: Path

    def add_stream(self, name: str, stream: IO[bytes], size: int, mtime: float) -> str:
        """Add ``size`` bytes read from ``stream``; return their SHA-256."""
        raise NotImplementedError

    def add_bytes(self, name: str, data: bytes, mtime: float) -> None:
        raise NotImplementedError

    def produced(self, name: str) -> AbstractContextManager[Path]:
        """A path to write a member into (a database copy, a dump); added when the block ends."""
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class TarWriter(Writer):
    """A ``.tar.gz``, written under a hidden partial name and renamed into place at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._raw = os.fdopen(fd, "wb")
        self._tar = tarfile.open(  # noqa: SIM115 - closed by commit or abort
            fileobj=self._raw, mode="w:gz", compresslevel=6, format=tarfile.PAX_FORMAT
        )

    def _info(self, name: str, size: int, mtime: float) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, int(mtime), 0o600
        return info

    def add_stream(self, name: str, stream: IO[bytes], size: int, mtime: float) -> str:
        hashing = _Hashing(stream)
        self._tar.addfile(self._info(name, size, mtime), hashing)
        return hashing.digest.hexdigest()

    def add_bytes(self, name: str, data: bytes, mtime: float) -> None:
        self._tar.addfile(self._info(name, len(data), mtime), io.BytesIO(data))

    @contextmanager
    def produced(self, name: str) -> Iterator[Path]:
        fd, scratch = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        os.close(fd)
        path = Path(scratch)
        try:
            yield path
            with path.open("rb") as stream:
                stat = os.fstat(stream.fileno())
                self.add_stream(name, stream, stat.st_size, stat.st_mtime)
        finally:
            path.unlink(missing_ok=True)

    def commit(self) -> None:
        self._tar.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self.partial, self.path)
        _sync_folder(self.path.parent)

    def abort(self) -> None:
        for closing in (self._tar.close, self._raw.close):
            with suppress(Exception):  # the archive is being thrown away
                closing()
        self.partial.unlink(missing_ok=True)


class DirWriter(Writer):
    """A folder with the archive's layout, written under a hidden partial name first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self.partial.mkdir(mode=0o700)

    def _target(self, name: str) -> Path:
        target = self.partial.joinpath(*name.split("/"))
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return target

    def _create(self, name: str) -> IO[bytes]:
        fd = os.open(self._target(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, "wb")

    def add_stream(self, name: str, stream: IO[bytes], size: int, mtime: float) -> str:
        with self._create(name) as out:
            digest = copy_exactly(stream, out, size)
        os.utime(self._target(name), (mtime, mtime))
        return digest

    def add_bytes(self, name: str, data: bytes, mtime: float) -> None:
        with self._create(name) as out:
            out.write(data)

    @contextmanager
    def produced(self, name: str) -> Iterator[Path]:
        yield self._target(name)

    def commit(self) -> None:
        os.rename(self.partial, self.path)
        _sync_folder(self.path.parent)

    def abort(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a folder that cannot be opened cannot be synced
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse to sync a folder
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# Reading


#: One regular file of an archive: its checked name, its size, and its bytes to read in order.
Entry = tuple[str, int, IO[bytes]]


class Archive:
    """An archive to read: ``entries`` yields its regular files in order after checking each
    member, folders included, and refuses the first one that is not safe."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> Iterator[Entry]:
        raise NotImplementedError


class TarArchive(Archive):
    def entries(self) -> Iterator[Entry]:
        try:
            with tarfile.open(self.path, mode="r|gz") as tar:
                while (info := tar.next()) is not None:
                    # Read as a stream, and forgotten once read: flat memory at a million files.
                    tar.members.clear()  # type: ignore[attr-defined]
                    if info.isdir():
                        check_name(info.name, folder=True)
                        continue
                    if not info.isreg():
                        raise unsafe(
                            f"the member {info.name!r} is a {_kind(info)}; a Comptoir backup "
                            "holds only files and folders.",
                            member=info.name[:200],
                        )
                    name = check_name(info.name, folder=False)
                    stream = tar.extractfile(info)
                    if stream is None:  # pragma: no cover - isreg() members always have data
                        raise damaged(f"the member {name!r} has no data.")
                    yield name, info.size, stream
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise damaged(
                f"the archive is damaged or cut short ({exc}).", archive=str(self.path)
            ) from exc
        except OSError as exc:
            raise damaged(
                f"the archive could not be read ({exc}).", archive=str(self.path)
            ) from exc


def _kind(info: tarfile.TarInfo) -> str:
    if info.issym():
        return "symbolic link"
    if info.islnk():
        return "hard link"
    if info.isdev():
        return "device"
    if info.isfifo():
        return "FIFO"
    return "special member"


class DirArchive(Archive):
    """A folder written by ``--format dir``. Links are refused, never followed."""

    def entries(self) -> Iterator[Entry]:
        yield from self._walk(self.path, "")

    def _walk(self, folder: Path, prefix: str) -> Iterator[Entry]:
        with os.scandir(folder) as listing:
            items = sorted(listing, key=lambda entry: entry.name)
        for item in items:
            name = f"{prefix}{item.name}"
            if item.is_symlink():
                raise unsafe(
                    f"{name!r} is a symbolic link; a Comptoir backup holds only files and folders.",
                    member=name[:200],
                )
            if item.is_dir(follow_symlinks=False):
                check_name(name, folder=True)
                yield from self._walk(Path(item.path), f"{name}/")
            elif item.is_file(follow_symlinks=False):
                check_name(name, folder=False)
                fd = os.open(item.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as stream:
                    yield name, os.fstat(stream.fileno()).st_size, stream
            else:
                raise unsafe(f"{name!r} is not a regular file.", member=name[:200])


def open_archive(path: Path) -> Archive:
    if path.is_dir():
        return DirArchive(path)
    if path.is_file():
        return TarArchive(path)
    raise OpsError("archive_missing", f"No archive at {path}.", archive=str(path))


# ---------------------------------------------------------------------------------------------
# Checking


@dataclass
class Verified:
    """An archive read to its end and found whole: its manifest, and its database copied out."""

    manifest: Manifest
    database: Path


def _hash(stream: IO[bytes], size: int) -> str:
    digest = hashlib.sha256()
    left = size
    while left:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            raise damaged("a member ends before its size.")
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest()


def verify(archive: Archive, scratch: Path) -> Verified:
    """Read the whole archive; copy its database to ``scratch`` and check everything against
    the manifest. Raises ``OpsError`` at the first thing wrong; writes nothing else."""
    try:
        return _verify(archive, scratch)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise damaged(f"the archive is damaged or cut short ({exc}).") from exc


def _verify(archive: Archive, scratch: Path) -> Verified:
    files, mail = Tally(), Tally()
    manifest_raw: bytes | None = None
    database: tuple[str, str, int] | None = None
    target = scratch / "database"
    for name, size, stream in archive.entries():
        if name == MANIFEST:
            if manifest_raw is not None:
                raise unsafe("the archive holds two manifests.")
            if size > MAX_MANIFEST_BYTES:
                raise unsafe("the manifest is far too large to be one of Comptoir's.")
            manifest_raw = stream.read(size)
        elif name in DATABASES:
            if database is not None:
                raise unsafe("the archive holds two databases.")
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                try:
                    database = (name, copy_exactly(stream, out, size), size)
                except OSError as exc:
                    raise damaged(f"the database in the archive is cut short ({exc}).") from exc
        else:
            top, _, rest = name.partition("/")
            (files if top == FILES else mail).add(rest, _hash(stream, size), size)
    if manifest_raw is None:
        raise damaged(
            "the archive has no manifest: it is incomplete (cut short while written or copied) "
            "or not a Comptoir backup."
        )
    manifest = Manifest.parse(manifest_raw)
    expected = manifest.database
    if database is None or database[0] != expected.get("member"):
        raise damaged("the archive does not hold the database its manifest names.")
    if database[1] != expected.get("sha256") or database[2] != expected.get("bytes"):
        raise damaged("the database in the archive differs from the one its manifest describes.")
    for what, found, promised in (("files", files, manifest.files), ("mail", mail, manifest.mail)):
        if (found.count, found.bytes, found.digest) != (
            promised.count,
            promised.bytes,
            promised.digest,
        ):
            raise damaged(
                f"the archive's {what} differ from its manifest ({found.count:,} found, "
                f"{promised.count:,} expected, or their contents differ).",
                found=found.count,
                expected=promised.count,
            )
    return Verified(manifest=manifest, database=target)
