"""Scale-out, for real: two web processes and two workers share a fresh PostgreSQL database and
Redis; tickets come in through both web processes; one worker is killed (SIGKILL) while the SLA
sweeps and the notices are going on. Every ticket is routed once, every clock warns and breaches
once, and every notice reaches the mail server once, under its one Message-ID.

Runs on PostgreSQL + Redis only (the second phase of ``.ci/run``); skipped otherwise.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.scaleout.cluster import (
    Cluster,
    Load,
    open_tickets,
    read_outcome,
    running_cluster,
    wait_until,
)

pytestmark = pytest.mark.scaleout

TICKETS = 200


@pytest.fixture
def cluster(tmp_path):
    with running_cluster(tmp_path, "scaleout") as cluster:
        yield cluster


def assert_done_once(cluster: Cluster, load: Load, tickets: int = TICKETS) -> None:
    """Each job ran exactly once in effect; no notice lost, none sent twice."""
    outcome = read_outcome(cluster.database_url)
    assert load.failures == [], load.failures[:5]
    assert sorted(outcome.tickets) == sorted(load.refs)
    assert len(outcome.tickets) == tickets

    # Routing: every ticket once, to an agent in turn.
    assert Counter(outcome.routed.values()) == {1: tickets}
    assert outcome.assigned == tickets

    # SLA: one clock per ticket, breached once and escalated once; warned at most once (a
    # ticket whose half-time and breach fell between two sweeps is only told of the breach).
    assert outcome.clocks == outcome.breached_clocks == tickets
    for ticket_id in outcome.tickets.values():
        assert outcome.events.get((ticket_id, "sla_breached")) == 1, ticket_id
        assert outcome.events.get((ticket_id, "escalated")) == 1, ticket_id
        assert outcome.events.get((ticket_id, "sla_warning"), 0) <= 1, ticket_id

    # Notices: exactly those the timeline calls for, each once.
    written = Counter((key, recipient) for _, key, recipient in outcome.notices)
    assert set(written) == outcome.expected_notices
    assert max(written.values()) == 1

    # Mail: one outbox row per notice, all sent; each arrived at the mail server under its
    # own Message-ID, to its recipient. A row handed to the server twice (its worker killed
    # between the server's acceptance and the mark) would arrive twice with one Message-ID;
    # only a row taken again after its lease ran out can.
    assert outcome.unsent == 0
    rows = {outcome.mails[f"notice:{notice_id}"] for notice_id, _, _ in outcome.notices}
    assert len(rows) == len(outcome.notices)
    arrived = Counter(cluster.sink.received)
    assert {mid for mid, _ in arrived} == {mid for mid, _, _ in rows}
    for message_id, to, attempts in rows:
        times = arrived[(message_id, tuple(sorted(to)))]
        assert times == 1 or (times == 2 and attempts > 1), (message_id, times, attempts)


def test_two_web_processes_and_two_workers_lose_nothing_when_a_worker_is_killed(cluster):
    started = time.monotonic()
    token = cluster.seed()
    bases = [cluster.start_web(), cluster.start_web()]
    first, second = cluster.start_worker(), cluster.start_worker()
    cluster.wait_ready()

    load = open_tickets(bases, token, TICKETS)
    assert load.failures == [], load.failures[:5]

    # Kill one worker while the sweep warns and breaches and the notices go out.
    wait_until(
        lambda: cluster.sink.count() >= 20,
        timeout=120,
        what="no notice was mailed",
        cluster=cluster,
        every=0.2,
    )
    cluster.kill(first)
    assert second.poll() is None

    def quiet() -> bool:
        outcome = read_outcome(cluster.database_url)
        return (
            outcome.breached_clocks == TICKETS
            and outcome.unsent == 0
            and len(outcome.notices) == len(outcome.expected_notices)
            and all(outcome.routed.values())
        )

    wait_until(quiet, timeout=150, what="the work did not finish", cluster=cluster)
    sent = cluster.sink.count()
    time.sleep(3)  # nothing more comes: no late second copy
    assert cluster.sink.count() == sent
    assert_done_once(cluster, load)
    print(f"scale-out: {TICKETS} tickets, {sent} mails in {time.monotonic() - started:.0f} s")
