#!/usr/bin/env python3
"""Where the time of one request goes, in-process (Django's test client, no HTTP, no Gunicorn).

    .venv/bin/python bench/breakdown.py create [--database sqlite|postgres]
    .venv/bin/python bench/breakdown.py list   [--database sqlite|postgres]

``create`` makes a throwaway database; ``list`` uses the data ``list_tickets.py`` keeps (run that
first). Each step of the endpoint is wrapped with a timer (the wrappers cost a few microseconds),
and the total per request and each step's share are printed. The SQL time is what the driver took
for the statements, measured by an execute wrapper. Useful to see a fix's effect step by step;
the end-to-end figures are the scenarios' own.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import time
from pathlib import Path
from typing import Any

import common

THIS = Path(__file__).resolve()


def _instrument(steps: list[tuple[Any, str, str]]) -> dict[str, float]:
    spent: dict[str, float] = collections.defaultdict(float)
    for owner, name, label in steps:
        original = getattr(owner, name, None)
        if original is None:  # a step this version of the code does not have
            continue

        def timed(*args, __original=original, __label=label, **kwargs):
            t0 = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                spent[__label] += time.perf_counter() - t0

        functools.update_wrapper(timed, original)
        setattr(owner, name, timed)
    return spent


def _run(client_call, spent: dict[str, float], n: int) -> dict[str, Any]:
    from django.db import connection

    sql = {"t": 0.0, "n": 0}

    def capture(execute, statement, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            sql["t"] += time.perf_counter() - t0
            sql["n"] += 1

    for i in range(5):
        client_call(i)
    spent.clear()
    walls = []
    with connection.execute_wrapper(capture):
        for i in range(n):
            t0 = time.perf_counter()
            client_call(1000 + i)
            walls.append(time.perf_counter() - t0)
    total = sum(walls)
    return {
        "requests": n,
        "p50_ms": round(common.percentile([w * 1000 for w in walls], 50), 3),
        "mean_ms": round(total / n * 1000, 3),
        "sql_statements": sql["n"] / n,
        "sql_ms": round(sql["t"] / n * 1000, 3),
        "steps_ms": {k: round(v / n * 1000, 3) for k, v in spent.items()},
    }


def dj_create(n: int) -> dict[str, Any]:
    import create_tickets
    import ninja.operation
    from django.test import Client

    from comptoir.accounts import services as account_services
    from comptoir.tickets import api, services

    world = common.setup_world(desks=[("IT", "it", "IT")])
    spent = _instrument(
        [
            (account_services, "authenticate_token", "authenticate the token"),
            (api, "resolve_desk", "resolve the desk (and the agent's roles)"),
            (api.services, "create_ticket", "services.create_ticket (the transaction)"),
            (services, "_next_number", "    of which: desk counter UPDATE + SELECT"),
            (services, "render_markdown", "    of which: render the description"),
            (services, "_record", "    of which: timeline event INSERT"),
            (api.selectors, "get_ticket_for", "read the new ticket back (get_ticket_for)"),
            (api, "ticket_detail_out", "build the detail (tags, watchers, children, links)"),
            (api, "new_ticket_out", "build the answer from the new row"),
            (
                ninja.operation.Operation,
                "_result_to_response",
                "validate the response schema + JSON",
            ),
        ]
    )
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {world['token']}")

    def call(i: int) -> None:
        response = client.post(
            "/api/v1/tickets", create_tickets.payload(i), content_type="application/json"
        )
        assert response.status_code == 201, response.content[:300]

    return _run(call, spent, n)


def dj_list(n: int, token: str) -> dict[str, Any]:
    import list_tickets
    import ninja.operation
    from django.test import Client

    from comptoir.accounts import services as account_services
    from comptoir.tickets import api

    spent = _instrument(
        [
            (account_services, "authenticate_token", "authenticate the token"),
            (api, "resolve_desk", "resolve the desk (and the agent's roles)"),
            (api.selectors, "filter_tickets", "build the queryset"),
            (api, "page", "page(): SELECT, model instances, tags prefetch"),
            (api, "ticket_out", "ticket_out() for each row (+ lazy loads)"),
            (
                ninja.operation.Operation,
                "_result_to_response",
                "validate the response schema + JSON",
            ),
        ]
    )
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/v1/tickets?{list_tickets.QUERY}"

    def call(i: int) -> None:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]

    return _run(call, spent, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["create", "list"])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()

    if args.scenario == "create":
        target = common.Target.create(args.database, pg_name="comptoir_bench_breakdown")
        try:
            result = common.django_call(THIS, "create", target, n=args.requests)
        finally:
            target.cleanup()
    else:
        import list_tickets

        folder = list_tickets.DATA / f"list-{args.database}"
        if not (folder / "dataset.json").exists():
            raise SystemExit(
                f"no data in {folder}: run list_tickets.py --database {args.database} first"
            )
        pg_name = json.loads((folder / "dataset.json").read_text())["pg_name"]
        target = common.Target.create(args.database, pg_name=pg_name, data_dir=folder, fresh=False)
        token = common.django_call(list_tickets.THIS, "token", target)["token"]
        result = common.django_call(THIS, "list", target, n=args.requests, token=token)

    print(
        f"\nIn-process breakdown — {args.scenario} ({args.database}), {result['requests']} requests"
    )
    print(f"  per request: p50 {result['p50_ms']:.2f} ms, mean {result['mean_ms']:.2f} ms")
    print(
        f"  SQL: {result['sql_statements']:.1f} statements, {result['sql_ms']:.2f} ms in the driver"
    )
    for label, ms in result["steps_ms"].items():
        share = ms / result["mean_ms"] if result["mean_ms"] else 0
        print(f"  {label:55s} {ms:7.2f} ms  {share:4.0%}")


if __name__ == "__main__":
    if not common.django_child({"create": dj_create, "list": dj_list}):
        main()
