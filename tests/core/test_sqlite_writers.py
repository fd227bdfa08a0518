"""SQLite's writers queue on a file lock beside the database (ADR 15): taken when a transaction
begins, let go at its commit, rollback or close, refused cleanly after the database's timeout,
and taken within milliseconds of being let go, where SQLite's busy handler sleeps up to 100 ms."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler


@pytest.fixture
def database(tmp_path, django_db_blocker):
    """A database of its own on disk (the suite's SQLite one is in memory, with no lock file)."""
    with django_db_blocker.unblock():
        yield from _database(tmp_path)


def _database(tmp_path):
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "comptoir.core.sqlite",
                "NAME": str(tmp_path / "desk.sqlite3"),
                "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 0.3},
            }
        }
    )
    connection = handler["default"]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE note (body TEXT)")
    yield connection, tmp_path / "desk.sqlite3.writer"
    connection.close()


def _free(path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _begin(connection) -> None:  # what transaction.atomic does on entering
    connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def _write(connection, body: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO note (body) VALUES (%s)", [body])


def _bodies(connection) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM note ORDER BY rowid")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_transaction_holds_the_lock_until_it_ends(database, end):
    connection, lock = database
    assert _free(lock)
    _begin(connection)
    _write(connection, "kept" if end == "commit" else "dropped")
    assert not _free(lock)
    if end == "close":
        connection.close()
    else:
        getattr(connection, end)()
        connection.set_autocommit(True)
    assert _free(lock)
    assert _bodies(connection) == (["kept"] if end == "commit" else [])


def test_a_writer_that_cannot_get_the_lock_in_time_is_refused_and_begins_nothing(database):
    connection, lock = database
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process's transaction
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            _begin(connection)
        assert 0.25 < time.monotonic() - started < 2
        assert not connection.in_atomic_block and connection.connection.in_transaction is False
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    connection.set_autocommit(True)
    _begin(connection)  # free again: the next one goes in
    _write(connection, "after")
    connection.commit()
    connection.set_autocommit(True)
    assert _bodies(connection) == ["after"]


def test_a_waiting_writer_goes_in_within_milliseconds_of_the_lock_being_let_go(database):
    connection, lock = database
    connection.settings_dict["OPTIONS"]["timeout"] = 5
    connection.writer_lock = None  # read the longer timeout
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    let_go: list[float] = []

    def hold_then_let_go() -> None:
        time.sleep(0.4)
        let_go.append(time.monotonic())
        fcntl.flock(fd, fcntl.LOCK_UN)

    other = threading.Thread(target=hold_then_let_go)
    other.start()
    try:
        _begin(connection)
        went_in = time.monotonic()
        connection.rollback()
        connection.set_autocommit(True)
    finally:
        other.join()
        os.close(fd)
    # SQLite's busy handler would still be asleep (25 to 100 ms between tries by then).
    assert went_in - let_go[0] < 0.05
