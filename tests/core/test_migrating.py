"""``comptoir serve`` migrates one process at a time when several start together."""

from __future__ import annotations

import fcntl
import os
import threading

import psycopg
import pytest
from django.db import connection, connections

from comptoir.core.ops.migrating import MIGRATION_LOCK, lock_file, migrate

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate_in_a_thread() -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate()
        except BaseException as exc:  # reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _waits_then_finishes(release) -> None:
    thread, errors = _migrate_in_a_thread()
    thread.join(timeout=1.5)
    assert thread.is_alive(), "migrate ran while another process was migrating"
    release()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert errors == []


def test_a_second_process_waits_for_the_first_to_finish_migrating(settings):
    if connection.vendor == "postgresql":
        params = connection.get_connection_params()
        other = psycopg.connect(**params, autocommit=True)  # another process's session
        other.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])

        def release() -> None:
            other.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
            other.close()
    else:
        path = lock_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)

        def release() -> None:
            os.close(fd)

    _waits_then_finishes(release)


def test_migrating_alone_leaves_no_lock_behind():
    migrate()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            assert cursor.fetchone()[0] == 0
    else:
        fd = os.open(lock_file(), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise if still held
        finally:
            os.close(fd)
