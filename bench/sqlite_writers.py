#!/usr/bin/env python3
"""SQLite's writers under contention: Comptoir's backend (a file lock, ADR 15) against Django's.

    .venv/bin/python bench/sqlite_writers.py [--processes 4] [--threads 2] [--transactions 150]
                                             [--inside 8] [--outside 10]

Each of ``processes`` × ``threads`` writers runs ``transactions`` transactions through Django's
``transaction.atomic()``: one INSERT, then ``inside`` ms of CPU while the transaction is open (a
reply renders its mail there), then ``outside`` ms of CPU between transactions (the rest of a
request). Run once with Django's own SQLite backend (``BEGIN IMMEDIATE`` and SQLite's busy
handler: the baseline) and once with Comptoir's, same settings and pragmas as ``comptoir serve``
(WAL, ``synchronous=NORMAL``, busy timeout 20 s). Prints, for each: transactions per second and
how long a writer waited for its transaction to begin, p50 / p95 / p99 / max; then the ratio of
the tail (p99) and the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

ENGINES = {"django": "django.db.backends.sqlite3", "comptoir": "comptoir.core.sqlite"}
PRAGMAS = (
    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;"
    "PRAGMA foreign_keys=ON;"
)


def _spin(ms: float) -> None:
    end = time.thread_time() + ms / 1000
    while time.thread_time() < end:
        pass


def _writer_process(
    engine: str, path: str, threads: int, count: int, inside: float, outside: float, out
) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": ENGINES[engine],
                "NAME": path,
                "CONN_MAX_AGE": None,
                "OPTIONS": {
                    "transaction_mode": "IMMEDIATE",
                    "timeout": 20,
                    "init_command": PRAGMAS,
                },
            }
        },
        USE_TZ=True,
    )
    django.setup()
    from django.db import connection, transaction

    def run() -> None:
        waits = []
        for i in range(count):
            _spin(outside)
            started = time.perf_counter()
            with transaction.atomic():
                waits.append(time.perf_counter() - started)
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO note (body) VALUES (%s)", [f"note {i}"])
                _spin(inside)
        connection.close()
        out.put(waits)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def measure(engine: str, args) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="sqlite-writers-") as folder:
        path = os.path.join(folder, "bench.sqlite3")
        import sqlite3

        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        started = time.perf_counter()
        processes = [
            context.Process(
                target=_writer_process,
                args=(
                    engine,
                    path,
                    args.threads,
                    args.transactions,
                    args.inside,
                    args.outside,
                    out,
                ),
            )
            for _ in range(args.processes)
        ]
        for process in processes:
            process.start()
        waits: list[float] = []
        for _ in range(args.processes * args.threads):
            waits += out.get()
        for process in processes:
            process.join()
        wall = time.perf_counter() - started
    waits.sort()
    done = len(waits)
    return {
        "per_s": done / wall,
        "p50_ms": 1000 * common.percentile(waits, 50),
        "p95_ms": 1000 * common.percentile(waits, 95),
        "p99_ms": 1000 * common.percentile(waits, 99),
        "max_ms": 1000 * waits[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--transactions", type=int, default=150)
    parser.add_argument("--inside", type=float, default=8, help="ms of CPU in a transaction")
    parser.add_argument("--outside", type=float, default=10, help="ms of CPU between them")
    args = parser.parse_args()
    common.say(
        f"{args.processes} processes × {args.threads} threads, {args.transactions} transactions "
        f"each, {args.inside} ms inside and {args.outside} ms outside a transaction"
    )
    results = {}
    for engine in ("django", "comptoir"):
        results[engine] = found = measure(engine, args)
        print(
            f"  {engine:9s} {found['per_s']:6.1f} transactions/s · wait to begin p50 "
            f"{found['p50_ms']:7.1f} · p95 {found['p95_ms']:7.1f} · p99 {found['p99_ms']:7.1f}"
            f" · max {found['max_ms']:7.1f} ms"
        )
    base, ours = results["django"], results["comptoir"]
    print(
        f"  p99 wait: Comptoir's {ours['p99_ms'] / base['p99_ms']:.2f}× Django's; "
        f"throughput {ours['per_s'] / base['per_s']:.2f}×"
    )
    with tempfile.TemporaryDirectory() as folder:
        info = common.machine(common.Target("sqlite", Path(folder), None, True))
    common.print_machine(info)
    common.append_result(
        "sqlite_writers", {"settings": vars(args), "results": results, "machine": info}
    )


if __name__ == "__main__":
    main()
