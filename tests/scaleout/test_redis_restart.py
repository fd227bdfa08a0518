"""Redis restarted during load, for real: a private ``redis-server`` that keeps nothing on disk
is killed and started again, empty, while tickets come in. The queued jobs are gone; what was
acknowledged to a client still happens, from the database alone: every ticket is routed once,
every clock breaches once, every notice reaches the mail server once.

Runs on PostgreSQL (the second phase of ``.ci/run``); skipped otherwise.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.scaleout.cluster import (
    Load,
    PrivateRedis,
    open_tickets,
    read_outcome,
    require_postgresql_and_redis,
    running_cluster,
    wait_until,
)
from tests.scaleout.test_scaleout import assert_done_once

pytestmark = pytest.mark.scaleout

TICKETS = 80


@pytest.fixture
def cluster(tmp_path):
    require_postgresql_and_redis()
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        with running_cluster(tmp_path, "redis_restart", redis_url=redis.url) as cluster:
            cluster.redis = redis  # type: ignore[attr-defined]
            yield cluster
    finally:
        redis.kill()


def test_what_was_acknowledged_still_happens_after_redis_restarts_empty(cluster):
    token = cluster.seed()
    bases = [cluster.start_web()]
    cluster.start_worker()
    cluster.wait_ready()

    load = Load()
    clients = threading.Thread(
        target=open_tickets, args=(bases, token, TICKETS), kwargs={"clients": 4, "load": load}
    )
    clients.start()
    wait_until(
        lambda: len(load.refs) >= TICKETS // 3, timeout=60, what="no ticket", cluster=cluster
    )
    cluster.redis.restart(down_for=1.0)  # the queue, its jobs and the locks are gone
    clients.join(timeout=120)
    acknowledged = set(load.refs)
    refused = len(load.failures)
    assert len(acknowledged) >= TICKETS // 2, load.failures[:5]

    def quiet() -> bool:
        outcome = read_outcome(cluster.database_url)
        return (
            outcome.breached_clocks == len(outcome.tickets)
            and outcome.clocks == len(outcome.tickets)
            and outcome.unsent == 0
            and len(outcome.notices) == len(outcome.expected_notices)
            and all(outcome.routed.values())
        )

    wait_until(quiet, timeout=170, what="the work did not finish", cluster=cluster)
    time.sleep(3)
    outcome = read_outcome(cluster.database_url)
    # Every acknowledged ticket is there (a request refused while Redis was away may still
    # have been written: it is carried through all the same).
    assert acknowledged <= set(outcome.tickets)
    load.refs = sorted(outcome.tickets)
    load.failures = []
    assert_done_once(cluster, load, tickets=len(outcome.tickets))
    made_up = cluster.tail(10**7).count("routed by the catch-up")
    print(
        f"Redis restart: {len(acknowledged)} acknowledged, {refused} refused, catch-ups: {made_up}"
    )
