"""A web process killed in the middle of ticket creations leaves no half-written ticket.

New requests with several large files go to a real ``comptoir serve``; the moment the first
file of one of them reaches storage (so its rows cannot have been committed yet), the Gunicorn
worker is killed with SIGKILL. Every ticket that exists afterwards is whole (its creation event,
all its files, rows and bytes alike), numbers have neither a twin nor a gap, and the bytes left
without a row are removed by ``comptoir cleanup``. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.servers import (
    REQUESTER,
    Server,
    comptoir,
    csrf,
    make_world,
    postgres_database,
    query,
    served_env,
)

BIG = 6 * 1024 * 1024  # each file of the requests in flight: spooled, then copied into storage

_STATE = """
from django.core.files.storage import default_storage
from comptoir.tickets.models import Attachment, Ticket
result = {
    "tickets": [
        {
            "title": t.title,
            "number": t.number,
            "created_events": t.events.filter(kind="created").count(),
            "files": t.attachments.count(),
            "file_events": t.events.filter(kind="attachment_added").count(),
        }
        for t in Ticket.objects.order_by("number")
    ],
    "rows": [
        [a.file.name, a.size, default_storage.exists(a.file.name)
         and default_storage.size(a.file.name)]
        for a in Attachment.objects.all()
    ],
}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def install(request, tmp_path):
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        yield served_env(data_dir, None), data_dir
    else:
        with postgres_database() as url:
            yield served_env(data_dir, url), data_dir


def _on_disk(media: Path) -> set[str]:
    root = media / "attachments"
    if not root.exists():
        return set()
    return {
        f"attachments/{bucket.name}/{entry.name}"
        for bucket in os.scandir(root)
        if bucket.is_dir()
        for entry in os.scandir(bucket.path)
    }


def _new_request(
    client: httpx.Client, title: str, files: list[tuple[str, bytes]]
) -> httpx.Response:
    return client.post(
        "/portal/new/",
        data={"desk": "it", "kind": "incident", "category": "", "title": title, **csrf(client)},
        files=[("uploads", (name, body, "application/octet-stream")) for name, body in files],
    )


def _expected_files(title: str) -> int:
    return int(re.search(r"\((\d+) files\)", title).group(1))  # type: ignore[union-attr]


def test_a_worker_killed_mid_creation_leaves_only_whole_tickets(install, tmp_path):
    env, data_dir = install
    media = data_dir / "files"
    make_world(env)
    server = Server(env, tmp_path / "server.log").start()
    try:
        browser = server.signed_in(REQUESTER)
        for n in range(2):
            title = f"Whole {n} (2 files)"
            files = [(f"log-{n}-{i}.txt", f"line {i}\n".encode() * 100) for i in range(2)]
            assert _new_request(browser, title, files).status_code == 302

        before = _on_disk(media)
        failures: list[str] = []

        def send(n: int) -> None:
            client = server.signed_in(REQUESTER)
            files = [(f"dump-{n}-{i}.bin", os.urandom(BIG)) for i in range(4)]
            try:
                _new_request(client, f"In flight {n} (4 files)", files)
            except httpx.HTTPError as exc:  # the worker died under it
                failures.append(type(exc).__name__)

        senders = [threading.Thread(target=send, args=(n,)) for n in range(3)]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 60
        seen: set[str] = set()
        while not seen and time.monotonic() < deadline:
            seen = _on_disk(media) - before
        assert seen, "no upload reached storage"
        for pid in server.worker_pids():
            os.kill(pid, signal.SIGKILL)
        for sender in senders:
            sender.join(timeout=60)
        assert failures, "every creation finished before the worker was killed"

        server.wait_ready()  # Gunicorn started a new worker
        state = query(env, _STATE)
        assert isinstance(state, dict)
        stored = {name for name, _, _ in state["rows"]}
        for ticket in state["tickets"]:
            assert ticket["created_events"] == 1, ticket
            assert ticket["files"] == ticket["file_events"] == _expected_files(ticket["title"])
        for name, size, size_on_disk in state["rows"]:
            assert size_on_disk == size, f"{name}: row without its bytes"
        numbers = [t["number"] for t in state["tickets"]]
        assert numbers == list(range(1, len(numbers) + 1))
        assert seen - stored, "the file seen in flight belongs to no row"

        strays = _on_disk(media) - stored
        out = comptoir(env, "cleanup", "--min-age-minutes", "0")
        assert f"Removed {len(strays)} orphan file(s)" in out
        assert _on_disk(media) == stored

        again = _new_request(browser, "After the crash (1 files)", [("note.txt", b"back\n")])
        assert again.status_code == 302
        last = query(env, _STATE)
        assert isinstance(last, dict)
        assert [t["number"] for t in last["tickets"]] == list(range(1, len(numbers) + 2))
    finally:
        server.stop()
