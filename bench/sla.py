#!/usr/bin/env python3
"""SLA arithmetic on one core: business-time deadlines on a real office calendar.

    .venv/bin/python bench/sla.py [--calls 200000] [--seed 1]

Pure Python, no server and no database. Each part prints its figures and a baseline measured in
the same run, so that a figure can be read without knowing the machine.

* Due dates — ``add_business_time`` on a Paris office calendar (Monday to Friday, 09:00–12:00
  and 13:00–17:00, the French public holidays of 2025–2028), from random starts over those four
  years (aware datetimes in Paris time, with microseconds) and for random durations of one hour
  to five business days (35 h), all made before the clock starts; then ``business_time_between``
  from the same starts to the deadlines found. Baseline: as many bare
  ``(start + duration).astimezone(UTC)``. The schedule's cache is filled by a first pass, which
  is timed apart ("cold"); the figures are the best of three passes.

* Breach sweep — ``sla.services.sweep`` over a database holding ``--sweep-tickets`` open
  tickets (1,000,000 by default), each with a running resolution clock, of which ``--due`` have
  reached a threshold. The first sweep acts on those (timeline events, notices, escalation);
  the second finds nothing due. Baselines, in the same run and on the same database: the bare
  indexed query for the due clocks, and a count of every open ticket (what a sweep that scans
  open tickets would at least read). ``--database postgres`` runs it on the PostgreSQL of
  ``COMPTOIR_BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``); ``--sweep-tickets 0``
  skips the part. The data is kept in ``bench/results/data/sla-<engine>`` and reused by later runs.

The process is pinned to one core when the system allows it, and waits (``--quiet-wait``) for
other processes to leave the CPU first; the run says how much CPU they took while it measured.
One JSON line per run goes to ``bench/results/sla.jsonl``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import common
import holidays as public_holidays
from common import say

from comptoir.desks.business_time import (
    Opening,
    Schedule,
    add_business_time,
    business_time_between,
)

SCENARIO = "sla"
TARGET_ADD_PER_S = 50_000
PARIS = ZoneInfo("Europe/Paris")
YEARS = range(2025, 2029)
REPEATS = 3


def paris_office() -> Schedule:
    openings = [Opening(day, clock(9), clock(12)) for day in range(5)]
    openings += [Opening(day, clock(13), clock(17)) for day in range(5)]
    days_off = public_holidays.country_holidays("FR", years=YEARS)
    return Schedule.build(PARIS, openings, days_off)


def best_rate(run: Callable[[], None], calls: int) -> tuple[float, float]:
    """(calls per second, seconds) of the fastest of ``REPEATS`` runs, the collector paused."""
    best = float("inf")
    for _ in range(REPEATS):
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return calls / best, best


def pin_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    core = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {core})
    return f"pinned to core {core}"


# --- part 1: due dates -----------------------------------------------------------------------


def bench_due_dates(calls: int = 200_000, seed: int = 1) -> dict[str, Any]:
    """Deadlines on the Paris office calendar, and the business time back to them."""
    rng = random.Random(seed)
    first = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    last = datetime(2028, 12, 24, tzinfo=UTC).timestamp()
    starts = [
        datetime.fromtimestamp(rng.uniform(first, last), UTC).astimezone(PARIS)
        for _ in range(calls)
    ]
    durations = [timedelta(seconds=rng.randint(3_600, 35 * 3_600)) for _ in range(calls)]
    pairs = list(zip(starts, durations, strict=True))

    schedule = paris_office()
    say(f"Part 1 — due dates: {calls:,} deadlines on {schedule!r}")

    def baseline() -> None:
        for start, duration in pairs:
            (start + duration).astimezone(UTC)

    due: list[datetime] = []

    def add(out: list[datetime] | None = None) -> None:
        for start, duration in pairs:
            deadline = add_business_time(schedule, start, duration)
            if out is not None:
                out.append(deadline)

    started = time.perf_counter()
    add(due)
    cold_s = time.perf_counter() - started
    spans = list(zip(starts, due, strict=True))

    def between() -> None:
        for start, end in spans:
            business_time_between(schedule, start, end)

    base_rate, base_s = best_rate(baseline, calls)
    add_rate, add_s = best_rate(add, calls)
    between_rate, between_s = best_rate(between, calls)
    mismatches = sum(
        business_time_between(schedule, start, end) != duration
        for (start, end), duration in zip(spans, durations, strict=True)
    )

    verdict = "met" if add_rate >= TARGET_ADD_PER_S else "MISSED"
    print(f"\nPart 1 — due dates ({calls:,} calls each, best of {REPEATS})")
    print(
        f"  calendar    Paris, Mon–Fri 09–12 and 13–17, {len(schedule.holidays)} French holidays "
        f"2025–2028; durations 1 h – 35 h of business time"
    )
    print(
        f"  baseline    (start + duration).astimezone(UTC): {base_rate:,.0f} /s "
        f"({base_s / calls * 1e6:.2f} µs each)"
    )
    print(
        f"  add         add_business_time: {add_rate:,.0f} calls/s "
        f"({add_s / calls * 1e6:.2f} µs each, {base_rate / add_rate:.1f}× the baseline's time)"
    )
    print(
        f"  between     business_time_between: {between_rate:,.0f} calls/s "
        f"({between_s / calls * 1e6:.2f} µs each, {base_rate / between_rate:.1f}× the baseline's time)"
    )
    print(
        f"  cold        first pass, cache filled on the way: {calls / cold_s:,.0f} calls/s "
        f"({len(schedule._blocks)} blocks of 64 days)"
    )
    print(f"  check       between(start, add(start, d)) != d: {mismatches} of {calls:,}")
    print(f"  target      ≥ {TARGET_ADD_PER_S:,} add_business_time calls/s: {verdict}")
    return {
        "calls": calls,
        "seed": seed,
        "baseline_per_s": round(base_rate),
        "add_per_s": round(add_rate),
        "between_per_s": round(between_rate),
        "cold_add_per_s": round(calls / cold_s),
        "add_over_baseline": round(base_rate / add_rate, 2),
        "between_over_baseline": round(base_rate / between_rate, 2),
        "mismatches": mismatches,
        "target_add_per_s": TARGET_ADD_PER_S,
    }


# --- driver ----------------------------------------------------------------------------------


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000, help="calls per measurement (200000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the inputs (1)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="wait up to this many seconds for other processes to leave the CPU (60)",
    )
    parser.add_argument(
        "--sweep-tickets",
        type=int,
        default=1_000_000,
        help="open tickets for the breach sweep (1000000; 0 skips it)",
    )
    parser.add_argument("--due", type=int, default=100, help="clocks due at the sweep (100)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--fresh", action="store_true", help="regenerate the sweep's data")
    args = parser.parse_args(None if argv is None else list(argv))

    info = common.machine(SimpleNamespace(engine="none (pure Python)"))
    pinning = pin_one_core()
    say(f"SLA arithmetic · {pinning}")
    quiet = common.wait_quiet(args.quiet_wait)
    meter = common.CpuMeter()
    parts: dict[str, Any] = {}
    parts["due_dates"] = bench_due_dates(calls=args.calls, seed=args.seed)
    cpu = meter.stop()
    if args.sweep_tickets:
        parts["sweep"] = bench_sweep(args.database, args.sweep_tickets, args.due, args.fresh)
    print(
        f"\nCPU  this process {cpu['client_cpu_s']:.1f} s, other processes "
        f"{cpu['others_cpu_s']:.1f} s ({cpu['others_share']:.0%} of the machine) "
        f"over {cpu['wall_s']:.1f} s"
    )
    common.print_machine(info)

    path = common.append_result(
        SCENARIO,
        {
            "params": vars(args),
            "pinning": pinning,
            "others_share_before": quiet,
            "cpu": cpu,
            **parts,
            "machine": info,
        },
    )
    print(f"\n(appended to {path.relative_to(common.ROOT)})")


# --- part 2: the breach sweep ------------------------------------------------------------------


def dj_sweep_generate(tickets: int, batch: int = 100_000) -> dict[str, Any]:
    """Django side: ``tickets`` open tickets with a running resolution clock each, none due.

    Written by ``INSERT … SELECT`` over a generated series (recursive CTE on SQLite,
    ``generate_series`` on PostgreSQL): a million rows in a minute or two, not an hour.
    """
    from django.db import connection, transaction
    from django.utils import timezone

    from comptoir.desks.models import Desk
    from comptoir.sla.models import SlaClock, SlaPolicy
    from comptoir.tickets.models import Ticket

    started = time.perf_counter()
    world = common.setup_world(desks=[("IT", "it", "IT")])
    desk = Desk.objects.get(slug="it")
    policy = SlaPolicy.objects.create(
        desk=desk, name="Standard", targets=[{"metric": "resolution", "minutes": 480}]
    )
    adapt = connection.ops.adapt_datetimefield_value
    now = timezone.now()
    at, later = adapt(now), adapt(now + timedelta(days=30))
    tickets_table, clocks_table = Ticket._meta.db_table, SlaClock._meta.db_table
    if connection.vendor == "sqlite":
        series = (
            "WITH RECURSIVE seq(n) AS (SELECT %s UNION ALL SELECT n + 1 FROM seq WHERE n < %s) "
        )
        source, ref = "FROM seq", "'IT-' || printf('%%07d', n)"
    else:
        series = ""
        source, ref = (
            "FROM generate_series(%s::int, %s::int) AS n",
            "'IT-' || lpad(n::text, 7, '0')",
        )
    insert_tickets = (
        f"{series}INSERT INTO {tickets_table} (desk_id, number, ref, kind, status, "  # noqa: S608
        "status_category, title, description, description_html, requester_id, channel, impact, "
        "urgency, priority, priority_overridden, priority_reason, custom_fields, resolution, "
        "created_at, updated_at, sla_due_at, sla_breached) "
        f"SELECT %s, n, {ref}, 'incident', 'in_progress', 'open', 'Ticket ' || n, '', '', %s, "
        "'web', 'medium', 'medium', 3, FALSE, '', '{}', '', %s, %s, %s, FALSE "
        + (source if series else source)
    )
    insert_clocks = (
        f"INSERT INTO {clocks_table} (ticket_id, slot, scope, metric, policy_id, time_zone, "  # noqa: S608
        "cycle, target_seconds, state, started_at, elapsed_seconds, resumed_at, due_at, "
        "next_check_at, warned_level, updated_at) "
        "SELECT id, 'sla:resolution', 'sla', 'resolution', %s, 'UTC', 1, 28800, 'running', "
        f"%s, 0, %s, %s, %s, 0, %s FROM {tickets_table} "
        "WHERE desk_id = %s AND number BETWEEN %s AND %s"
    )
    for first in range(1, tickets + 1, batch):
        last = min(first + batch - 1, tickets)
        with transaction.atomic(), connection.cursor() as cursor:
            if series:
                params = [first, last, desk.pk, world["agent_id"], at, at, later]
            else:
                params = [desk.pk, world["agent_id"], at, at, later, first, last]
            cursor.execute(insert_tickets, params)
            cursor.execute(
                insert_clocks, [policy.pk, at, at, later, later, at, desk.pk, first, last]
            )
        print(f"{last:,} tickets", flush=True)
    Desk.objects.filter(pk=desk.pk).update(last_number=tickets)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tickets_table}; ANALYZE {clocks_table}")
    return {"tickets": tickets, "seconds": round(time.perf_counter() - started, 1)}


def dj_sweep_run(due: int) -> dict[str, Any]:
    """Django side: make ``due`` clocks due, sweep twice, and time the baselines."""
    from django.db import connection
    from django.utils import timezone

    from comptoir.sla.models import SlaClock
    from comptoir.sla.services import sweep
    from comptoir.tickets.models import Ticket

    now = timezone.now()
    chosen = list(
        SlaClock.objects.filter(warned_level=0).order_by("id").values_list("pk", flat=True)[:due]
    )
    # Past their breach: started ten hours ago against an eight-hour target.
    SlaClock.objects.filter(pk__in=chosen).update(
        started_at=now - timedelta(hours=10),
        resumed_at=now - timedelta(hours=10),
        due_at=now - timedelta(hours=2),
        next_check_at=now - timedelta(hours=4),
    )

    def timed(run: Callable[[], Any]) -> tuple[float, Any]:
        began = time.perf_counter()
        result = run()
        return time.perf_counter() - began, result

    table = SlaClock._meta.db_table
    with connection.cursor() as cursor:
        due_query, due_rows = timed(
            lambda: (
                cursor.execute(
                    f"SELECT id FROM {table} WHERE next_check_at IS NOT NULL "  # noqa: S608
                    "AND next_check_at <= %s ORDER BY next_check_at LIMIT 500",
                    [now],
                ),
                cursor.fetchall(),
            )[1]
        )
    scan, open_count = timed(
        lambda: Ticket.objects.filter(status_category__in=["open", "pending"]).count()
    )
    first, report = timed(lambda: sweep(now=now))
    second, idle = timed(lambda: sweep(now=now))
    return {
        "due": len(chosen),
        "due_found_by_bare_query": len(due_rows),
        "bare_due_query_s": round(due_query, 4),
        "open_tickets": open_count,
        "count_open_tickets_s": round(scan, 3),
        "sweep_s": round(first, 3),
        "sweep_examined": report.examined,
        "sweep_breaches": report.breaches,
        "idle_sweep_s": round(second, 4),
        "idle_examined": idle.examined,
    }


def bench_sweep(engine: str, tickets: int, due: int, fresh: bool) -> dict[str, Any]:
    folder = common.BENCH / "results" / "data" / f"sla-{engine}"
    marker = folder / "dataset.json"
    pg_name = "comptoir_bench_sla"
    reuse = not fresh and marker.exists() and json_load(marker).get("tickets") == tickets
    if reuse and engine == "postgres":
        reuse = common.pg_database_exists(pg_name)
    target = common.Target.create(engine, pg_name=pg_name, data_dir=folder, fresh=not reuse)
    target.throwaway = False
    if reuse:
        say(f"Part 2 — breach sweep: reusing {tickets:,} open tickets on {engine}")
    else:
        say(f"Part 2 — breach sweep: generating {tickets:,} open tickets on {engine}…")
        made = common.django_call(THIS, "sweep_generate", target, tickets=tickets)
        marker.write_text(json.dumps(made))
        say(f"generated in {made['seconds']} s")
    figures = common.django_call(THIS, "sweep_run", target, due=due)
    print(
        f"  sweep acting on {figures['sweep_breaches']} due clocks among "
        f"{figures['open_tickets']:,} open tickets: {figures['sweep_s']:.3f} s"
        f" (target < 2 s)\n"
        f"  idle sweep (nothing due):              {figures['idle_sweep_s'] * 1000:.1f} ms\n"
        f"  baseline, bare indexed due query:      {figures['bare_due_query_s'] * 1000:.1f} ms\n"
        f"  baseline, counting the open tickets:   {figures['count_open_tickets_s']:.3f} s"
    )
    return {"engine": engine, **figures}


def json_load(path) -> dict[str, Any]:
    return json.loads(path.read_text())


THIS = Path(__file__).resolve()

if __name__ == "__main__":
    if not common.django_child({"sweep_generate": dj_sweep_generate, "sweep_run": dj_sweep_run}):
        main()
