"""Django's SQLite backend, with the writers of every process queued on a file lock.

SQLite lets one transaction write at a time. A writer that finds the database locked waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20 then 25 to 100 milliseconds between
tries, whoever else is waiting: under a steady stream of writes, a writer that lost a few
tries sleeps through the moments the lock was free while newer writers take it. Measured with
eight writers in four processes (``bench/sqlite_writers.py``), a few waited over a second and
the slowest four seconds, for transactions of 8 ms.

Here a transaction first takes an exclusive ``flock`` on a file beside the database (within a
process, a lock first, so that one thread per process waits on the file), polled every
half-millisecond up to the database's timeout, then ``BEGIN IMMEDIATE``; the lock is let go at
commit, rollback or close. The kernel frees it if the process dies. Writes made outside a
transaction (autocommit) do not take it and wait in SQLite's busy handler as before. ADR 15
says why.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

#: Between two tries of a lock another process holds.
POLL_SECONDS = 0.0005

#: One lock per database file and process: the threads of a process queue here, in memory.
_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def _local_lock(path: str) -> threading.Lock:
    with _local_locks_guard:
        return _local_locks.setdefault(path, threading.Lock())


class WriterLock:
    """The file lock of one connection: taken before a transaction begins, let go after it."""

    def __init__(self, database: str, timeout: float):
        self.path = f"{database}.writer"
        self.timeout = timeout
        self.fd: int | None = None
        self.held = False
        self.local = _local_lock(os.path.abspath(self.path))

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        if not self.local.acquire(timeout=self.timeout):
            raise OperationalError("database is locked")
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            while True:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise OperationalError("database is locked") from None
                    time.sleep(POLL_SECONDS)
        except BaseException:
            self.local.release()
            raise
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            if self.fd is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.local.release()

    def close(self) -> None:
        self.release()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.writer_lock: WriterLock | None = None

    def _writer(self) -> WriterLock | None:
        if self.is_in_memory_db():
            return None
        if self.writer_lock is None:
            name = str(self.settings_dict["NAME"])
            timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
            self.writer_lock = WriterLock(name, timeout)
        return self.writer_lock

    def _start_transaction_under_autocommit(self) -> None:
        writer = self._writer()
        if writer is not None:
            writer.acquire()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private, not in the stubs
        except BaseException:
            if writer is not None:
                writer.release()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # private, not in the stubs
        finally:
            self._let_go()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # private, not in the stubs
        finally:
            self._let_go()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # private, not in the stubs
        finally:
            if self.writer_lock is not None:
                self.writer_lock.close()

    def _let_go(self) -> None:
        if self.writer_lock is not None:
            self.writer_lock.release()
