"""SQLite's writers queue on a file lock beside the database (ADR 15): taken when a transaction
begins, let go at its commit, rollback or close, refused cleanly after the database's timeout,
and taken within milliseconds of being let go, where SQLite's busy handler sleeps up to 100 ms."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from django.db import OperationalError, transaction
from django.db.utils import ConnectionHandler


@pytest.fixture
def database(tmp_path, django_db_blocker):
    """A database of its own on disk (the suite's SQLite one is in memory, with no lock file)."""
    with django_db_blocker.unblock():
        yield from _database(tmp_path)


def _database(tmp_path, create: bool = True):
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
    if create:
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
    connection.settings_dict["OPTIONS"]["timeout"] = 5  # read at the first transaction
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
    # SQLite's busy handler would likely still be asleep (25 to 100 ms between tries by then).
    assert went_in - let_go[0] < 0.08


@pytest.fixture
def atomic(database, monkeypatch):
    """``transaction.atomic()`` on the test's own database."""
    connection, _lock = database
    monkeypatch.setattr(transaction, "get_connection", lambda using=None: connection)
    return transaction.atomic


def test_nested_blocks_and_a_savepoint_rolled_back_keep_the_lock_to_the_outer_end(database, atomic):
    connection, lock = database
    with atomic():
        _write(connection, "outer")
        with pytest.raises(ValueError), atomic():
            _write(connection, "inner, undone")
            raise ValueError
        assert not _free(lock)  # a savepoint's rollback is not the transaction's
        with atomic():
            _write(connection, "inner, kept")
        assert not _free(lock)
    assert _free(lock)
    with pytest.raises(ValueError), atomic():
        _write(connection, "all undone")
        raise ValueError
    assert _free(lock)
    assert _bodies(connection) == ["outer", "inner, kept"]


def test_the_threads_of_a_process_take_turns(tmp_path, django_db_blocker):
    """Each thread has its own connection; one transaction at a time is open, never two."""
    inside: list[int] = []
    most: list[int] = [0]
    guard = threading.Lock()
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for connection, _lock in _database(tmp_path, create=False):
                for _ in range(5):
                    _begin(connection)
                    with guard:
                        inside.append(n)
                        most[0] = max(most[0], len(inside))
                    _write(connection, f"thread {n}")
                    time.sleep(0.005)
                    with guard:
                        inside.remove(n)
                    connection.commit()
                    connection.set_autocommit(True)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    with django_db_blocker.unblock():
        for connection, _lock in _database(tmp_path):
            threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not failures
            assert most[0] == 1
            assert len(_bodies(connection)) == 20
