"""A scaled-out install for real, for the tests of this folder: web processes and workers
sharing a fresh PostgreSQL database and a Redis, an SMTP server that keeps what it is given,
and the questions the tests ask of the database afterwards."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from aiosmtpd.controller import Controller

from tests.processes import free_port, shared_env, start_with, stop

#: Makes the desk the load goes to: a team of three agents taking tickets in turn, a policy of
#: one minute (warned at half) that notifies by mail and raises the priority at the breach, a
#: manager notified of the breaches; prints the manager's API token.
SEED = """
from comptoir.accounts.models import Membership, Team, User
from comptoir.accounts.roles import Role
from comptoir.accounts.services import create_api_token
from comptoir.core.actor import Actor
from comptoir.desks.models import Desk
from comptoir.routing.models import RoutingRule
from comptoir.sla.models import SlaPolicy

desk = Desk.objects.create(slug="ops", name="Ops", prefix="OPS", time_zone="UTC")
manager = User.objects.create_user("manager@scale.test", display_name="Manager")
Membership.objects.create(user=manager, desk=desk, role=Role.MANAGER)
team = Team.objects.create(desk=desk, name="L1", slug="l1")
for n in range(3):
    agent = User.objects.create_user(f"agent{n}@scale.test", display_name=f"Agent {n}")
    Membership.objects.create(user=agent, desk=desk, role=Role.AGENT)
    team.members.add(agent)
User.objects.create_user("requester@scale.test", display_name="Requester")
RoutingRule.objects.create(desk=desk, name="Everything", team=team, method="round_robin")
SlaPolicy.objects.create(
    desk=desk,
    name="Fast",
    calendar_source="always",
    targets=[{"metric": "resolution", "minutes": 1, "priority": None}],
    warn_at=[50],
    warn_notify=["assignee"],
    breach_notify=["assignee", "desk_manager"],
    breach_raise_priority=True,
)
_, raw = create_api_token(actor=Actor.system(), user=manager, name="load")
print("TOKEN", raw)
"""


def require_postgresql_and_redis() -> tuple[str, str]:
    """The suite's DATABASE_URL and REDIS_URL, or a skip that says why."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url.startswith(
        "redis://"
    ):
        pytest.skip(
            "a scaled-out install runs on PostgreSQL and Redis: set DATABASE_URL=postgres://… "
            "and REDIS_URL=redis://… (the PostgreSQL phase of .ci/run does)"
        )
    return database_url, redis_url


@contextlib.contextmanager
def fresh_database(database_url: str, label: str) -> Iterator[str]:
    """A new, empty database on the suite's PostgreSQL server, dropped afterwards; yields its
    URL."""
    config = dj_database_url.parse(database_url)
    name = f"{config['NAME']}_{label}_{uuid.uuid4().hex[:8]}"[:63]
    admin = psycopg.connect(
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base, _, _ = database_url.rpartition("/")
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


class Sink:
    """An SMTP server that accepts everything and keeps, for each mail, its Message-ID and its
    recipients."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[str, tuple[str, ...]]] = []
        self._guard = threading.Lock()
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._guard:
            self.received.append(
                (str(message["Message-ID"]).strip("<>"), tuple(sorted(envelope.rcpt_tos)))
            )
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self._guard:
            return len(self.received)

    def start(self) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's every command
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class Cluster:
    """Web processes and workers of one install, sharing its database, Redis and data folder."""

    data_dir: Path
    database_url: str
    redis_url: str
    sink: Sink
    webs: dict[int, subprocess.Popen] = field(default_factory=dict)
    workers: list[subprocess.Popen] = field(default_factory=list)
    queue: str = field(default_factory=lambda: f"scaleout-{uuid.uuid4().hex[:8]}")

    def env(self, redis_url: str | None = None) -> dict:
        return shared_env(
            self.data_dir,
            database_url=self.database_url,
            redis_url=redis_url or self.redis_url,
            COMPTOIR_QUEUE_NAME=self.queue,
            COMPTOIR_SECRET_KEY="scale-out-" + "x" * 50,
            COMPTOIR_EMAIL_HOST="127.0.0.1",
            COMPTOIR_EMAIL_PORT=str(self.sink.port),
            # Undone work is made up after ten seconds, a dead worker's mail after twenty.
            COMPTOIR_CATCH_UP_AFTER_SECONDS="10",
            COMPTOIR_MAIL_LEASE_SECONDS="20",
            COMPTOIR_WORKER_THREADS="2",
        )

    @property
    def log(self) -> Path:
        return self.data_dir / "processes.log"

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [str(Path(os.sys.executable).with_name("comptoir")), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode != 0:
            pytest.fail(f"comptoir {args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def seed(self) -> str:
        self.run("migrate", "--verbosity", "0")
        out = self.run("shell", "-c", SEED)
        return next(line.split()[1] for line in out.splitlines() if line.startswith("TOKEN "))

    def start_web(self) -> str:
        port = free_port()
        self.webs[port] = start_with(
            self.env(), self.log, "serve", "--no-worker", "--port", str(port), "--workers", "1",
            "--threads", "4",
        )  # fmt: skip
        return f"http://127.0.0.1:{port}"

    def start_worker(self) -> subprocess.Popen:
        worker = start_with(self.env(), self.log, "worker")
        self.workers.append(worker)
        return worker

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for port, web in self.webs.items():
            while True:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/readyz", timeout=2
                    ) as answer:
                        if answer.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError):
                    pass
                if web.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"a web process did not start:\n{self.tail()}")
                time.sleep(0.3)

    def kill(self, worker: subprocess.Popen) -> None:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)

    def stop_all(self) -> None:
        for process in [*self.webs.values(), *self.workers]:
            stop(process)

    def tail(self, size: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""


@dataclass
class Load:
    """What the clients were told: the tickets acknowledged (201), and the requests refused."""

    refs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def open_tickets(
    bases: list[str], token: str, count: int, *, clients: int = 6, load: Load | None = None
) -> Load:
    """Open ``count`` tickets through the API, spread over the web processes, ``clients`` at a
    time. A request that fails is counted, not retried: it was not acknowledged."""
    load = load or Load()
    guard = threading.Lock()
    numbers = iter(range(count))

    def client(which: int) -> None:
        while True:
            with guard:
                n = next(numbers, None)
            if n is None:
                return
            base = bases[(n + which) % len(bases)]
            body = {"desk": "ops", "title": f"Load {n}", "requester": "requester@scale.test"}
            request = urllib.request.Request(
                f"{base}/api/v1/tickets",
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    ref = json.loads(answer.read())["ref"]
                with guard:
                    load.refs.append(ref)
            except urllib.error.HTTPError as exc:
                with guard:
                    load.failures.append(f"{exc.code} {exc.read()[:300]!r}")
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                with guard:
                    load.failures.append(repr(exc))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


@dataclass
class Outcome:
    """What the install did, read from its database."""

    tickets: dict[str, int]  # ref -> id
    routed: dict[int, int]  # ticket id -> routed events
    assigned: int  # tickets with an assignee
    clocks: int
    breached_clocks: int
    events: dict[tuple[int, str], int]  # (ticket id, SLA kind) -> events
    notices: list[tuple[int, str, int]]  # (id, key, recipient id)
    expected_notices: set[tuple[str, int]]  # (key, recipient id) the timeline calls for
    mails: dict[str, tuple[str, tuple[str, ...], int]]  # key -> (message id, to, attempts)
    unsent: int


SLA_KINDS = ("sla_warning", "sla_breached", "escalated")


def read_outcome(database_url: str) -> Outcome:
    with psycopg.connect(database_url, autocommit=True) as db:
        tickets = dict(db.execute("SELECT ref, id FROM tickets_ticket").fetchall())
        routed = {tid: 0 for tid in tickets.values()}
        for tid, n in db.execute(
            "SELECT ticket_id, COUNT(*) FROM tickets_ticketevent WHERE kind = 'routed' "
            "GROUP BY ticket_id"
        ):
            routed[tid] = n
        (assigned,) = db.execute(
            "SELECT COUNT(*) FROM tickets_ticket WHERE assignee_id IS NOT NULL"
        ).fetchone()
        clocks, breached = db.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE warned_level >= 100) FROM sla_slaclock"
        ).fetchone()
        events = {
            (tid, kind): n
            for tid, kind, n in db.execute(
                "SELECT ticket_id, kind, COUNT(*) FROM tickets_ticketevent WHERE kind = ANY(%s) "
                "GROUP BY ticket_id, kind",
                (list(SLA_KINDS),),
            )
        }
        notices = db.execute(
            "SELECT id, key, recipient_id FROM notifications_notification"
        ).fetchall()
        # What the timeline calls for: the assignee warned; the assignee and the desk's
        # manager told of the breach (under the clock's key, as the sweep writes it). Nothing
        # reassigns these tickets after routing: their assignee is the one to tell.
        (manager,) = db.execute(
            "SELECT id FROM accounts_user WHERE email = 'manager@scale.test'"
        ).fetchone()
        expected: set[tuple[str, int]] = set()
        for clock, cycle, level, assignee in db.execute(
            "SELECT c.id, c.cycle, (e.after->>'level')::int, t.assignee_id "
            "FROM tickets_ticketevent e JOIN sla_slaclock c ON c.ticket_id = e.ticket_id "
            "JOIN tickets_ticket t ON t.id = e.ticket_id "
            "WHERE e.kind IN ('sla_warning', 'sla_breached')"
        ):
            key = f"sla:{clock}:{cycle}:{level}"
            if assignee:
                expected.add((key, assignee))
            if level >= 100:
                expected.add((key, manager))
        mails = {
            key: (mid, tuple(json.loads(to) if isinstance(to, str) else to), attempts)
            for key, mid, to, attempts in db.execute(
                'SELECT key, message_id, "to", attempts FROM mail_outboundmessage'
            )
        }
        (unsent,) = db.execute(
            "SELECT COUNT(*) FROM mail_outboundmessage WHERE status <> 'sent'"
        ).fetchone()
    return Outcome(
        tickets=tickets,
        routed=routed,
        assigned=assigned,
        clocks=clocks,
        breached_clocks=breached,
        events=events,
        notices=notices,
        expected_notices=expected,
        mails=mails,
        unsent=unsent,
    )


def wait_until(done, *, timeout: float, what: str, cluster: Cluster, every: float = 2.0):
    """Call ``done()`` until it returns something true; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = done()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} (after {timeout:.0f} s)\n{cluster.tail()}")
        time.sleep(every)


class PrivateRedis:
    """A ``redis-server`` of the test's own, on a free port, keeping nothing on disk (as
    ``.ci/run`` starts the shared one); ``restart`` kills it and starts it again, empty."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import shutil

        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed: the restart of Redis cannot be tried")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    return
            except redis.exceptions.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the private redis-server did not start")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self, down_for: float) -> None:
        self.kill()
        time.sleep(down_for)
        self.start()


@contextlib.contextmanager
def running_cluster(data_dir: Path, label: str, redis_url: str | None = None) -> Iterator[Cluster]:
    """A ``Cluster`` on a fresh database of the suite's PostgreSQL, with its mail sink; the
    suite's Redis unless ``redis_url`` is given. Every process is stopped afterwards."""
    database_url, suite_redis = require_postgresql_and_redis()
    sink = Sink()
    sink.start()
    try:
        with fresh_database(database_url, label) as url:
            cluster = Cluster(
                data_dir=data_dir, database_url=url, redis_url=redis_url or suite_redis, sink=sink
            )
            try:
                yield cluster
            finally:
                cluster.stop_all()
    finally:
        sink.stop()
