#!/usr/bin/env python3
"""Scenario — the agents' workspace pages at 100,000 tickets, against a real ``comptoir serve``.

    .venv/bin/python bench/ui_pages.py --database sqlite
    .venv/bin/python bench/ui_pages.py --database postgres

Uses the data of ``list_tickets.py`` (made the first time, then kept). Signed in as the desk
agent with a web session (a cookie, as a browser sends it), one client, keep-alive, one request
at a time, it times four pages: the "all open" queue, the same queue filtered (priority 2,
newest first), the list partial htmx asks for when a filter changes, and a ticket page. Reported:
p50/p95/p99 of each, against the same server's ``/healthz`` measured in the same run (what
HTTP, Gunicorn and Django's middleware cost with no work at all). Target: p95 ≤ 150 ms.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import common
import list_tickets
from common import Server, say

SCENARIO = "ui_pages"
THIS = Path(__file__).resolve()
TARGET_P95_MS = 150

PAGES = [
    ("queue: all open", "/desk/?queue=open", {}),
    ("queue: filtered", "/desk/?queue=open&priority=2&sort=-created", {}),
    (
        "list partial (htmx)",
        "/desk/?queue=open&priority=2&sort=-created",
        {"HX-Request": "true", "HX-Target": "ticket-list"},
    ),
]


# --- Django side -----------------------------------------------------------------------------


def dj_session() -> dict[str, Any]:
    """A signed-in web session for the bench's agent, and the reference of a ticket to open."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from comptoir.accounts.models import User
    from comptoir.tickets.models import Ticket

    agent = User.objects.get(email="agent@bench.test")
    session = SessionStore()
    session[SESSION_KEY] = str(agent.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = agent.get_session_auth_hash()
    session.create()
    ticket = (
        Ticket.objects.filter(desk__slug="it", status_category="open")
        .order_by("-created_at")
        .values_list("ref", flat=True)
        .first()
    )
    return {"cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}", "ticket": ticket}


# --- driver ----------------------------------------------------------------------------------


def time_page(
    server: Server, cookie: str, path: str, extra: dict[str, str], requests: int, warmup: int
) -> tuple[dict[str, float], int]:
    client = common.HttpClient(server.host, server.port, "unused")
    client.headers = {"Cookie": cookie, "Accept": "text/html", **extra}
    latencies: list[float] = []
    size = 0
    for i in range(warmup + requests):
        status, body, seconds = client.call("GET", path)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")
        if i >= warmup:
            latencies.append(seconds)
            size = len(body)
    client.close()
    return common.summary(latencies), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=10)
    common.add_server_options(parser)
    parser.add_argument("--pg-name", default="comptoir_bench_list")
    args = parser.parse_args()

    target, data = list_tickets.dataset(args.database, args.tickets, False, args.pg_name)
    info = common.machine(target)
    signed_in = common.django_call(THIS, "session", target)
    pages = [*PAGES, ("ticket page", f"/desk/t/{signed_in['ticket']}/", {})]

    server = Server(target, workers=args.workers, threads=args.threads)
    say("Starting: " + " ".join(server.command[1:]))
    results: dict[str, Any] = {}
    with server:
        quiet = common.wait_quiet(args.quiet_wait)
        meter = common.CpuMeter(server.proc.pid, postgres=args.database == "postgres")
        base, _ = time_page(server, signed_in["cookie"], "/healthz", {}, args.requests, args.warmup)
        for label, path, extra in pages:
            latency, size = time_page(
                server, signed_in["cookie"], path, extra, args.requests, args.warmup
            )
            results[label] = {"path": path, "latency": latency, "bytes": size}
        cpu = meter.stop()
    server.log_path.unlink(missing_ok=True)

    print(f"\nWorkspace pages at {data['tickets']:,} tickets ({args.database})")
    print("  server      comptoir serve (defaults); 1 client, keep-alive, signed in by cookie")
    print(f"  baseline    GET /healthz: {common.fmt_latency(base)}")
    worst = 0.0
    for label, result in results.items():
        lat = result["latency"]
        worst = max(worst, lat["p95_ms"])
        print(
            f"  {label:20s} {common.fmt_latency(lat)} — {result['bytes']:,} bytes, "
            f"p50 {lat['p50_ms'] / base['p50_ms']:.1f}× /healthz"
        )
    print(
        f"  CPU         server {cpu['server_cpu_s']:.1f} s, database server "
        f"{cpu['database_cpu_s']:.1f} s, other processes {cpu['others_cpu_s']:.1f} s "
        f"({cpu['others_share']:.0%} of the machine) over {cpu['wall_s']:.1f} s"
    )
    verdict = "met" if worst <= TARGET_P95_MS else "MISSED"
    print(f"  target      p95 ≤ {TARGET_P95_MS} ms on every page: {verdict} (worst {worst:.1f} ms)")
    common.print_machine(info)
    path = common.append_result(
        SCENARIO,
        {
            "engine": args.database,
            "tickets": data["tickets"],
            "baseline_healthz": base,
            "pages": results,
            "cpu": cpu,
            "others_share_before": quiet,
            "target_p95_ms": TARGET_P95_MS,
            "machine": info,
        },
    )
    print(f"\n(appended to {path.relative_to(common.ROOT)})")


if __name__ == "__main__":
    if not common.django_child({"session": dj_session}):
        main()
