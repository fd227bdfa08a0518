"""PostgreSQL unreachable for ten seconds under a running server: ``/readyz`` says so within its
connect timeout, pages and API calls answer 503 with a clear message (never a 500 or a
traceback), and once the database is back the same calls succeed without a restart.

The server reaches PostgreSQL through a proxy the test cuts. SQLite has no counterpart: its file
is opened by the serving process itself and stays open, so only a folder that cannot be read at
start-up stops it, and ``comptoir serve`` then fails at once on its migrations (the answers of a
request that meets an unreadable file are checked in ``test_outage_answers``).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.faults.proxy import Proxy
from tests.faults.servers import (
    REQUESTER,
    Server,
    make_world,
    postgres_database,
    served_env,
)

CONNECT_TIMEOUT = 2  # seconds; libpq's least


@dataclass
class Outage:
    server: Server
    database: Proxy
    redis: Proxy | None  # when the suite runs with REDIS_URL: sessions cached there (cached_db)
    token: str


def _through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    default_port = 6379 if parts.scheme.startswith("redis") else 5432
    proxy.target = (parts.hostname or "127.0.0.1", parts.port or default_port)
    port = proxy.start()
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


@pytest.fixture
def outage(tmp_path):
    """A served install whose PostgreSQL (and Redis) connections pass through proxies."""
    with postgres_database() as url:
        database = Proxy(("", 0))
        extra = {"COMPTOIR_DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT), "COMPTOIR_REDIS_TIMEOUT": "1"}
        queue = f"faults-{secrets.token_hex(4)}"
        redis_url = os.environ.get("REDIS_URL")
        redis = Proxy(("", 0)) if redis_url else None
        if redis is not None and redis_url:
            extra |= {"REDIS_URL": _through(redis, redis_url), "COMPTOIR_QUEUE_NAME": queue}
        env = served_env(tmp_path / "data", _through(database, url), **extra)
        token = make_world(env)
        server = Server(env, tmp_path / "server.log")
        try:
            yield Outage(server.start(), database, redis, token)
        finally:
            server.stop()
            database.close()
            if redis is not None and redis_url:
                redis.close()
                import redis as redis_client

                client = redis_client.Redis.from_url(redis_url)
                for key in client.scan_iter(f"*{queue}*"):
                    client.delete(key)


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _assert_unavailable_api(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    assert response.headers["Retry-After"].isdigit()
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert "cannot reach its database" in body["message"]


def _assert_unavailable_page(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Back in a moment" in response.text
    assert "Traceback" not in response.text


def test_a_database_outage_answers_503_then_recovers_without_a_restart(outage):
    server, token = outage.server, outage.token
    api = httpx.Client(
        base_url=server.base, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    browser = server.signed_in(REQUESTER)
    new_ticket = {"desk": "it", "title": "Printer jammed", "impact": "low", "urgency": "low"}
    assert api.get("/api/v1/tickets").status_code == 200
    assert browser.get("/portal/").status_code == 200
    served_pid = server.worker_pids()

    cut_at = time.monotonic()
    outage.database.cut()  # refused: PostgreSQL is down
    if outage.redis is not None:
        outage.redis.cut()  # and Redis with it: sessions fall back to the database

    ready, took = _timed(lambda: httpx.get(f"{server.base}/readyz", timeout=30))
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable"
    assert took < CONNECT_TIMEOUT + 3
    _assert_unavailable_api(api.get("/api/v1/tickets"))
    _assert_unavailable_api(api.post("/api/v1/tickets", json=new_ticket))
    retry = {"Idempotency-Key": "printer-jammed-1"}  # met first by the Idempotency-Key middleware
    _assert_unavailable_api(api.post("/api/v1/tickets", json=new_ticket, headers=retry))
    _assert_unavailable_page(browser.get("/portal/"))

    if outage.redis is not None:
        outage.redis.restore()
    outage.database.cut(silent=True)  # no answer at all: only the connect timeout ends the wait
    ready, took = _timed(lambda: httpx.get(f"{server.base}/readyz", timeout=30))
    assert ready.status_code == 503
    assert took < CONNECT_TIMEOUT + 3
    response, took = _timed(lambda: api.get("/api/v1/tickets"))
    _assert_unavailable_api(response)
    assert took < 2 * CONNECT_TIMEOUT + 3
    _assert_unavailable_page(browser.get("/portal/"))

    time.sleep(max(0.0, 10 - (time.monotonic() - cut_at)))
    outage.database.restore()

    server.wait_ready(timeout=20)
    assert api.get("/api/v1/tickets").status_code == 200
    created = api.post("/api/v1/tickets", json=new_ticket, headers=retry)
    assert created.status_code == 201, created.text[:500]  # the 503 was not kept for the key
    again = api.post("/api/v1/tickets", json=new_ticket, headers=retry)
    assert again.json()["ref"] == created.json()["ref"]
    page = browser.get("/portal/")
    assert page.status_code == 200
    assert server.worker_pids() == served_pid  # the same process served throughout

    log = server.log.read_text()
    assert "Traceback" not in log
    assert "Internal Server Error" not in log
    assert "ERROR django.request" not in log  # 503s logged once, as warnings
    assert "Database unavailable, answered 503" in log
