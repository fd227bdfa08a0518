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

The process is pinned to one core when the system allows it, and waits (``--quiet-wait``) for
other processes to leave the CPU first; the run says how much CPU they took while it measured.
One JSON line per run goes to ``bench/results/sla.jsonl``.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from datetime import time as clock
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
    args = parser.parse_args(None if argv is None else list(argv))

    info = common.machine(SimpleNamespace(engine="none (pure Python)"))
    pinning = pin_one_core()
    say(f"SLA arithmetic · {pinning}")
    quiet = common.wait_quiet(args.quiet_wait)
    meter = common.CpuMeter()
    parts: dict[str, Any] = {}
    parts["due_dates"] = bench_due_dates(calls=args.calls, seed=args.seed)
    cpu = meter.stop()
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


if __name__ == "__main__":
    main()
