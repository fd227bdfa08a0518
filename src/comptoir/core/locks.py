"""Locks for the periodic sweeps, which no dead holder keeps.

A sweep (the SLA clocks, the outbox, routing's catch-up…) runs every minute in every worker
process; its lock lets one of them do it and the others skip. A worker killed while holding it
must not stop that sweep for good, on any machine:

- with Redis (``REDIS_URL``), the lock is a key written only if absent, with an expiry
  (``SET NX PX``, by redis-py's ``Lock``) and a random token. While its holder lives, a thread
  pushes the expiry back every third of it; it is released by a compare-and-delete, so a
  holder whose lock expired never frees the next holder's. A killed holder's lock (a machine
  gone, a process killed) ends with its expiry, at most ``seconds`` later.
- without Redis, every worker shares one machine (the queue is a file in the data folder): the
  lock is an ``flock`` on a file in ``<data folder>/locks``, which the kernel releases when its
  holder dies.

Correctness never rests on these locks: what must happen once is claimed in the database. A
holder stopped long enough for its lock to expire (a machine frozen, Redis restarted empty) may
overlap the next one, and that only costs work.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_client_guard = threading.Lock()
_clients: dict[str, Any] = {}


def _redis(url: str):
    """One Redis client (with its connection pool) per URL and process."""
    with _client_guard:
        client = _clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
            _clients[url] = client
        return client


def _queue_name() -> str:
    return str(getattr(settings, "HUEY", {}).get("name") or "comptoir")


def lock_key(name: str) -> str:
    """The Redis key of the lock ``name`` (one set per queue name, as the jobs are)."""
    return f"{_queue_name()}:sweep-lock:{name}"


def lock_dir() -> Path:
    return Path(settings.DATA_DIR) / "locks"


def _keep(lock, name: str, seconds: float, done: threading.Event) -> None:
    """Push the lock's expiry back every third of its life while its holder lives."""
    from redis.exceptions import LockError, RedisError

    while not done.wait(seconds / 3):
        try:
            lock.reacquire()
        except LockError:  # it expired meanwhile (the process was stopped): another may hold it
            logger.warning("The lock %r expired while held (%s s)", name, seconds)
            return
        except RedisError:  # Redis away for a moment: try again, the lock may still be ours
            logger.warning("Could not renew the lock %r", name, exc_info=True)


@contextlib.contextmanager
def _redis_lock(name: str, seconds: float) -> Iterator[bool]:
    from redis.exceptions import LockError, RedisError

    lock = _redis(str(settings.REDIS_URL)).lock(
        lock_key(name), timeout=seconds, blocking=False, thread_local=False
    )
    if not lock.acquire():
        yield False
        return
    done = threading.Event()
    keeper = threading.Thread(
        target=_keep, args=(lock, name, seconds, done), name=f"lock {name}", daemon=True
    )
    keeper.start()
    try:
        yield True
    finally:
        done.set()
        keeper.join()
        try:
            lock.release()
        except (LockError, RedisError):  # expired, maybe held by another now; or Redis away
            logger.warning("The lock %r was not released; it expires by itself", name)


@contextlib.contextmanager
def _file_lock(name: str) -> Iterator[bool]:
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def sweep_lock(name: str, *, seconds: float) -> Iterator[bool]:
    """Hold the lock ``name`` for the block if nobody holds it; yields whether it is held.

    ``seconds``: with Redis, how long the lock outlives a holder that died; it is renewed as
    long as the holder lives. Without Redis the lock ends with its holder, whatever ``seconds``.
    """
    if not _NAME.match(name):
        raise ValueError(f"Invalid lock name: {name!r}")
    if seconds <= 0:
        raise ValueError("A lock lasts a positive number of seconds.")
    manager = _redis_lock(name, seconds) if settings.REDIS_URL else _file_lock(name)
    with manager as held:
        yield held


def exclusive(name: str, *, seconds: float) -> Callable[[F], F]:
    """Run the decorated function only when the lock ``name`` is free (``sweep_lock``); when
    another process holds it, skip the call and return None."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with sweep_lock(name, seconds=seconds) as held:
                if not held:
                    logger.info("%s skipped: another worker holds the lock %r", function, name)
                    return None
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate
