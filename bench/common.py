"""Shared code of the benchmark scenarios (standard library only on the driver side).

A scenario script is both the driver and, when started with ``--django FUNCTION``, the small
Django-side helper that makes data: the driver runs itself again with the virtualenv's Python,
``DJANGO_SETTINGS_MODULE=comptoir.config.settings`` and the scenario's data folder or database,
so that the data is made by the real models and services and the driver keeps no Django state.

What lives here:

* ``Target``: one throwaway data folder (and, for PostgreSQL, one database) and its environment;
* ``django_call``: run a function of a scenario module inside Django, get its JSON answer;
* ``setup_world`` (Django side): migrate, one organisation, desks, an agent and an API token;
* ``Server``: a real ``comptoir serve`` process on a free loopback port, ready once /healthz answers;
* ``HttpClient``: a keep-alive ``http.client`` connection that times each request;
* ``summary`` / ``percentile``: latency figures; ``machine`` / ``print_machine``: what ran it;
* ``append_result``: one JSON line per run in ``bench/results/<scenario>.jsonl``.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
COMPTOIR = VENV / "bin" / "comptoir"
PG_BASE_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
SETTINGS = "comptoir.config.settings"

#: The pragmas Comptoir's settings give every SQLite connection (config/settings.py).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL;",
    "PRAGMA synchronous=NORMAL;",
    "PRAGMA foreign_keys=ON;",
    "PRAGMA busy_timeout=20000;",
    "PRAGMA cache_size=-64000;",
    "PRAGMA mmap_size=268435456;",
    "PRAGMA temp_store=MEMORY;",
)


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


# --- data folders and databases -------------------------------------------------------------


def pg_parts(url: str) -> dict[str, str]:
    parsed = urllib.parse.urlparse(url)
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": str(parsed.port or 5432),
        "user": parsed.username or "postgres",
        "dbname": parsed.path.lstrip("/"),
    }


def pg_admin(*args: str) -> None:
    """createdb/dropdb against the server of ``BENCH_PG_URL``."""
    parts = pg_parts(PG_BASE_URL)
    cmd = [args[0], "-h", parts["host"], "-p", parts["port"], "-U", parts["user"], *args[1:]]
    subprocess.run(cmd, check=True, capture_output=True, text=True)  # noqa: PLW1510


def pg_database_exists(name: str) -> bool:
    parts = pg_parts(PG_BASE_URL)
    out = subprocess.run(
        [
            "psql",
            "-h",
            parts["host"],
            "-p",
            parts["port"],
            "-U",
            parts["user"],
            "-d",
            "postgres",
            "-Atc",
            f"SELECT 1 FROM pg_database WHERE datname = '{name}'",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out == "1"


def pg_clone(source: str, target: str) -> None:
    """A fresh database ``target`` copied from ``source`` (which must have no connection)."""
    pg_admin("dropdb", "--if-exists", target)
    pg_admin("createdb", "-T", source, target)


@dataclass
class Target:
    """Where a run keeps its state: a data folder, and the SQLite file or a PostgreSQL database."""

    engine: str  # "sqlite" | "postgres"
    data_dir: Path
    pg_name: str | None = None
    throwaway: bool = True

    @classmethod
    def create(
        cls, engine: str, *, pg_name: str, data_dir: Path | None = None, fresh: bool = True
    ) -> Target:
        if engine not in ("sqlite", "postgres"):
            raise SystemExit(f"unknown database {engine!r}: sqlite or postgres")
        throwaway = data_dir is None
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix=f"comptoir-bench-{engine}-"))
        elif fresh and data_dir.exists():
            shutil.rmtree(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        target = cls(engine, data_dir, pg_name if engine == "postgres" else None, throwaway)
        if engine == "postgres" and (fresh or not pg_database_exists(pg_name)):
            pg_admin("dropdb", "--if-exists", pg_name)
            pg_admin("createdb", pg_name)
        return target

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "comptoir.sqlite3"

    @property
    def database_url(self) -> str | None:
        return f"{PG_BASE_URL}/{self.pg_name}" if self.engine == "postgres" else None

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPTOIR_", "DJANGO_"))}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        env.update(
            DJANGO_SETTINGS_MODULE=SETTINGS,
            COMPTOIR_DATA_DIR=str(self.data_dir),
            COMPTOIR_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        env.update(extra)
        return env

    def cleanup(self) -> None:
        if self.throwaway:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            if self.pg_name:
                try:
                    pg_admin("dropdb", "--if-exists", self.pg_name)
                except subprocess.CalledProcessError as exc:
                    print(f"(could not drop {self.pg_name}: {exc.stderr.strip()})")

    def driver_connection(self):
        """A bare driver connection to this target's database (sqlite3 or psycopg)."""
        if self.engine == "sqlite":
            return sqlite_connect(self.sqlite_path)
        return pg_connect(self.pg_name)


def sqlite_connect(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with Comptoir's pragmas, in autocommit (we say BEGIN ourselves)."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=20, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


def pg_connect(name: str):
    import psycopg

    parts = pg_parts(PG_BASE_URL)
    return psycopg.connect(
        host=parts["host"], port=parts["port"], user=parts["user"], dbname=name, autocommit=True
    )


# --- running code inside Django --------------------------------------------------------------


def django_call(script: Path, function: str, target: Target, **kwargs: Any) -> Any:
    """Run ``script --django function`` with the venv's Python inside Django; its JSON answer."""
    proc = subprocess.run(
        [str(PYTHON), str(script), "--django", function, json.dumps(kwargs)],
        env=target.env(),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{script.name} --django {function} failed ({proc.returncode})")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    for line in lines[:-1]:
        print(f"   {line}")
    return json.loads(lines[-1])


def django_child(functions: dict[str, Any]) -> bool:
    """In a scenario's ``__main__``: if started with ``--django NAME ARGS``, run it and say so."""
    if len(sys.argv) < 2 or sys.argv[1] != "--django":
        return False
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    import django

    django.setup()
    kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    result = functions[sys.argv[2]](**kwargs)
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return True


def setup_world(
    *, desks: list[tuple[str, str, str]], agent_email: str = "agent@bench.test"
) -> dict[str, Any]:
    """Django side. Migrate; an organisation, the desks, an agent with a role on each, a token.

    The token is what ``comptoir token create EMAIL`` prints (same service function).
    """
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from comptoir.accounts.models import Membership, Organisation, User
    from comptoir.accounts.roles import Role
    from comptoir.accounts.services import create_api_token
    from comptoir.core.actor import Actor, Channel
    from comptoir.desks.models import Desk

    org, _ = Organisation.objects.get_or_create(
        slug="bench-corp", defaults={"name": "Bench Corp", "is_internal": True}
    )
    desk_rows = []
    for name, slug, prefix in desks:
        desk, _ = Desk.objects.get_or_create(
            slug=slug, defaults={"name": name, "prefix": prefix, "time_zone": "UTC"}
        )
        desk_rows.append(desk)
    agent = User.objects.filter(email=agent_email).first()
    if agent is None:
        agent = User.objects.create_user(
            agent_email, None, display_name="Bench Agent", organisation=org
        )
    for desk in desk_rows:
        Membership.objects.get_or_create(user=agent, desk=desk, role=Role.AGENT)
    _, raw = create_api_token(actor=Actor.system("bench", Channel.SYSTEM), user=agent, name="bench")
    return {
        "token": raw,
        "agent_id": agent.pk,
        "agent_email": agent.email,
        "desks": {d.slug: d.pk for d in desk_rows},
        "organisation_id": org.pk,
    }


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def experiment_env(
    conn_max_age: str | None = None, server_side_binding: bool = False
) -> dict[str, str]:
    """Environment that makes the server use ``bench/experiment_settings.py`` (or nothing)."""
    if conn_max_age is None and not server_side_binding:
        return {}
    return {
        "DJANGO_SETTINGS_MODULE": "experiment_settings",
        "PYTHONPATH": str(BENCH),
        "BENCH_CONN_MAX_AGE": conn_max_age or "",
        "BENCH_SERVER_SIDE_BINDING": "1" if server_side_binding else "",
    }


def add_server_options(parser) -> None:
    """The options every scenario takes about the server it starts."""
    parser.add_argument(
        "--workers", type=int, help="Gunicorn workers (default: comptoir serve's own)"
    )
    parser.add_argument(
        "--threads", type=int, help="threads per worker (default: comptoir serve's own)"
    )
    parser.add_argument(
        "--conn-max-age",
        metavar="SECONDS|none",
        help="experiment: serve with this CONN_MAX_AGE instead of the settings' own",
    )
    parser.add_argument(
        "--server-side-binding",
        action="store_true",
        help="experiment (PostgreSQL): server-side binding and prepared statements (plans reused)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=180,
        help="wait up to this many seconds for other processes to leave the CPU (default 180)",
    )


def experiment_of(args) -> dict[str, Any]:
    return {
        k: v
        for k, v in {
            "conn_max_age": args.conn_max_age,
            "server_side_binding": args.server_side_binding,
        }.items()
        if v
    }


# --- other work on the machine ---------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return (total - idle) / _TICK, total / _TICK


def _process_cpu(pgid: int | None) -> tuple[float, float]:
    """CPU seconds used so far by group ``pgid`` (our server and its workers) and by PostgreSQL.

    Each process's own time, and its children's that have ended (``cutime``, ``cstime``): a
    PostgreSQL connection or parallel worker that ends during a phase leaves its time with the
    postmaster, which waits for it, instead of taking it out of the sum (which made PostgreSQL's
    share come out negative and the rest count as "others").
    """
    group = database = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.find("(") + 1 : raw.rfind(")")]
        # state ppid pgrp … utime(11) stime(12) cutime(13) cstime(14)
        rest = raw.rsplit(")", 1)[1].split()
        used = sum(int(v) for v in rest[11:15]) / _TICK
        if pgid is not None and int(rest[2]) == pgid:
            group += used
        elif name == "postgres":
            database += used
    return group, database


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


class CpuMeter:
    """Who used the CPU during a phase: us (this process and the server's group) or others."""

    def __init__(self, server_pgid: int | None = None, *, postgres: bool = False):
        self.pgid = server_pgid
        self.postgres = postgres  # count PostgreSQL's processes as ours (else as others')
        self.start = (_machine_cpu(), _process_cpu(server_pgid), _own_cpu(), time.perf_counter())

    def stop(self) -> dict[str, float]:
        (busy0, total0), (group0, db0), own0, wall0 = self.start
        (busy1, total1), (group1, db1), own1, wall1 = (
            _machine_cpu(),
            _process_cpu(self.pgid),
            _own_cpu(),
            time.perf_counter(),
        )
        cores = os.cpu_count() or 1
        wall = wall1 - wall0
        database = (db1 - db0) if self.postgres else 0.0
        ours = (group1 - group0) + (own1 - own0) + database
        others = max(0.0, (busy1 - busy0) - ours)
        return {
            "wall_s": round(wall, 3),
            "server_cpu_s": round(group1 - group0, 3),
            "client_cpu_s": round(own1 - own0, 3),
            "database_cpu_s": round(database, 3),
            "others_cpu_s": round(others, 3),
            "others_share": round(others / (wall * cores), 3) if wall > 0 else 0.0,
            "machine_busy_share": round((busy1 - busy0) / max(total1 - total0, 1e-9), 3),
        }


def wait_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """Wait (up to ``max_wait`` s) until other processes use under ``threshold`` of the CPU."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, t0 = _machine_cpu()
        time.sleep(2)
        b1, t1 = _machine_cpu()
        share = (b1 - b0) / max(t1 - t0, 1e-9)
        if share < threshold or time.monotonic() >= deadline:
            if share >= threshold:
                say(f"the machine is still {share:.0%} busy with other work; measuring anyway")
            return round(share, 3)
        say(f"the machine is {share:.0%} busy with other work; waiting")
        time.sleep(8)


class Server:
    """A real ``comptoir serve`` process (Gunicorn gthread) on a free loopback port."""

    def __init__(
        self,
        target: Target,
        *,
        workers: int | None = None,
        threads: int | None = None,
        env: dict[str, str] | None = None,
    ):
        self.target = target
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.host = "127.0.0.1"
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = target.data_dir / f"serve-{self.port}.log"

    @property
    def command(self) -> list[str]:
        cmd = [str(COMPTOIR), "serve", "--host", self.host, "--port", str(self.port)]
        if self.workers:
            cmd += ["--workers", str(self.workers)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        return cmd

    #: What the messages call the server.
    label = "comptoir serve"

    def process_env(self) -> dict[str, str]:
        return self.target.env(**self.extra_env)

    def process_cwd(self) -> str:
        return str(ROOT)

    def start(self, timeout: float = 90) -> Server:
        log = open(self.log_path, "w")  # noqa: SIM115 - kept open for the process's life
        self.proc = subprocess.Popen(
            self.command,
            env=self.process_env(),
            cwd=self.process_cwd(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"{self.label} exited ({self.proc.returncode}):\n"
                    f"{self.log_path.read_text()[-3000:]}"
                )
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"{self.label} did not answer /healthz within {timeout:.0f}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(
            signal.SIGTERM
        )  # Gunicorn's graceful stop: the workers finish, then exit
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group (start_new_session)
            self.proc.wait(timeout=10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class HttpClient:
    """One keep-alive HTTP/1.1 connection; ``call`` returns (status, body bytes, seconds)."""

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, bytes, float]:
        body = None if payload is None else json.dumps(payload).encode()
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self._connect()
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: open a new one and send again
                # (only before any answer arrived, so nothing was done twice).
                self.conn.close()
                self.conn = None
                self.reconnects += 1
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - start
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return response.status, data, elapsed
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- figures ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0–100), linear between closest ranks (as numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(seconds: list[float]) -> dict[str, float]:
    """Latency figures in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "mean_ms": round(sum(ms) / len(ms), 3) if ms else float("nan"),
        "min_ms": round(min(ms), 3) if ms else float("nan"),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


def fmt_latency(s: dict[str, float]) -> str:
    return (
        f"p50 {s['p50_ms']:.2f} ms · p95 {s['p95_ms']:.2f} ms · p99 {s['p99_ms']:.2f} ms · "
        f"mean {s['mean_ms']:.2f} ms (n={s['n']})"
    )


# --- the machine -----------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _venv_versions() -> dict[str, str]:
    code = (
        "import json, sqlite3, sys\n"
        "from importlib.metadata import version, PackageNotFoundError\n"
        "def v(name):\n"
        "    try:\n        return version(name)\n"
        "    except PackageNotFoundError:\n        return None\n"
        "print(json.dumps({'python': sys.version.split()[0], 'sqlite': sqlite3.sqlite_version,"
        " 'django': v('django'), 'gunicorn': v('gunicorn'), 'ninja': v('django-ninja'),"
        " 'pydantic': v('pydantic'), 'psycopg': v('psycopg')}))"
    )
    out = subprocess.run(
        [str(PYTHON), "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def _git_commit() -> str | None:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return rev + ("+dirty-src" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def src_digest() -> str:
    """A short digest of the Python sources measured (the working tree may differ from the commit)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "src").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def machine(target: Target) -> dict[str, Any]:
    versions = _venv_versions()
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        **versions,
        "engine": target.engine,
        "commit": _git_commit(),
        "src_digest": src_digest(),
    }
    if target.engine == "postgres":
        with pg_connect(target.pg_name) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            info["pg_synchronous_commit"] = conn.execute("SHOW synchronous_commit").fetchone()[0]
            info["pg_shared_buffers"] = conn.execute("SHOW shared_buffers").fetchone()[0]
    else:
        info["postgresql"] = None
    return info


def print_machine(info: dict[str, Any]) -> None:
    print("\nMachine")
    print(
        f"  CPU        {info['cpu']} — {info['cores']} cores ({info['cores_usable']} usable), "
        f"{info['ram_gib']} GiB RAM, {info['os']}"
    )
    print(
        f"  Python     {info['python']} · Django {info['django']} · django-ninja {info['ninja']} · "
        f"pydantic {info['pydantic']} · Gunicorn {info['gunicorn']}"
    )
    pg = info.get("postgresql")
    pg_text = (
        f"PostgreSQL {pg} (synchronous_commit={info.get('pg_synchronous_commit')}, "
        f"shared_buffers={info.get('pg_shared_buffers')}), psycopg {info['psycopg']}"
        if pg
        else "PostgreSQL —"
    )
    print(f"  Databases  SQLite {info['sqlite']} · {pg_text}")
    print(
        f"  Engine     {info['engine']}   (commit {info.get('commit')}, sources {info.get('src_digest')})"
    )


def append_result(scenario: str, record: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{scenario}.jsonl"
    record = {"scenario": scenario, "at": datetime.now(UTC).isoformat(timespec="seconds"), **record}
    with path.open("a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")
    return path


@dataclass
class Timer:
    """Wall time of a phase."""

    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started
