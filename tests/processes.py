"""Real ``comptoir`` processes for the tests that need one (the server, the worker): each runs
on a data folder of its own, on SQLite, whatever database the suite itself uses; the scale-out
tests give theirs a PostgreSQL database and a Redis to share (``shared_env``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

COMPTOIR = Path(sys.executable).with_name("comptoir")

#: Left out of a child's environment: it must use its own data folder's SQLite and queue, and
#: run its jobs the way a real install does.
_NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "COMPTOIR_TASKS_IMMEDIATE", "COMPTOIR_SERVE_WORKER"}


def comptoir_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env["COMPTOIR_DATA_DIR"] = str(data_dir)
    return env


def shared_env(data_dir: Path, *, database_url: str, redis_url: str, **extra: str) -> dict:
    """The environment of a child that shares a PostgreSQL database and a Redis with others, as
    the processes of a scaled-out install do (``extra``: more variables, e.g. the queue name)."""
    env = comptoir_env(data_dir)
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, **extra)
    return env


def start_with(env: dict, log: Path, *args: str) -> subprocess.Popen:
    """``comptoir ARGS`` in the background with this environment, its output in ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(COMPTOIR), *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """``comptoir ARGS`` to its end; raises if it fails."""
    return subprocess.run(
        [str(COMPTOIR), *args],
        env=comptoir_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def start(data_dir: Path, log: Path, *args: str) -> subprocess.Popen:
    """``comptoir ARGS`` in the background, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(COMPTOIR), *args], env=comptoir_env(data_dir), stdout=out, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen) -> None:
    """Ask it to stop (SIGINT, as Ctrl-C does); kill it after 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(base: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Until ``base``'s ``/readyz`` answers 200; the test fails with ``log`` if the server
    stops or is not ready within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            pytest.fail(f"the server did not become ready:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
