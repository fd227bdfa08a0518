#!/usr/bin/env python3
"""Side by side: Comptoir's mixed load, and django-helpdesk on the same actions, in one command.

    python3 bench/compare/run.py --tickets 100000 --engine sqlite|postgres|both \\
        [--only comptoir|helpdesk] [--duration 60] [--saturate-seconds 20] [--clients 8]

For each engine, for each system: the data (made once, then reused from
``bench/results/data/compare-*``), a real server (``comptoir serve``; django-helpdesk under
Gunicorn with the same worker class, workers and threads), then the load generator
(``loadgen.py``, its own process) through its phases: sign-in, ``/healthz`` alone, ``/healthz``
flat out (what the generator can drive), the mixed load with think times, and each common
action flat out. Printed: the mixed load per action (p50/p95/p99, completed actions/s, error
rate, p50 as a multiple of ``/healthz``), the comparison table with the ratios against the
targets, the CPU each party used, and the machine. One JSON line per run goes to
``bench/results/compare.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/
sys.path.insert(0, str(HERE))

import common  # noqa: E402
import comptoir_data  # noqa: E402
import peer_helpdesk  # noqa: E402
import report  # noqa: E402
from common import say  # noqa: E402

LOADGEN = HERE / "loadgen.py"
#: The actions both systems have, in the comparison's order.
COMMON = ["create", "list", "open", "reply", "search"]
#: What each kind of person does, with weights (a share of their actions).
MIX = {
    "agent": {"list": 25, "open": 35, "reply": 15, "create": 5, "search": 20},
    "requester": {"list": 35, "open": 35, "reply": 15, "create": 10, "search": 5},
}
MIX["staff"] = MIX["agent"]


def phases(args, system: str) -> list[dict[str, Any]]:
    agent = "agent" if system == "comptoir" else "staff"
    think = {
        "agent": args.agent_think,
        "staff": args.agent_think,
        "requester": args.requester_think,
    }
    out: list[dict[str, Any]] = [
        {"name": "sign-in", "kind": "signin", "concurrency": 4},
        {"name": "/healthz, one at a time", "kind": "healthz", "requests": 300},
        {
            "name": f"/healthz, {args.clients * 4} clients flat out",
            "kind": "capacity",
            "clients": args.clients * 4,
            "seconds": 10,
        },
        {
            "name": f"mixed load, {args.duration:.0f} s",
            "kind": "mixed",
            "seconds": args.duration,
            "think": think,
            "mix": MIX,
        },
    ]
    for action in COMMON:
        out.append(
            {
                "name": f"{action}, {args.clients} sessions flat out",
                "kind": "saturate",
                "role": agent,
                "action": action,
                "clients": args.clients,
                "seconds": args.saturate_seconds,
            }
        )
    if system == "comptoir":  # a requester's creation through the portal's form, for the record
        out.append(
            {
                "name": f"create through the portal's form, {args.clients} sessions flat out",
                "kind": "saturate",
                "role": "requester",
                "action": "create",
                "clients": args.clients,
                "seconds": args.saturate_seconds,
                "label": "create (portal form)",
            }
        )
    return out


def run_load(server, people: list[dict], spec_phases: list[dict], postgres: bool) -> dict:
    spec = {
        "base_url": f"http://{server.host}:{server.port}",
        "people": people,
        "phases": spec_phases,
        "server_pgid": server.proc.pid,
        "postgres": postgres,
    }
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec))
        subprocess.run(
            [str(common.PYTHON), str(LOADGEN), str(spec_path), str(result_path)],
            cwd=str(common.ROOT),
            check=True,
        )
        return json.loads(result_path.read_text())


def run_comptoir(args, engine: str) -> dict[str, Any]:
    target, data = comptoir_data.dataset(
        engine, args.tickets, args.agents, args.requesters, args.pg_comptoir, args.fresh
    )
    people = comptoir_data.people(target, args.agents, args.requesters, per_session=5)
    env = {"REDIS_URL": args.redis_url} if engine == "postgres" else {}
    server = common.Server(target, workers=args.workers, threads=args.threads, env=env)
    say("Starting: " + " ".join(server.command[1:]) + (" (with Redis)" if env else ""))
    with server:
        before = common.wait_quiet(args.quiet_wait)
        result = run_load(server, people, phases(args, "comptoir"), engine == "postgres")
    server.log_path.unlink(missing_ok=True)
    return {"dataset": data, "others_share_before": before, **result}


def run_helpdesk(args, engine: str) -> dict[str, Any]:
    versions = peer_helpdesk.ensure_venv()
    redis = args.redis_url if engine == "postgres" else None
    project, data = peer_helpdesk.dataset(
        engine, args.tickets, args.agents, redis, args.pg_helpdesk, args.fresh
    )
    sample = project.call("sample", agents=args.agents, per_session=5)
    people = [{"role": "staff", "queue": sample["queue"], **person} for person in sample["agents"]]
    server = peer_helpdesk.Server(project, workers=args.workers, threads=args.threads)
    say(
        f"Starting django-helpdesk {versions['django-helpdesk']}: gunicorn "
        + " ".join(server.command[3:])
    )
    with server:
        before = common.wait_quiet(args.quiet_wait)
        result = run_load(server, people, phases(args, "helpdesk"), engine == "postgres")
    server.log_path.unlink(missing_ok=True)
    return {"dataset": data, "versions": versions, "others_share_before": before, **result}


def reprint(engines: list[str], tickets: int) -> None:
    """The tables of the last recorded run of each system on each engine at ``tickets`` tickets."""
    path = common.RESULTS / "compare.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    for engine in engines:
        found = [
            r for r in records if r["engine"] == engine and r["settings"]["tickets"] == tickets
        ]
        if not found:
            print(f"no recorded run on {engine} at {tickets:,} tickets")
            continue
        runs: dict[str, Any] = {}
        for record in found:  # the latest of each system wins
            for system, run in record["runs"].items():
                runs[system] = {**run, "at": record["at"]}
        for system, run in runs.items():
            print(f"({report.NAMES[system]}: recorded at {run['at']})")
        report.print_run(engine, found[-1]["settings"], runs, found[-1]["machine"])


def main() -> None:
    if Path(sys.prefix).resolve() != common.VENV.resolve() and common.PYTHON.exists():
        # The driver needs psycopg (the machine's description): run again with the virtualenv's.
        os.execv(
            str(common.PYTHON), [str(common.PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]]
        )
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--only", choices=["comptoir", "helpdesk"])
    parser.add_argument("--duration", type=float, default=60, help="mixed load, seconds (60)")
    parser.add_argument(
        "--saturate-seconds", type=float, default=20, help="each action flat out, seconds (20)"
    )
    parser.add_argument("--clients", type=int, default=8, help="sessions per flat-out action (8)")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--requesters", type=int, default=1000)
    parser.add_argument("--agent-think", type=float, default=10, help="mean seconds (10)")
    parser.add_argument("--requester-think", type=float, default=60, help="mean seconds (60)")
    parser.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 1) * 2))
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--fresh", action="store_true", help="generate the data again")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=180,
        help="wait up to this many seconds for other processes to leave the CPU (180)",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--pg-comptoir", default="comptoir_bench_compare")
    parser.add_argument("--pg-helpdesk", default="helpdesk_bench_compare")
    parser.add_argument(
        "--report", action="store_true", help="print the last recorded run again, run nothing"
    )
    args = parser.parse_args()

    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    if args.report:
        reprint(engines, args.tickets)
        return
    for engine in engines:
        runs: dict[str, Any] = {}
        if args.only in (None, "comptoir"):
            say(f"Comptoir on {engine}")
            runs["comptoir"] = run_comptoir(args, engine)
        if args.only in (None, "helpdesk"):
            say(f"django-helpdesk on {engine}")
            runs["helpdesk"] = run_helpdesk(args, engine)
        target = common.Target(
            engine, common.RESULTS, "postgres" if engine == "postgres" else None, False
        )
        info = common.machine(target)
        settings = {
            "tickets": args.tickets,
            "agents": args.agents,
            "requesters": args.requesters,
            "agent_think_s": args.agent_think,
            "requester_think_s": args.requester_think,
            "duration_s": args.duration,
            "saturate_s": args.saturate_seconds,
            "clients": args.clients,
            "workers": args.workers,
            "threads": args.threads,
            "redis": engine == "postgres",
        }
        path = common.append_result(
            "compare", {"engine": engine, "settings": settings, "runs": runs, "machine": info}
        )
        report.print_run(engine, settings, runs, info)
        print(f"\n(appended to {path.relative_to(common.ROOT)})")


if __name__ == "__main__":
    main()
