"""A real ``comptoir serve`` on a database of its own, for the fault tests.

SQLite: the data folder's own file. PostgreSQL: a database created on the server that
``DATABASE_URL`` names, dropped afterwards, so the suite's own test database is never touched.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.processes import COMPTOIR, comptoir_env, free_port

PASSWORD = "faults-Pa55word-2026"  # noqa: S105
AGENT = "agent@faults.test"
REQUESTER = "requester@faults.test"

#: Run in the served install: one desk, an agent with an API token, a requester.
_WORLD = f"""
from comptoir.accounts.models import Membership, User
from comptoir.accounts.roles import Role
from comptoir.accounts.services import create_api_token
from comptoir.core.actor import Actor
from comptoir.desks.models import Desk
desk = Desk.objects.create(name="IT", slug="it", prefix="IT", time_zone="UTC",
                           serves_all_sites=True)
agent = User.objects.create_user(email="{AGENT}", password="{PASSWORD}", display_name="Agent")
Membership.objects.create(user=agent, desk=desk, role=Role.AGENT)
User.objects.create_user(email="{REQUESTER}", password="{PASSWORD}", display_name="Requester")
print("TOKEN", create_api_token(actor=Actor.system(), user=agent, name="faults")[1])
"""


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database on the suite's PostgreSQL server; its URL. Dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    base = postgres_url()
    if base is None:
        pytest.skip("needs DATABASE_URL naming a PostgreSQL server")
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'comptoir'}_faults_{secrets.token_hex(4)}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def served_env(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    env = comptoir_env(data_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def comptoir(env: dict[str, str], *args: str) -> str:
    """``comptoir ARGS`` to its end, its output; fails the test with the output if it fails."""
    done = subprocess.run(
        [str(COMPTOIR), *args], env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(f"comptoir {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def make_world(env: dict[str, str]) -> str:
    """Migrate and add the desk and people; the agent's API token."""
    comptoir(env, "migrate", "--no-input", "-v", "0")
    out = comptoir(env, "shell", "-c", _WORLD)
    return re.search(r"^TOKEN (\S+)$", out, re.M).group(1)  # type: ignore[union-attr]


def query(env: dict[str, str], code: str) -> object:
    """Runs ``code`` (which sets ``result``) in the install; ``result`` read back as JSON."""
    out = comptoir(env, "shell", "-c", code + "\nimport json; print('RESULT', json.dumps(result))")
    return json.loads(re.search(r"^RESULT (.*)$", out, re.M).group(1))  # type: ignore[union-attr]


class Server:
    """``comptoir serve`` (one Gunicorn worker, no job worker) and an HTTP client for it."""

    def __init__(self, env: dict[str, str], log: Path, *, threads: int = 4):
        self.env = env
        self.log = log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.threads = threads
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(COMPTOIR), "serve", "--no-migrate", "--no-worker", "--workers", "1"]
                + ["--threads", str(self.threads), "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"the server stopped:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=10).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"the server did not become ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def worker_pids(self) -> list[int]:
        """The Gunicorn worker processes: the children of the serving process."""
        assert self.process is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after its last ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                pids.append(int(entry.name))
        return pids

    def signed_in(self, email: str) -> httpx.Client:
        """A browser-like client with the person's session."""
        client = httpx.Client(base_url=self.base, timeout=30)
        client.get("/login/")
        response = client.post(
            "/login/",
            data={
                "username": email,
                "password": PASSWORD,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
        )
        assert response.status_code == 302, response.text[:500]
        return client


def csrf(client: httpx.Client) -> dict[str, str]:
    return {"csrfmiddlewaretoken": client.cookies["csrftoken"]}
