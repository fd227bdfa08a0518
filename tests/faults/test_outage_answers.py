"""Which database errors are an outage, and what the person or the API client then sees.

The errors are real ones, raised by the drivers through Django's own connection wrappers: a
PostgreSQL port that refuses, one that never answers, a session ended by the server, a lock or
statement timeout; an SQLite file in a folder that does not exist, a locked file, a missing table.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import dj_database_url
import pytest
from django.db import IntegrityError, OperationalError
from django.db.utils import ConnectionHandler
from django.test import RequestFactory
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from comptoir.core.outage import OutageMiddleware, is_outage, server_error
from tests.faults.proxy import Proxy
from tests.faults.servers import postgres_url
from tests.processes import free_port


@pytest.fixture(autouse=True)
def _own_connections(django_db_blocker):
    """These tests open connections of their own; the suite's test database is not used."""
    with django_db_blocker.unblock():
        yield


def _connection(settings: dict[str, Any]):
    """A Django connection of its own (not the suite's), configured as Django configures one."""
    return ConnectionHandler({"default": settings})["default"]


def _error_of(call) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("no error raised")


def _postgres(**settings: Any) -> dict[str, Any]:
    pytest.importorskip("psycopg")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": free_port(),
        "OPTIONS": {"connect_timeout": 2},
        **settings,
    }


def _server() -> dict[str, Any]:
    """The suite's PostgreSQL server, when the suite runs on one."""
    url = postgres_url()
    if url is None:
        pytest.skip("needs DATABASE_URL naming a PostgreSQL server")
    parsed = dj_database_url.parse(url)
    return _postgres(
        NAME="postgres",
        USER=parsed["USER"],
        PASSWORD=parsed["PASSWORD"],
        HOST=parsed["HOST"],
        PORT=parsed["PORT"],
    )


def _sqlite(path) -> dict[str, Any]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": {"timeout": 0}}


# --- PostgreSQL --------------------------------------------------------------------------------


def test_a_postgresql_server_refusing_connections_is_an_outage():
    conn = _connection(_postgres())
    exc = _error_of(conn.ensure_connection)
    assert isinstance(exc, OperationalError)
    assert is_outage(exc)


def test_a_postgresql_server_that_never_answers_fails_within_the_connect_timeout():
    proxy = Proxy(("127.0.0.1", free_port()))
    port = proxy.start()
    proxy.cut(silent=True)
    try:
        conn = _connection(_postgres(PORT=port))
        started = time.monotonic()
        exc = _error_of(conn.ensure_connection)
        assert time.monotonic() - started < 5
    finally:
        proxy.close()
    assert is_outage(exc)


def test_a_postgresql_session_ended_by_the_server_is_an_outage_and_so_is_using_it_again():
    victim, killer = _connection(_server()), _connection(_server())
    try:
        with victim.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        with victim.cursor() as cursor:
            ended = _error_of(lambda: cursor.execute("SELECT 1"))
        assert is_outage(ended)
        closed = _error_of(lambda: victim.cursor().execute("SELECT 1"))
        assert is_outage(closed)
    finally:
        victim.close()
        killer.close()


def test_a_postgresql_lock_or_statement_timeout_is_not_an_outage():
    holder, waiter = _connection(_server()), _connection(_server())
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(4242)")
        with waiter.cursor() as cursor:
            cursor.execute("SET lock_timeout = '50ms'")
            locked = _error_of(lambda: cursor.execute("SELECT pg_advisory_lock(4242)"))
            cursor.execute("SET statement_timeout = '50ms'")
            slow = _error_of(lambda: cursor.execute("SELECT pg_sleep(2)"))
        assert isinstance(locked, OperationalError)
        assert not is_outage(locked)
        assert isinstance(slow, OperationalError)
        assert not is_outage(slow)
    finally:
        holder.close()
        waiter.close()


# --- SQLite ------------------------------------------------------------------------------------


def test_an_sqlite_file_that_cannot_be_opened_is_an_outage(tmp_path):
    conn = _connection(_sqlite(tmp_path / "gone" / "comptoir.sqlite3"))
    exc = _error_of(conn.ensure_connection)
    assert isinstance(exc, OperationalError)
    assert is_outage(exc)


def test_a_locked_sqlite_file_or_a_missing_table_is_not_an_outage(tmp_path):
    path = tmp_path / "comptoir.sqlite3"
    writer, other = _connection(_sqlite(path)), _connection(_sqlite(path))
    try:
        with writer.cursor() as cursor:
            cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            cursor.execute("BEGIN IMMEDIATE")
        with other.cursor() as cursor:
            locked = _error_of(lambda: cursor.execute("BEGIN IMMEDIATE"))
            missing = _error_of(lambda: cursor.execute("SELECT * FROM no_such_table"))
        with writer.cursor() as cursor:
            cursor.execute("INSERT INTO t (id) VALUES (1)")
            twin = _error_of(lambda: cursor.execute("INSERT INTO t (id) VALUES (1)"))
    finally:
        writer.close()
        other.close()
    assert "locked" in str(locked)
    assert not is_outage(locked)
    assert isinstance(missing, OperationalError)
    assert not is_outage(missing)
    assert isinstance(twin, IntegrityError)
    assert not is_outage(twin)


# --- the answers -------------------------------------------------------------------------------


@pytest.fixture
def outage(tmp_path) -> BaseException:
    return _error_of(_connection(_sqlite(tmp_path / "gone" / "db.sqlite3")).ensure_connection)


def _no_view(request):
    raise AssertionError("the view must not run")


def test_the_api_answers_503_in_its_error_shape(outage):
    request = RequestFactory().post("/api/v1/tickets")
    response = OutageMiddleware(_no_view).process_exception(request, outage)
    assert response is not None
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = json.loads(response.content)
    assert body["code"] == "service_unavailable"
    assert body["message"].startswith("Comptoir cannot reach its database")
    assert body["details"] == {"retry_after": 5}


def test_a_page_answers_503_with_a_short_page_in_the_readers_language(outage):
    request = RequestFactory().get("/portal/")
    with translation.override("fr"):
        response = OutageMiddleware(_no_view).process_exception(request, outage)
    assert response is not None
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    page = response.content.decode()
    assert "De retour dans un instant" in page
    assert "base de données" in page


def test_an_outage_met_reading_the_signed_in_person_is_answered_before_the_view(outage):
    request = RequestFactory().get("/desk/")

    def user():
        raise outage

    request.user = SimpleLazyObject(user)  # type: ignore[assignment]
    response = OutageMiddleware(_no_view)(request)
    assert response.status_code == 503


def test_an_error_that_is_no_outage_is_left_to_the_server_error_page(tmp_path):
    request = RequestFactory().get("/portal/")
    missing = _error_of(
        lambda: _connection(_sqlite(tmp_path / "x.sqlite3")).cursor().execute("SELECT * FROM nope")
    )
    assert OutageMiddleware(_no_view).process_exception(request, missing) is None  # type: ignore[arg-type]
    try:
        raise missing
    except Exception:
        assert server_error(request).status_code == 500


def test_an_outage_met_outside_a_view_answers_503_logged_once_as_a_warning(outage, caplog):
    request = RequestFactory().get("/api/v1/tickets")
    with caplog.at_level(logging.WARNING, logger="comptoir.outage"):
        try:
            raise outage
        except Exception:
            assert sys.exc_info()[1] is outage
            first = server_error(request)
            second = server_error(request)
    assert first.status_code == second.status_code == 503
    records = [r for r in caplog.records if r.name == "comptoir.outage"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].exc_info is None
