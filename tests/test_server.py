"""The two-command start, for real: the demo loads once, and a served install takes concurrent
ticket creations on its default SQLite database without losing or duplicating a number."""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import COMPTOIR, comptoir_env, free_port, run, start, wait_ready


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    run(data_dir, "demo")
    return data_dir


def _ticket_count(data_dir: Path) -> int:
    out = run(
        data_dir,
        "shell",
        "-c",
        "from comptoir.tickets.models import Ticket; print(Ticket.objects.count())",
    )
    return int(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _served(data_dir: Path, *options: str) -> Iterator[str]:
    """``comptoir serve`` on a free port, once ready: its base address."""
    port = free_port()
    log = data_dir / f"serve-{port}.log"
    server = start(data_dir, log, "serve", "--port", str(port), *options)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, log, timeout=30)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_running_the_demo_again_keeps_the_data(demo_dir):
    before = _ticket_count(demo_dir)
    assert before >= 100
    second = run(demo_dir, "demo")
    assert "already loaded" in second.stdout
    assert "agent@comptoir.example" in second.stdout
    assert _ticket_count(demo_dir) == before


def test_a_served_install_numbers_concurrent_creations_without_gaps_or_twins(demo_dir):
    token = (
        run(demo_dir, "token", "create", "agent@comptoir.example").stdout.strip().splitlines()[-1]
    )
    with _served(demo_dir, "--workers", "2", "--threads", "4") as base:
        refs: list[str] = []
        failures: list[str] = []

        def create(worker: int) -> None:
            for n in range(10):
                body = json.dumps(
                    {"desk": "it", "title": f"Load {worker}-{n}", "impact": "low", "urgency": "low"}
                )
                request = urllib.request.Request(
                    f"{base}/api/v1/tickets",
                    data=body.encode(),
                    method="POST",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        refs.append(json.loads(response.read())["ref"])
                except urllib.error.HTTPError as exc:
                    failures.append(f"{exc.code} {exc.read()[:200]!r}")

        threads = [threading.Thread(target=create, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert failures == []
    numbers = sorted(int(ref.split("-")[1]) for ref in refs)
    assert len(numbers) == 80
    assert numbers == list(range(numbers[0], numbers[0] + 80))


def test_an_idle_connection_stays_open_longer_than_a_proxy_keeps_it(demo_dir):
    """A proxy reuses its idle connections to the server: the server must not close one after
    two seconds (Gunicorn's default), or a request sent on it as it closes fails."""
    with _served(demo_dir, "--workers", "1", "--no-worker") as base:
        connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
        try:
            connection.request("GET", "/healthz")
            first = connection.getresponse()
            first.read()
            assert first.status == 200
            assert first.getheader("Connection", "").lower() != "close"
            time.sleep(3)
            connection.request("GET", "/healthz")  # on the same socket, idle for 3 s
            second = connection.getresponse()
            second.read()
            assert second.status == 200
        finally:
            connection.close()


def test_a_negative_keepalive_is_refused(demo_dir):
    result = subprocess.run(
        [str(COMPTOIR), "serve", "--keepalive", "-1", "--no-migrate"],
        env=comptoir_env(demo_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--keepalive is a number of seconds" in result.stdout + result.stderr
