#!/usr/bin/env python3
"""Scenario 1 — ticket creation through the API, against a real ``comptoir serve`` process.

    .venv/bin/python bench/create_tickets.py --database sqlite
    .venv/bin/python bench/create_tickets.py --database postgres

Concurrent clients (threads, one keep-alive connection each) POST /api/v1/tickets as a desk
agent with a Bearer token. A warm-up is sent first and not counted. Reported: tickets per second
over the measured phase, and the latency of each request (p50/p95/p99).

Baselines, measured in the same run on a copy of the same database taken before the API phase
(same schema, indexes, foreign keys and pragmas; nothing but this script touches it):

* A — a bare INSERT of the very rows the API wrote, one autocommit statement per row, through the
  driver (sqlite3 / psycopg) on one connection: what the database alone does for these rows;
* B — the writes one creation makes, per ticket in one transaction: bump the desk's counter, read
  it back, insert the ticket, insert its ``created`` timeline event.

The ratio is baseline A's rate over the API's rate: how many times the database alone is faster.
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import common
from common import Server, Target, say

SCENARIO = "create_tickets"
THIS = Path(__file__).resolve()
TARGET_RATE_SQLITE = 300  # tickets/s

LEVELS = ["low", "medium", "high"]
DESCRIPTION = (
    "Since this morning the printer on the {floor} floor shows *paper jam* after every second page.\n\n"
    "What I tried:\n\n"
    "- switched it off and on again\n"
    "- removed the paper tray and checked for torn sheets\n"
    "- printed a test page from the panel (it jams too)\n\n"
    "Model: HP LaserJet M{model}, asset tag `PRN-{tag:05d}`. Several colleagues are affected."
)


def payload(i: int) -> dict[str, Any]:
    return {
        "desk": "it",
        "kind": "incident",
        "title": f"Printer on floor {i % 7} jams after every second page (#{i})",
        "description": DESCRIPTION.format(
            floor=["ground", "first", "second", "third"][i % 4], model=400 + i % 90, tag=i
        ),
        "impact": LEVELS[i % 3],
        "urgency": LEVELS[(i // 3) % 3],
    }


# --- the API load ----------------------------------------------------------------------------


def run_load(server: Server, token: str, *, first: int, count: int, clients: int) -> dict[str, Any]:
    """``count`` creations from ``clients`` threads; returns the wall time and every latency."""
    lock = threading.Lock()
    state = {"next": first}
    latencies: list[float] = []
    errors: list[str] = []
    reconnects = [0]
    start_gate = threading.Barrier(clients + 1)

    def worker() -> None:
        client = common.HttpClient(server.host, server.port, token)
        client.call("GET", "/healthz")  # open the connection before the clock starts
        mine: list[float] = []
        start_gate.wait()
        while True:
            with lock:
                i = state["next"]
                if i >= first + count:
                    break
                state["next"] = i + 1
            status, body, seconds = client.call("POST", "/api/v1/tickets", payload(i))
            if status != 201:
                errors.append(f"{status} {body[:200]!r}")
            mine.append(seconds)
        client.close()
        with lock:
            latencies.extend(mine)
            reconnects[0] += client.reconnects

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"wall_s": wall, "latencies": latencies, "errors": errors, "reconnects": reconnects[0]}


# --- baselines through the driver ------------------------------------------------------------


def snapshot(target: Target, suffix: str) -> Any:
    """A copy of the database as it is now (schema and setup rows, no tickets yet)."""
    if target.engine == "sqlite":
        path = target.data_dir / f"baseline-{suffix}.sqlite3"
        path.unlink(missing_ok=True)
        conn = sqlite3.connect(str(target.sqlite_path))
        conn.execute("VACUUM INTO ?", (str(path),))
        conn.close()
        return path
    name = f"{target.pg_name}_{suffix}"
    common.pg_clone(target.pg_name, name)
    return name


def connect_copy(target: Target, copy: Any):
    return common.sqlite_connect(copy) if target.engine == "sqlite" else common.pg_connect(copy)


def drop_copy(target: Target, copy: Any) -> None:
    if target.engine == "postgres":
        common.pg_admin("dropdb", "--if-exists", copy)


def read_rows(target: Target, table: str, where: str, arg: Any) -> tuple[list[str], list[tuple]]:
    conn = target.driver_connection()
    ph = "?" if target.engine == "sqlite" else "%s"
    cur = conn.execute(f"SELECT * FROM {table} WHERE {where.format(ph=ph)} ORDER BY id", (arg,))
    columns = [d[0] for d in cur.description]
    rows = cur.fetchall()
    conn.close()
    keep = [i for i, c in enumerate(columns) if c != "id"]
    out_rows = [tuple(_adapt(target, row[i]) for i in keep) for row in rows]
    return [columns[i] for i in keep], out_rows


def wait_for_worker(target: Target, first_ref: str, timeout: float = 300) -> float | None:
    """Seconds until every measured ticket is routed and has its clock (None: not in time)."""
    ph = "?" if target.engine == "sqlite" else "%s"
    sql = (
        "SELECT COUNT(*) FROM tickets_ticket WHERE ref >= "
        + ph
        + " AND (team_id IS NULL OR sla_due_at IS NULL)"
    )
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        conn = target.driver_connection()
        (left,) = conn.execute(sql, (first_ref,)).fetchone()
        conn.close()
        if left == 0:
            return time.perf_counter() - started
        time.sleep(0.2)
    return None


def _adapt(target: Target, value: Any) -> Any:
    if target.engine == "postgres" and isinstance(value, dict | list):
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    return value


def insert_sql(target: Target, table: str, columns: list[str], returning: bool = False) -> str:
    ph = "?" if target.engine == "sqlite" else "%s"
    cols = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join([ph] * len(columns))})'
    return sql + (' RETURNING "id"' if returning else "")


def baseline_insert(
    target: Target, copy: Any, columns: list[str], rows: list[tuple], connections: int = 1
) -> dict[str, Any]:
    """A: one autocommit INSERT per row, from ``connections`` concurrent connections (threads)."""
    sql = insert_sql(target, "tickets_ticket", columns)
    conns = [connect_copy(target, copy) for _ in range(connections)]
    latencies: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(connections + 1)

    def worker(conn, mine: list[tuple]) -> None:
        times = []
        gate.wait()
        for row in mine:
            t0 = time.perf_counter()
            conn.execute(sql, row)
            times.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(times)

    threads = [
        threading.Thread(target=worker, args=(conn, rows[i::connections]))
        for i, conn in enumerate(conns)
    ]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    for conn in conns:
        conn.close()
    return {
        "rows": len(rows),
        "connections": connections,
        "wall_s": wall,
        "rate": len(rows) / wall,
        "latency": common.summary(latencies),
    }


def baseline_writes(
    target: Target,
    copy: Any,
    t_cols: list[str],
    t_rows: list[tuple],
    e_cols: list[str],
    e_rows: list[tuple],
    desk_id: int,
) -> dict[str, Any]:
    """B: per ticket, one transaction with the writes ``services.create_ticket`` makes."""
    conn = connect_copy(target, copy)
    ph = "?" if target.engine == "sqlite" else "%s"
    begin = "BEGIN IMMEDIATE" if target.engine == "sqlite" else "BEGIN"
    bump = f'UPDATE "desks_desk" SET "last_number" = ("desks_desk"."last_number" + 1) WHERE "desks_desk"."id" = {ph}'
    read = f'SELECT "desks_desk"."last_number" FROM "desks_desk" WHERE "desks_desk"."id" = {ph} LIMIT 21'
    t_sql = insert_sql(target, "tickets_ticket", t_cols, returning=True)
    e_sql = insert_sql(target, "tickets_ticketevent", e_cols)
    ticket_col = e_cols.index("ticket_id")
    latencies = []
    started = time.perf_counter()
    for t_row, e_row in zip(t_rows, e_rows, strict=True):
        t0 = time.perf_counter()
        conn.execute(begin)
        conn.execute(bump, (desk_id,))
        conn.execute(read, (desk_id,)).fetchone()
        new_id = conn.execute(t_sql, t_row).fetchone()[0]
        event = list(e_row)
        event[ticket_col] = new_id
        conn.execute(e_sql, event)
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    conn.close()
    return {
        "rows": len(t_rows),
        "wall_s": wall,
        "rate": len(t_rows) / wall,
        "latency": common.summary(latencies),
    }


# --- Django side -----------------------------------------------------------------------------


def dj_world(automation: bool = False) -> dict[str, Any]:
    world = common.setup_world(desks=[("IT", "it", "IT")])
    if automation:
        from comptoir.accounts.models import Team, User
        from comptoir.routing.models import RoutingRule
        from comptoir.sla.models import SlaPolicy

        agent = User.objects.get(pk=world["agent_id"])
        team = Team.objects.create(desk_id=world["desks"]["it"], name="Support", slug="support")
        team.members.add(agent)
        RoutingRule.objects.create(desk_id=world["desks"]["it"], name="All to support", team=team)
        SlaPolicy.objects.create(
            desk_id=world["desks"]["it"],
            name="Standard",
            targets=[
                {"metric": "first_response", "minutes": 60, "priority": None},
                {"metric": "resolution", "minutes": 8 * 60, "priority": None},
            ],
        )
    return world


def dj_profile(token: str, count: int = 20) -> dict[str, Any]:
    """In-process: the SQL one creation runs (count and time), through Django's test client."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    per_request: list[list[tuple[str, float]]] = []
    wall: list[float] = []
    for i in range(count):
        queries: list[tuple[str, float]] = []

        def capture(execute, sql, params, many, context, queries=queries):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries.append((sql, time.perf_counter() - t0))

        t0 = time.perf_counter()
        with connection.execute_wrapper(capture):
            response = client.post(
                "/api/v1/tickets", payload(900_000 + i), content_type="application/json"
            )
        wall.append(time.perf_counter() - t0)
        assert response.status_code == 201, response.content[:300]
        per_request.append(queries)
    last = per_request[-1]
    return {
        "queries_per_request": len(last),
        "sql_ms_per_request": round(sum(t for _, t in last) * 1000, 3),
        "in_process_ms_p50": round(common.percentile([w * 1000 for w in wall[2:]], 50), 3),
        "sql": [s[:160] for s, _ in last],
    }


# --- driver ----------------------------------------------------------------------------------


def _rounded(result: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--tickets", type=int, default=2000, help="measured creations (default 2000)"
    )
    parser.add_argument("--warmup", type=int, default=100, help="creations sent first, not counted")
    parser.add_argument(
        "--clients", type=int, default=8, help="concurrent client threads (default 8)"
    )
    common.add_server_options(parser)
    parser.add_argument(
        "--pg-name", default="comptoir_bench_create", help="PostgreSQL database (recreated)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folder and database")
    parser.add_argument(
        "--automation",
        action="store_true",
        help="give the desk an SLA policy and a routing rule (two worker jobs per creation)",
    )
    args = parser.parse_args()

    experiment = common.experiment_of(args)
    target = Target.create(args.database, pg_name=args.pg_name)
    target.throwaway = not args.keep
    copies: list[Any] = []
    try:
        info = common.machine(target)
        say(
            f"Scenario 1 — ticket creation through the API · {args.database} · data in {target.data_dir}"
        )
        world = common.django_call(THIS, "world", target, automation=args.automation)
        copies = [
            snapshot(target, "insert1"),
            snapshot(target, "insertn"),
            snapshot(target, "writes"),
        ]

        server = Server(
            target,
            workers=args.workers,
            threads=args.threads,
            env=common.experiment_env(args.conn_max_age, args.server_side_binding),
        )
        say(
            "Starting: "
            + " ".join(server.command[1:])
            + (f"  (experiment: {experiment})" if experiment else "")
        )
        with server:
            warm = run_load(
                server, world["token"], first=0, count=args.warmup, clients=args.clients
            )
            if warm["errors"]:
                raise SystemExit(f"warm-up failed: {warm['errors'][:3]}")
            say(f"Warm-up: {args.warmup} creations in {warm['wall_s']:.1f}s")
            quiet = common.wait_quiet(args.quiet_wait)
            say(f"Measuring {args.tickets} creations with {args.clients} clients")
            meter = common.CpuMeter(server.proc.pid, postgres=args.database == "postgres")
            load = run_load(
                server, world["token"], first=args.warmup, count=args.tickets, clients=args.clients
            )
            caught_up = (
                wait_for_worker(target, f"IT-{args.warmup + 1:06d}") if args.automation else None
            )
            cpu = meter.stop()
        if load["errors"]:
            print(f"!! {len(load['errors'])} failed requests, e.g. {load['errors'][:3]}")
        api_rate = args.tickets / load["wall_s"]
        api_latency = common.summary(load["latencies"])

        # What the API wrote, read back, to be written again through the driver.
        first_ref = f"IT-{args.warmup + 1:06d}"
        t_cols, t_rows = read_rows(target, "tickets_ticket", "ref >= {ph}", first_ref)
        e_cols, e_rows = read_rows(
            target,
            "tickets_ticketevent",
            "kind = 'created' AND ticket_id IN (SELECT id FROM tickets_ticket WHERE ref >= {ph})",
            first_ref,
        )
        expected = args.tickets - len(load["errors"])
        if len(t_rows) != expected or len(e_rows) != expected:
            raise SystemExit(
                f"expected {expected} tickets and events, found {len(t_rows)} and {len(e_rows)}"
            )

        say(
            "Baseline A: the same rows, bare INSERT through the driver (1 connection, then one per client)"
        )
        base_a1 = baseline_insert(target, copies[0], t_cols, t_rows)
        base_an = baseline_insert(target, copies[1], t_cols, t_rows, connections=args.clients)
        base_a = max(base_a1, base_an, key=lambda b: b["rate"])
        say("Baseline B: the writes of a creation, one transaction per ticket, 1 connection")
        base_b = baseline_writes(
            target, copies[2], t_cols, t_rows, e_cols, e_rows, world["desks"]["it"]
        )
        say("Profile: the SQL of one creation (in-process, test client)")
        profile = common.django_call(THIS, "profile", target, token=world["token"])
    finally:
        for copy in copies:
            drop_copy(target, copy)
        target.cleanup()

    ratio_a = base_a["rate"] / api_rate
    ratio_b = base_b["rate"] / api_rate
    workers = args.workers or f"{max(2, (info['cores'] or 1) * 2)} (default)"
    threads = args.threads or "4 (default)"
    print(f"\nScenario 1 — ticket creation through the API ({args.database})")
    print(
        f"  server      comptoir serve, {workers} workers × {threads} threads; {args.clients} clients, keep-alive"
    )
    if experiment:
        print(f"  experiment  {experiment}")
    if args.automation:
        print("  desk        an SLA policy and a routing rule: the worker routes and starts clocks")
        behind = f"{caught_up:.1f} s" if caught_up is not None else "not within 300 s"
        print(f"  worker      every ticket routed and timed {behind} after the last creation")
    print(
        f"  API         {args.tickets} tickets in {load['wall_s']:.2f} s → {api_rate:.0f} tickets/s"
    )
    print(f"              latency {common.fmt_latency(api_latency)}")
    print(
        f"              {profile['queries_per_request']} SQL statements per creation "
        f"({profile['sql_ms_per_request']:.2f} ms of SQL; {profile['in_process_ms_p50']:.2f} ms in-process, no HTTP)"
    )
    for label, b in (("1 connection", base_a1), (f"{args.clients} connections", base_an)):
        print(
            f"  baseline A  bare INSERT of the same rows, {label}: {b['rate']:.0f} rows/s "
            f"(p50 {b['latency']['p50_ms']:.3f} ms per INSERT)"
        )
    print(
        f"  baseline B  the creation's writes, 1 transaction each, 1 connection: {base_b['rate']:.0f} tickets/s "
        f"(p50 {base_b['latency']['p50_ms']:.3f} ms)"
    )
    print(
        f"  ratio       best baseline A / API = {ratio_a:.1f}×   ·   baseline B / API = {ratio_b:.1f}×"
    )
    print(
        f"  CPU         server {cpu['server_cpu_s']:.1f} s ({cpu['server_cpu_s'] / args.tickets * 1000:.1f} ms per "
        f"creation), client {cpu['client_cpu_s']:.1f} s, database server {cpu['database_cpu_s']:.1f} s, "
        f"other processes {cpu['others_cpu_s']:.1f} s ({cpu['others_share']:.0%} of the machine) "
        f"over {cpu['wall_s']:.1f} s"
    )
    per_creation = (cpu["server_cpu_s"] + cpu["database_cpu_s"]) / args.tickets
    ceiling = (info["cores"] or 1) / per_creation if per_creation else float("nan")
    print(
        f"  ceiling     {info['cores']} cores / {per_creation * 1000:.1f} ms of server + database CPU per creation "
        f"= {ceiling:.0f} tickets/s if the server had the whole machine"
    )
    if args.database == "sqlite" and not args.automation:
        verdict = "met" if api_rate >= TARGET_RATE_SQLITE else "MISSED"
        print(f"  target      ≥ {TARGET_RATE_SQLITE} tickets/s on SQLite: {verdict}")
    common.print_machine(info)

    path = common.append_result(
        SCENARIO,
        {
            "engine": args.database,
            "params": {
                "tickets": args.tickets,
                "warmup": args.warmup,
                "clients": args.clients,
                "workers": args.workers,
                "threads": args.threads,
                "automation": args.automation,
            },
            "worker_caught_up_s": caught_up,
            "experiment": experiment,
            "cpu": cpu,
            "others_share_before": quiet,
            "api": {
                "rate_per_s": round(api_rate, 1),
                "wall_s": round(load["wall_s"], 3),
                "latency": api_latency,
                "errors": len(load["errors"]),
                "reconnects": load["reconnects"],
            },
            "baseline_insert_1": _rounded(base_a1),
            "baseline_insert_n": _rounded(base_an),
            "baseline_writes": _rounded(base_b),
            "cpu_ceiling_per_s": round(ceiling, 1),
            "ratio_insert_over_api": round(ratio_a, 2),
            "ratio_writes_over_api": round(ratio_b, 2),
            "profile": profile,
            "target_rate_sqlite": TARGET_RATE_SQLITE,
            "machine": info,
        },
    )
    print(f"\n(appended to {path.relative_to(common.ROOT)})")


if __name__ == "__main__":
    if not common.django_child({"world": dj_world, "profile": dj_profile}):
        main()
