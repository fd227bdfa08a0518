"""The background worker, for real: a job queued by one process is run by ``comptoir worker``,
and ``comptoir serve`` runs one beside the server unless told not to."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import free_port, run, start, stop, wait_ready

#: One desk with a policy around the clock, and a ticket whose clocks were lost: the queued job
#: puts them back. Prints the ticket's id and how many clocks it has once the job is queued.
QUEUE_A_REFRESH = """
from comptoir.accounts.models import User
from comptoir.core.actor import Actor
from comptoir.desks.models import Desk
from comptoir.sla.models import SlaClock, SlaPolicy
from comptoir.sla.tasks import refresh_ticket_clocks
from comptoir.tickets.services import create_ticket

desk, _ = Desk.objects.get_or_create(
    slug="it", defaults={"name": "IT", "prefix": "IT", "time_zone": "Europe/Paris"}
)
SlaPolicy.objects.get_or_create(
    desk=desk,
    name="Around the clock",
    defaults={
        "calendar_source": "always",
        "targets": [{"metric": "resolution", "minutes": 480, "priority": None}],
    },
)
requester, _ = User.objects.get_or_create(email="requester@example.test")
ticket = create_ticket(
    actor=Actor.for_user(requester), desk=desk, kind="incident", title="Queued"
)
SlaClock.objects.filter(ticket=ticket).delete()
refresh_ticket_clocks([ticket.pk])
print(ticket.pk, SlaClock.objects.filter(ticket=ticket).count())
"""


def _queue_a_refresh(data_dir: Path) -> int:
    out = run(data_dir, "shell", "-c", QUEUE_A_REFRESH).stdout.split()
    ticket_id, clocks_now = int(out[-2]), int(out[-1])
    assert clocks_now == 0, "the job ran in the shell: nothing would be left for the worker"
    return ticket_id


def _clocks_of(data_dir: Path, ticket_id: int) -> int:
    with sqlite3.connect(data_dir / "comptoir.sqlite3", timeout=10) as db:
        row = db.execute("SELECT COUNT(*) FROM sla_slaclock WHERE ticket_id = ?", (ticket_id,))
        return row.fetchone()[0]


def _wait_for_clocks(data_dir: Path, ticket_id: int, process: subprocess.Popen, log: Path):
    deadline = time.monotonic() + 20
    while _clocks_of(data_dir, ticket_id) == 0:
        if process.poll() is not None:
            pytest.fail(f"the process stopped:\n{log.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"the queued job did not run:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found[int(entry.name)] = cmdline
    return found


def _worker_children(pid: int) -> list[int]:
    return [child for child, cmd in _children(pid).items() if cmd.endswith("comptoir.cli worker")]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("worker")
    run(data_dir, "migrate", "--verbosity", "0")
    return data_dir


def test_the_worker_runs_a_job_queued_by_another_process(data_dir, tmp_path):
    log = tmp_path / "worker.log"
    worker = start(data_dir, log, "worker", "--no-periodic")
    try:
        ticket_id = _queue_a_refresh(data_dir)
        _wait_for_clocks(data_dir, ticket_id, worker, log)
        assert worker.poll() is None
    finally:
        stop(worker)
    assert _clocks_of(data_dir, ticket_id) == 1  # the resolution target, once


def test_serve_runs_a_worker_beside_the_server_and_stops_it_with_itself(data_dir, tmp_path):
    log = tmp_path / "serve.log"
    port = free_port()
    server = start(data_dir, log, "serve", "--port", str(port), "--workers", "1")
    workers: list[int] = []
    try:
        wait_ready(f"http://127.0.0.1:{port}", server, log, timeout=30)
        workers = _worker_children(server.pid)
        assert len(workers) == 1, _children(server.pid)
        ticket_id = _queue_a_refresh(data_dir)
        _wait_for_clocks(data_dir, ticket_id, server, log)
    finally:
        server.terminate()
        server.wait(timeout=30)
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:  # do not leave it behind, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert left == [], "the worker outlived the server"


def test_serve_without_a_worker_starts_none(data_dir, tmp_path):
    log = tmp_path / "serve.log"
    port = free_port()
    server = start(data_dir, log, "serve", "--port", str(port), "--workers", "1", "--no-worker")
    try:
        wait_ready(f"http://127.0.0.1:{port}", server, log, timeout=30)
        assert _worker_children(server.pid) == []
        assert _children(server.pid)  # its web workers are there: the look is not blind
    finally:
        server.terminate()
        server.wait(timeout=30)
