"""The spool: raw messages written durably before anything reads them (rule 8).

A message is written to a temporary file, flushed to disk (fsync), renamed into place, and its
folder flushed too, so that once ``store`` returns, a power cut loses nothing. The file is named
by the SHA-256 of its bytes: storing the same message twice writes one file.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from django.conf import settings


class StoreFailed(OSError):
    """The message could not be written: the sender should try again later."""


def spool_root() -> Path:
    return Path(settings.COMPTOIR_MAIL_SPOOL_DIR)


def store(raw: bytes) -> tuple[str, str]:
    """Write ``raw`` durably; returns (path relative to the spool, SHA-256)."""
    digest = hashlib.sha256(raw).hexdigest()
    relative = f"{digest[:2]}/{digest}.eml"
    folder = os.path.join(spool_root(), digest[:2])
    path = os.path.join(folder, f"{digest}.eml")
    try:
        if os.stat(path).st_size == len(raw):
            return relative, digest
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StoreFailed(f"Could not store the message: {exc}") from exc
    temporary = os.path.join(folder, f".{digest}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            handle = os.open(temporary, _CREATE, 0o666)
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            handle = os.open(temporary, _CREATE, 0o666)
        try:
            _write_all(handle, raw)
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temporary, path)
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise StoreFailed(f"Could not store the message: {exc}") from exc
    return relative, digest


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_all(handle: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view) :]


def read(relative: str) -> bytes:
    path = (spool_root() / relative).resolve()
    if spool_root().resolve() not in path.parents:
        raise ValueError("Not a spool path.")
    return path.read_bytes()


def remove_stale_temporaries(older_than_seconds: int = 3600) -> int:
    """Remove what a writer killed mid-write left (``.*.tmp``); the message was never stored, so
    its sender still has it and sends it again."""
    import time

    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in spool_root().glob("*/.*.tmp"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
