"""Applying migrations when several processes start at once.

Each ``comptoir serve`` migrates before it serves. Two processes starting together would both
plan the same migrations, and the second would fail applying one the first had just applied
("table already exists"). ``migrate`` takes a lock first, so they migrate one after the other
and those that come later find nothing left to do:

- on PostgreSQL (any number of machines), a session-level advisory lock, released with its
  connection if the process dies while migrating;
- on SQLite (one machine), an ``flock`` on a file in the data folder, which the kernel
  releases when its holder dies.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection

#: The advisory lock's key: a 64-bit number no other program on the database uses.
MIGRATION_LOCK = 0x636F6D70746F6972  # "comptoir"


def lock_file() -> Path:
    return Path(settings.DATA_DIR) / "locks" / "migrate.lock"


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
        return
    path = lock_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


def migrate() -> None:
    """``manage.py migrate``, one process at a time."""
    with _one_at_a_time():
        call_command("migrate", interactive=False, verbosity=0)
