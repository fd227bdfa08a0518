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


def _forget_local_locks() -> None:
    """In a forked child: the parent's threads, which may have held these, are not there."""
    global _local_locks_guard
    _local_locks.clear()
    _local_locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_local_locks)


class WriterLock:
    """The file lock of one connection: taken before a transaction begins, let go after it."""

    def __init__(self, database: str, timeout: float):
        self.database = database
        self.path = f"{database}.writer"
        self.timeout = timeout
        self.fd: int | None = None
        self.pid = os.getpid()
        self.held = False
        self.local = _local_lock(os.path.abspath(self.path))

    def acquire(self) -> None:
        if self.pid != os.getpid():  # forked with its connection: never share the parent's file
            self.fd, self.held, self.pid = None, False, os.getpid()
            self.local = _local_lock(os.path.abspath(self.path))
        deadline = time.monotonic() + self.timeout
        if not self.local.acquire(timeout=self.timeout):
            raise OperationalError("database is locked")
        try:
            if self.fd is None:
                self.fd = self._open()
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

    def _open(self) -> int:
        """The lock file, made with the database's permissions when missing."""
        try:
            mode = os.stat(self.database).st_mode & 0o666
        except OSError:
            mode = 0o644
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
        except OSError as exc:
            raise OperationalError(f"cannot open the writers' lock {self.path}: {exc}") from exc

    def release(self) -> None:
        """Let go. The process's next thread is let in first, so that it tries the file at the
        same moment as the other processes' (every ``POLL_SECONDS``), not ahead of them."""
        if not self.held:
            return
        self.held = False
        self.local.release()
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

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
            # A COMMIT that failed leaves the transaction open until its rollback.
            if self.connection is None or not self.connection.in_transaction:
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
