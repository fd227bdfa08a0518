#!/usr/bin/env python3
"""Scenario 2 — the agent's ticket list at 100,000 tickets, against a real ``comptoir serve``.

    .venv/bin/python bench/list_tickets.py --database sqlite
    .venv/bin/python bench/list_tickets.py --database postgres [--fresh]

Data: 100k tickets written straight into the tickets table with ``bulk_create`` (batches of
5,000; no timeline events, the list does not read them): two desks (70/30), five priorities,
every status category (open and pending tickets are mostly recent, most old ones are closed),
50 requesters in three organisations, 10 agents, teams, categories, some tags and some parent
links, ``created_at`` spread over two years. It is kept in ``bench/results/data/list-<engine>/``
(and the PostgreSQL database ``comptoir_bench_list``) and reused by later runs; ``--fresh`` makes
it again.

Measured: GET /api/v1/tickets?desk=it&status_category=open&priority=2&sort=-created&limit=50 as a
desk agent, one keep-alive client, one request at a time (latency, not throughput); then the
second page through ``next_cursor``. p50/p95/p99 over ``--requests`` requests each.

Baseline, in the same run: the SELECT Django sends for that page (captured with an execute
wrapper while the endpoint runs in-process), run the same number of times through the bare
driver (sqlite3 with Comptoir's pragmas / psycopg's client-side-binding cursor, as Django uses).
Also shown: every statement of one request run back to back through the driver. The ratio is the
API's p50 over the SELECT's p50.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import common
from common import Server, Target, say

SCENARIO = "list_tickets"
THIS = Path(__file__).resolve()
DATA = common.RESULTS / "data"
GENERATOR_VERSION = 1
SEED = 20240611
TARGET_P95_MS = 50.0
QUERY = "desk=it&status_category=open&priority=2&sort=-created&limit=50"
QUERY_NO_DESK = "status_category=open&priority=2&sort=-created&limit=50"
QUERY_DEEP = "desk=it&status_category=closed&sort=-created&limit=50"  # ~64k rows match
DEEP = 20_000  # the deep page starts after this many rows

# --- Django side: data ----------------------------------------------------------------------

TITLES = [
    "Laptop does not boot after update",
    "Cannot connect to VPN from home",
    "Outlook keeps asking for password",
    "New starter needs an account",
    "Printer on second floor jams",
    "Request a second monitor",
    "Teams calls drop after a minute",
    "Shared drive is read-only",
    "Password reset for SAP",
    "Access to the finance share",
    "Wi-Fi in meeting room 3 is slow",
    "Phone headset crackles",
    "Install Visual Studio Code",
    "Payslip shows wrong tax code",
    "Parental leave request",
    "Badge does not open the garage",
    "Expense report stuck in approval",
    "Replace broken keyboard",
    "Calendar invites arrive twice",
    "Mailbox is full",
    "Licence for Adobe Acrobat",
    "Server room temperature alarm",
    "Backup job failed overnight",
    "Certificate expires next week",
]
DESCRIPTIONS = [
    "Since this morning **{thing}** fails with an error.\n\nSteps:\n\n1. open it\n2. sign in\n3. wait\n\n"
    "The error says `E{code}`. Several colleagues on my floor see the same.",
    "Hello,\n\ncould you please help with {thing}? I need it for the quarterly report due on Friday.\n\n"
    "Thanks in advance,\nA.",
    "{thing} stopped working after the last update. I restarted twice; no change.\n\n"
    "> Error {code}: the operation could not be completed\n\nScreenshot attached in the next reply.",
    "Request for {thing} for the new team member starting on Monday (cost centre {code}).",
    "Intermittent problem with {thing}: about one time in five. Logs:\n\n```\nERR {code} timeout after 30s\n"
    "WARN retrying\n```\n",
]
THINGS = [
    "the VPN client",
    "Outlook",
    "the ERP",
    "the badge reader",
    "the printer",
    "Teams",
    "the shared drive",
    "the laptop dock",
    "SAP",
    "the HR portal",
]
CHANNELS = ["web", "portal", "email", "phone", "api"]
# (impact, urgency) pairs giving each priority with the default matrix
PRIORITY_PAIRS = {
    1: [("high", "high")],
    2: [("high", "medium"), ("medium", "high")],
    3: [("medium", "medium"), ("high", "low"), ("low", "high")],
    4: [("medium", "low"), ("low", "medium")],
    5: [("low", "low")],
}
PRIORITY_WEIGHTS = [3, 12, 50, 27, 8]
KIND_WEIGHTS = {"incident": 65, "service_request": 28, "task": 4, "problem": 1.5, "change": 1.5}


def _category_weights(age_days: float) -> list[int]:
    """open, pending, resolved, closed — recent tickets are mostly still open."""
    if age_days < 14:
        return [55, 15, 25, 5]
    if age_days < 60:
        return [15, 10, 15, 60]
    return [3, 2, 0, 95]


def dj_generate(tickets: int, batch: int = 5000) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from comptoir.accounts.models import Membership, Organisation, Team, User
    from comptoir.accounts.roles import Role
    from comptoir.core.text import render_markdown
    from comptoir.desks.models import Category, Desk
    from comptoir.desks.priority import DEFAULT_MATRIX
    from comptoir.tickets.lifecycle import LIFECYCLES, StatusCategory
    from comptoir.tickets.models import Tag, Ticket

    started = time.perf_counter()
    world = common.setup_world(desks=[("IT", "it", "IT"), ("HR", "hr", "HR")])
    rng = random.Random(SEED)
    desks = {d.slug: d for d in Desk.objects.filter(slug__in=["it", "hr"])}
    Membership.objects.filter(
        user_id=world["agent_id"], desk=desks["hr"]
    ).delete()  # the bench agent: IT only

    orgs = [Organisation.objects.get(slug="bench-corp")]
    for name in ("Globex", "Initech"):
        orgs.append(Organisation.objects.create(name=name, slug=name.lower()))
    unusable = make_password(None)
    requesters = User.objects.bulk_create(
        [
            User(
                email=f"person{i:02d}@bench.test",
                display_name=f"Person {i:02d}",
                organisation=orgs[i % 3],
                password=unusable,
            )
            for i in range(50)
        ]
    )
    agents = {"it": [User.objects.get(pk=world["agent_id"])], "hr": []}
    more = User.objects.bulk_create(
        [
            User(
                email=f"agent{i}@bench.test",
                display_name=f"Agent {i}",
                organisation=orgs[0],
                password=unusable,
            )
            for i in range(1, 10)
        ]
    )
    for i, agent in enumerate(more):
        agents["it" if i < 6 else "hr"].append(agent)  # 7 IT agents (with the bench agent), 3 HR
    Membership.objects.bulk_create(
        [
            Membership(user=a, desk=desks[slug], role=Role.AGENT)
            for slug, people in agents.items()
            for a in people
            if not (slug == "it" and a.pk == world["agent_id"])
        ]
    )
    teams = {
        "it": [
            Team.objects.create(desk=desks["it"], name="Service desk", slug="service-desk"),
            Team.objects.create(desk=desks["it"], name="Infrastructure", slug="infrastructure"),
        ],
        "hr": [Team.objects.create(desk=desks["hr"], name="HR operations", slug="hr-ops")],
    }
    categories = {
        slug: [
            Category.objects.create(desk=desks[slug], name=n.capitalize(), slug=n) for n in names
        ]
        for slug, names in {
            "it": ["hardware", "software", "network", "access", "other"],
            "hr": ["payroll", "leave", "onboarding"],
        }.items()
    }
    tags = Tag.objects.bulk_create(
        [
            Tag(name=n)
            for n in (
                "vip",
                "outage",
                "laptop",
                "vpn",
                "printer",
                "email",
                "onboarding",
                "security",
                "licence",
                "follow-up",
                "hardware",
                "network",
            )
        ]
    )

    descriptions = []
    for d in DESCRIPTIONS:
        for thing in THINGS:
            text = d.format(thing=thing, code=rng.randint(100, 999))
            descriptions.append((text, render_markdown(text)))

    now = timezone.now()
    span = timedelta(days=730)
    kinds, kind_w = zip(*KIND_WEIGHTS.items(), strict=True)
    cat_names = [
        StatusCategory.OPEN,
        StatusCategory.PENDING,
        StatusCategory.RESOLVED,
        StatusCategory.CLOSED,
    ]
    created = sorted(
        now - span * rng.random() for _ in range(tickets)
    )  # ids grow with time, as in life
    numbers = {"it": 0, "hr": 0}
    made_ids: dict[str, list[int]] = {"it": [], "hr": []}
    counts = {"open": 0, "pending": 0, "resolved": 0, "closed": 0}
    matching = 0
    total = 0
    with transaction.atomic():
        for start in range(0, tickets, batch):
            rows = []
            for at in created[start : start + batch]:
                slug = "it" if rng.random() < 0.7 else "hr"
                numbers[slug] += 1
                kind = rng.choices(kinds, kind_w)[0]
                lifecycle = LIFECYCLES[kind]
                age = (now - at).total_seconds() / 86400
                category = rng.choices(cat_names, _category_weights(age))[0]
                states = [s for s in lifecycle.states_in(category) if s != "merged"] or [
                    lifecycle.initial
                ]
                status = rng.choice(states)
                priority = rng.choices([1, 2, 3, 4, 5], PRIORITY_WEIGHTS)[0]
                impact, urgency = rng.choice(PRIORITY_PAIRS[priority])
                assert DEFAULT_MATRIX[impact][urgency] == priority
                requester = rng.choice(requesters)
                live = category in (StatusCategory.OPEN, StatusCategory.PENDING)
                assigned = rng.random() < (0.75 if live else 0.95)
                updated = min(now, at + timedelta(hours=rng.uniform(0, 24 * min(age, 30))))
                done_at = (
                    updated
                    if category in (StatusCategory.RESOLVED, StatusCategory.CLOSED)
                    else None
                )
                parent_id = None
                if made_ids[slug] and rng.random() < 0.03:
                    parent_id = rng.choice(made_ids[slug][-2000:])
                text, html = rng.choice(descriptions)
                rows.append(
                    Ticket(
                        desk=desks[slug],
                        number=numbers[slug],
                        ref=f"{desks[slug].prefix}-{numbers[slug]:06d}",
                        kind=kind,
                        status=status,
                        status_category=category,
                        title=f"{rng.choice(TITLES)}",
                        description=text,
                        description_html=html,
                        requester=requester,
                        organisation_id=requester.organisation_id,
                        channel=rng.choice(CHANNELS),
                        impact=impact,
                        urgency=urgency,
                        priority=priority,
                        category=rng.choice(categories[slug]) if rng.random() < 0.85 else None,
                        team=rng.choice(teams[slug]) if rng.random() < 0.9 else None,
                        assignee=rng.choice(agents[slug]) if assigned else None,
                        parent_id=parent_id,
                        resolution="Fixed; see the notes." if done_at else "",
                        created_at=at,
                        updated_at=updated,
                        first_response_at=at + timedelta(minutes=rng.uniform(5, 600))
                        if assigned
                        else None,
                        resolved_at=done_at,
                        closed_at=done_at if category == StatusCategory.CLOSED else None,
                    )
                )
                counts[str(category)] += 1
                matching += slug == "it" and category == StatusCategory.OPEN and priority == 2
            Ticket.objects.bulk_create(rows)
            for row in rows:
                made_ids[row.desk.slug].append(row.pk)
            total += len(rows)
            print(f"{total} tickets", flush=True)
        for slug, desk in desks.items():
            Desk.objects.filter(pk=desk.pk).update(last_number=numbers[slug])
        through = Ticket.tags.through
        links, seen = [], set()
        all_ids = made_ids["it"] + made_ids["hr"]
        for ticket_id in rng.sample(all_ids, len(all_ids) // 5):
            for tag in rng.sample(tags, rng.choice([1, 1, 2])):
                if (ticket_id, tag.pk) not in seen:
                    seen.add((ticket_id, tag.pk))
                    links.append(through(ticket_id=ticket_id, tag_id=tag.pk))
        through.objects.bulk_create(links, batch_size=batch)
    with (
        connection.cursor() as cursor
    ):  # fresh statistics, as autovacuum / PRAGMA optimize would give
        cursor.execute("ANALYZE")
    return {
        "tickets": total,
        "by_category": counts,
        "matching_first_filter": matching,
        "tag_links": len(links),
        "seconds": round(time.perf_counter() - started, 1),
    }


def dj_token() -> dict[str, Any]:
    from comptoir.accounts.models import User
    from comptoir.accounts.services import create_api_token
    from comptoir.core.actor import Actor, Channel

    agent = User.objects.get(email="agent@bench.test")
    _, raw = create_api_token(actor=Actor.system("bench", Channel.SYSTEM), user=agent, name="bench")
    return {"token": raw}


# --- Django side: what the endpoint sends to the database, and the driver's time for it ------


def _to_driver_sql(engine: str, sql: str) -> str:
    if engine == "sqlite":  # as django.db.backends.sqlite3.base.SQLiteCursorWrapper.convert_query
        return re.sub(r"(?<!%)%s", "?", sql).replace("%%", "%")
    return sql


def _explain(engine: str, conn, sql: str, params) -> list[str]:
    if engine == "sqlite":
        return [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
    import psycopg

    cur = psycopg.ClientCursor(conn)
    cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
    return [row[0] for row in cur.fetchall()]


def _time_statements(
    engine: str, conn, statements: list[tuple[str, Any]], repeat: int
) -> list[float]:
    if engine == "sqlite":

        def run(sql, params):
            return conn.execute(sql, params).fetchall()
    else:
        import psycopg

        cur = psycopg.ClientCursor(conn)

        def run(sql, params):
            cur.execute(sql, params)
            return cur.fetchall()

    for sql, params in statements:  # warm the cache as the server's warm-up does
        run(sql, params)
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for sql, params in statements:
            run(sql, params)
        out.append(time.perf_counter() - t0)
    return out


def dj_capture(token: str, repeat: int) -> dict[str, Any]:
    """Run the list in-process (test client), capture its SQL, time that SQL through the driver."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    engine = "sqlite" if connection.vendor == "sqlite" else "postgres"
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")

    def one(url: str) -> tuple[dict, list[tuple[str, Any, float]], float]:
        queries: list[tuple[str, Any, float]] = []

        def capture(execute, sql, params, many, context):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries.append((sql, params, time.perf_counter() - t0))

        t0 = time.perf_counter()
        with connection.execute_wrapper(capture):
            response = client.get(url)
        wall = time.perf_counter() - t0
        assert response.status_code == 200, response.content[:300]
        return json.loads(response.content), queries, wall

    url1 = f"/api/v1/tickets?{QUERY}"
    for _ in range(3):  # the first request also stamps the token's last use: not what we time
        body, _, _ = one(url1)
    walls1 = []
    for _ in range(20):
        body, q1, wall = one(url1)
        walls1.append(wall)
    cursor = body["next_cursor"]
    assert cursor and len(body["items"]) == 50, "the filter must give more than one page"
    url2 = f"{url1}&cursor={cursor}"
    walls2 = []
    for _ in range(20):
        body2, q2, wall = one(url2)
        walls2.append(wall)
    _, q3, _ = one(f"/api/v1/tickets?{QUERY_NO_DESK}")
    deep_cursor = _deep_cursor()
    _, q4, _ = one(f"/api/v1/tickets?{QUERY_DEEP}&cursor={deep_cursor}")

    def main_select(queries):
        found = [
            q
            for q in queries
            if q[0].startswith("SELECT") and 'FROM "tickets_ticket"' in q[0] and "ORDER BY" in q[0]
        ]
        assert len(found) == 1, [q[0][:120] for q in queries]
        return found[0]

    raw = (
        common.sqlite_connect(settings.DATABASES["default"]["NAME"])
        if engine == "sqlite"
        else common.pg_connect(settings.DATABASES["default"]["NAME"])
    )
    out: dict[str, Any] = {"cursor": cursor, "deep_cursor": deep_cursor, "engine": engine}
    for label, queries, walls in (
        ("page1", q1, walls1),
        ("page2", q2, walls2),
        ("no_desk", q3, None),
        ("deep", q4, None),
    ):
        sql, params, _ = main_select(queries)
        dsql = _to_driver_sql(engine, sql)
        selects = [
            (_to_driver_sql(engine, s), p)
            for s, p, _ in queries
            if s.lstrip().upper().startswith("SELECT")
        ]
        entry = {
            "queries": len(queries),
            "django_sql_ms": round(sum(t for *_, t in queries) * 1000, 3),
            "statements": [s[:200] for s, _, _ in queries],
            "main_select": _interpolate(engine, raw, dsql, params),
            "plan": _explain(engine, raw, dsql, params),
        }
        if walls is not None:
            entry["in_process_p50_ms"] = round(common.percentile([w * 1000 for w in walls], 50), 3)
            entry["select_driver"] = common.summary(
                _time_statements(engine, raw, [(dsql, params)], repeat)
            )
            entry["all_sql_driver"] = common.summary(_time_statements(engine, raw, selects, repeat))
        out[label] = entry
    raw.close()
    return out


def _deep_cursor() -> str:
    """The cursor the API would hand out after ``DEEP`` rows of ``QUERY_DEEP``."""
    from comptoir.core.pagination import encode_cursor
    from comptoir.tickets.models import Ticket

    at, pk = (
        Ticket.objects.filter(desk__slug="it", status_category="closed")
        .order_by("-created_at", "-id")
        .values_list("created_at", "id")[DEEP - 1]
    )
    return encode_cursor("-created", at, pk)


def _interpolate(engine: str, conn, sql: str, params) -> str:
    """The statement with its parameters inlined, to read (and paste into psql / sqlite3)."""
    if engine == "postgres":
        import psycopg

        return psycopg.ClientCursor(conn).mogrify(sql, params)
    parts = sql.split("?")
    text = parts[0]
    for part, value in zip(parts[1:], params, strict=False):
        text += (repr(value) if isinstance(value, str) else str(value)) + part
    return text


# --- driver ----------------------------------------------------------------------------------


def dataset(engine: str, tickets: int, fresh: bool, pg_name: str) -> tuple[Target, dict[str, Any]]:
    folder = DATA / f"list-{engine}"
    marker = folder / "dataset.json"
    want = {"tickets": tickets, "seed": SEED, "generator": GENERATOR_VERSION, "pg_name": pg_name}
    reuse = not fresh and marker.exists()
    if reuse:
        have = json.loads(marker.read_text())
        reuse = {k: have.get(k) for k in want} == want and (
            engine == "sqlite" or common.pg_database_exists(pg_name)
        )
    if reuse:
        target = Target.create(engine, pg_name=pg_name, data_dir=folder, fresh=False)
        target.throwaway = False
        say(
            f"Reusing {tickets} tickets in {folder.relative_to(common.ROOT)}"
            + (f" and database {pg_name}" if engine == "postgres" else "")
        )
        return target, json.loads(marker.read_text())
    if folder.exists():
        shutil.rmtree(folder)
    target = Target.create(engine, pg_name=pg_name, data_dir=folder, fresh=True)
    target.throwaway = False
    say(
        f"Generating {tickets} tickets into {folder.relative_to(common.ROOT)}"
        + (f" and database {pg_name}" if engine == "postgres" else "")
    )
    made = common.django_call(THIS, "generate", target, tickets=tickets)
    say(
        f"Generated in {made['seconds']} s: {made['by_category']}; {made['matching_first_filter']} match the filter"
    )
    marker.write_text(json.dumps({**want, **made}, indent=2))
    return target, {**want, **made}


def time_http(
    server: Server, token: str, path: str, requests: int, warmup: int
) -> tuple[dict, dict]:
    client = common.HttpClient(server.host, server.port, token)
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
    data = json.loads(body)
    return common.summary(latencies), {
        "bytes": size,
        "items": len(data["items"]),
        "next_cursor": data["next_cursor"],
        "reconnects": client.reconnects,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument(
        "--requests", type=int, default=300, help="timed requests per page (default 300)"
    )
    parser.add_argument("--warmup", type=int, default=20)
    common.add_server_options(parser)
    parser.add_argument("--fresh", action="store_true", help="generate the data again")
    parser.add_argument("--pg-name", default="comptoir_bench_list")
    args = parser.parse_args()

    target, data = dataset(args.database, args.tickets, args.fresh, args.pg_name)
    info = common.machine(target)
    token = common.django_call(THIS, "token", target)["token"]

    say(
        f"Capturing the endpoint's SQL in-process and timing it through the driver ({args.requests}×)"
    )
    cap = common.django_call(THIS, "capture", target, token=token, repeat=args.requests)

    experiment = common.experiment_of(args)
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
        quiet = common.wait_quiet(args.quiet_wait)
        meter = common.CpuMeter(server.proc.pid, postgres=args.database == "postgres")
        path1 = f"/api/v1/tickets?{QUERY}"
        page1, meta1 = time_http(server, token, path1, args.requests, args.warmup)
        path2 = f"{path1}&cursor={meta1['next_cursor']}"
        page2, meta2 = time_http(server, token, path2, args.requests, args.warmup)
        cpu = meter.stop()
        extra_n = max(20, args.requests // 3)
        no_desk, meta3 = time_http(server, token, f"/api/v1/tickets?{QUERY_NO_DESK}", extra_n, 5)
        deep, meta4 = time_http(
            server, token, f"/api/v1/tickets?{QUERY_DEEP}&cursor={cap['deep_cursor']}", extra_n, 5
        )
    server.log_path.unlink(missing_ok=True)

    ratio1 = page1["p50_ms"] / cap["page1"]["select_driver"]["p50_ms"]
    ratio2 = page2["p50_ms"] / cap["page2"]["select_driver"]["p50_ms"]
    workers = args.workers or f"{max(2, (info['cores'] or 1) * 2)} (default)"
    threads = args.threads or "4 (default)"
    print(f"\nScenario 2 — agent ticket list at {data['tickets']:,} tickets ({args.database})")
    print(
        f"  request     GET /api/v1/tickets?{QUERY}  ({data.get('matching_first_filter')} tickets match)"
    )
    print(
        f"  server      comptoir serve, {workers} workers × {threads} threads; 1 client, keep-alive, sequential"
    )
    if experiment:
        print(f"  experiment  {experiment}")
    for label, lat, meta, c in (
        ("page 1", page1, meta1, cap["page1"]),
        ("page 2", page2, meta2, cap["page2"]),
    ):
        print(
            f"  API {label}  {common.fmt_latency(lat)} — {meta['items']} rows, {meta['bytes']:,} bytes"
        )
        print(
            f"              {c['queries']} SQL statements ({c['django_sql_ms']:.2f} ms in the driver as Django "
            f"ran them); in-process without HTTP p50 {c['in_process_p50_ms']:.2f} ms"
        )
        print(
            f"  baseline    the page's SELECT through the driver: {common.fmt_latency(c['select_driver'])}"
        )
        print(
            f"              all {c['queries']} statements back to back: p50 {c['all_sql_driver']['p50_ms']:.3f} ms"
        )
    print(f"  ratio       API p50 / SELECT p50 = {ratio1:.1f}× (page 1) · {ratio2:.1f}× (page 2)")
    verdict = (
        "met" if page1["p95_ms"] <= TARGET_P95_MS and page2["p95_ms"] <= TARGET_P95_MS else "MISSED"
    )
    print(
        f"  target      p95 ≤ {TARGET_P95_MS:.0f} ms at 100k tickets: {verdict} "
        f"(page 1 p95 {page1['p95_ms']:.1f} ms, page 2 p95 {page2['p95_ms']:.1f} ms)"
    )
    n_req = 2 * (args.requests + args.warmup)
    print(
        f"  CPU         server {cpu['server_cpu_s']:.1f} s ({cpu['server_cpu_s'] / n_req * 1000:.1f} ms per request), "
        f"database server {cpu['database_cpu_s']:.1f} s, other processes {cpu['others_cpu_s']:.1f} s "
        f"({cpu['others_share']:.0%} of the machine) over {cpu['wall_s']:.1f} s"
    )
    print(
        f"  extra       same filters without desk= (visibility rule instead of a desk filter): "
        f"{common.fmt_latency(no_desk)}"
    )
    print(
        f"  extra       a page {DEEP:,} rows deep (…?{QUERY_DEEP}&cursor=…): {common.fmt_latency(deep)}"
    )
    print("  plan (page 1):")
    for line in cap["page1"]["plan"]:
        print(f"    {line}")
    print("  plan (page 2):")
    for line in cap["page2"]["plan"]:
        print(f"    {line}")
    print(f"  plan (the page {DEEP:,} rows deep):")
    for line in cap["deep"]["plan"]:
        print(f"    {line}")
    common.print_machine(info)

    path = common.append_result(
        SCENARIO,
        {
            "engine": args.database,
            "params": {
                "tickets": data["tickets"],
                "requests": args.requests,
                "warmup": args.warmup,
                "workers": args.workers,
                "threads": args.threads,
                "query": QUERY,
            },
            "experiment": experiment,
            "cpu": cpu,
            "others_share_before": quiet,
            "dataset": data,
            "api_page1": {**page1, **{k: v for k, v in meta1.items() if k != "next_cursor"}},
            "api_page2": {**page2, **{k: v for k, v in meta2.items() if k != "next_cursor"}},
            "api_no_desk": no_desk,
            "api_deep": {**deep, "depth": DEEP, "query": QUERY_DEEP},
            "baseline_page1": cap["page1"]["select_driver"],
            "baseline_page2": cap["page2"]["select_driver"],
            "ratio_page1": round(ratio1, 2),
            "ratio_page2": round(ratio2, 2),
            "capture": cap,
            "target_p95_ms": TARGET_P95_MS,
            "machine": info,
        },
    )
    print(f"\n(appended to {path.relative_to(common.ROOT)})")


if __name__ == "__main__":
    if not common.django_child({"generate": dj_generate, "token": dj_token, "capture": dj_capture}):
        main()
