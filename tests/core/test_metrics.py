"""``/metrics``: who may scrape it, what the counters count, what the gauges show, and, for real,
that one scrape of a served install adds up all its processes."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from prometheus_client.parser import text_string_to_metric_families

from comptoir.core.actor import Actor
from comptoir.core.metrics import clean_directory, watch_jobs
from comptoir.core.metrics.state import read_state
from comptoir.mail.models import InboundMessage, OutboundMessage
from comptoir.routing.tasks import route_ticket_task
from comptoir.sla.models import SlaClock
from comptoir.tickets.services import resolve_ticket
from tests.factories import make_ticket
from tests.processes import COMPTOIR, comptoir_env, free_port, run, wait_ready

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(client, **extra) -> Samples:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(response.content.decode())


@pytest.fixture
def fresh(settings):
    """Gauges read at each scrape, not kept from an earlier one."""
    settings.COMPTOIR_METRICS_CACHE_SECONDS = 0
    return settings


# --- who may scrape ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "headers", "allowed"),
    [
        ("127.0.0.1", {}, True),
        ("::1", {}, True),
        ("10.0.0.5", {}, False),
        ("192.168.1.20", {}, False),
        # through a proxy on the same machine: the address is the proxy's, not the caller's
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, False),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}, False),
    ],
)
def test_without_settings_only_loopback_may_scrape(client, address, headers, allowed):
    response = client.get("/metrics", REMOTE_ADDR=address, headers=headers)
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert response.content == b""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("authorization", "allowed"),
    [
        (None, False),
        ("Bearer wrong-token", False),
        ("Bearer s3cret-scrape-token-but-longer", False),
        ("Basic czNjcmV0", False),
        ("Bearer ", False),
        ("Bearer s3cret-scrape-token", True),
        ("bearer s3cret-scrape-token", True),
    ],
)
def test_a_token_lets_a_scraper_in_from_anywhere(client, settings, authorization, allowed):
    settings.COMPTOIR_METRICS_TOKEN = "s3cret-scrape-token"
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", headers=headers)
    assert response.status_code == (200 if allowed else 403)
    # with a token set, loopback is no longer enough
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_an_allow_list_replaces_loopback(client, settings):
    settings.COMPTOIR_METRICS_ALLOW = [ipaddress.ip_network("10.20.0.0/16")]
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.20.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.21.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_with_a_token_and_an_allow_list_a_scraper_needs_both(client, settings):
    settings.COMPTOIR_METRICS_TOKEN = "s3cret-scrape-token"
    settings.COMPTOIR_METRICS_ALLOW = [ipaddress.ip_network("10.20.0.0/16")]
    good = {"Authorization": "Bearer s3cret-scrape-token"}
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4", headers=good).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.99.3.4", headers=good).status_code == 403


def test_a_bad_allow_list_stops_the_start_with_its_name(tmp_path):
    with pytest.raises(subprocess.CalledProcessError) as failed:
        run_with = {"COMPTOIR_METRICS_ALLOW": "10.0.0.0/8,not-a-network"}
        subprocess.run(
            [str(COMPTOIR), "check"],
            env={**comptoir_env(tmp_path), **run_with},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    assert "COMPTOIR_METRICS_ALLOW" in failed.value.stderr
    assert "not-a-network" in failed.value.stderr


# --- what the counters count ------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_by_route_pattern_not_by_path(client, world):
    before = scrape(client)
    for ref in ("IT-1", "IT-2", "HR-77"):
        client.get(f"/api/v1/tickets/{ref}")  # anonymous: 401, still one request each
    client.get("/healthz")
    client.post("/healthz")  # 405
    client.get("/no/such/page/IT-3")
    after = scrape(client)

    def moved(**labels: str) -> float:
        name = "comptoir_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(method="GET", route="/api/v1/tickets/<ref>", status="401") == 3
    assert moved(method="GET", route="/healthz", status="200") == 1
    assert moved(method="POST", route="/healthz", status="405") == 1
    assert moved(method="GET", route="unmatched", status="404") == 1
    duration = "comptoir_http_request_duration_seconds_count"
    route = "/api/v1/tickets/<ref>"
    assert (
        value(after, duration, method="GET", route=route)
        - value(before, duration, method="GET", route=route)
        == 3
    )
    routes = {dict(labels).get("route") for _, labels in after}
    assert not any(r and ("IT-1" in r or "HR-77" in r or "IT-3" in r) for r in routes)


@pytest.mark.django_db
def test_an_unknown_method_is_counted_as_other(client):
    before = scrape(client)
    client.generic("BREW", "/healthz")
    after = scrape(client)
    name = "comptoir_http_requests_total"
    labels = {"method": "other", "route": "/healthz", "status": "405"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1


@HUEY.task()
def metrics_probe_succeeds() -> None:
    return None


@HUEY.task(retries=1, retry_delay=0)
def metrics_probe_fails() -> None:
    raise RuntimeError("the probe fails on purpose")


@pytest.mark.django_db
def test_jobs_are_counted_by_task_and_outcome(client):
    watch_jobs(HUEY)
    watch_jobs(HUEY)  # a second call counts nothing twice
    before = scrape(client)
    metrics_probe_succeeds()
    metrics_probe_fails()  # fails, is retried once, fails again
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    jobs = "comptoir_jobs_total"
    assert moved(jobs, task="metrics_probe_succeeds", outcome="complete") == 1
    assert moved(jobs, task="metrics_probe_fails", outcome="error") == 2
    assert moved(jobs, task="metrics_probe_fails", outcome="retrying") == 1
    assert moved(jobs, task="metrics_probe_fails", outcome="complete") == 0
    durations = "comptoir_job_duration_seconds_count"
    assert moved(durations, task="metrics_probe_succeeds") == 1
    assert moved(durations, task="metrics_probe_fails") == 2


# --- what the gauges show ---------------------------------------------------------------------


def _clock(ticket, slot: str, **fields) -> SlaClock:
    now = timezone.now()
    defaults = {
        "scope": "sla",
        "metric": "resolution",
        "target_seconds": 3600,
        "state": "running",
        "started_at": now - timedelta(hours=3),
    }
    return SlaClock.objects.create(ticket=ticket, slot=slot, **{**defaults, **fields})


def _outbound(n: int, status: str) -> None:
    OutboundMessage.objects.create(
        kind="notice",
        key=f"test-{status}-{n}",
        from_address="desk@example.test",
        to=["someone@example.test"],
        subject="Subject",
        body="Body",
        message_id=f"<{status}-{n}@example.test>",
        status=status,
    )


def _inbound(n: int, status: str) -> None:
    InboundMessage.objects.create(
        key=f"in-{status}-{n}", sha256="0" * 64, spool_path="x", size=1, status=status
    )


@pytest.mark.django_db
def test_gauges_show_open_tickets_breaches_and_mail_per_desk(client, world, fresh):
    first = make_ticket(desk=world.desk, requester=world.requester, title="Salary of Jane Doe")
    make_ticket(desk=world.desk, requester=world.requester)
    make_ticket(desk=world.other_desk, requester=world.colleague)
    done = make_ticket(desk=world.desk, requester=world.requester)
    resolve_ticket(actor=Actor.for_user(world.agent), ticket=done, resolution="Fixed.")
    now = timezone.now()
    _clock(first, "sla:resolution", breached_at=now - timedelta(hours=1))
    _clock(first, "sla:first_response", metric="first_response", due_at=now - timedelta(hours=2))
    _clock(first, "ola:resolution", scope="ola", due_at=now + timedelta(hours=1))  # not yet
    _clock(done, "sla:resolution", state="stopped", breached_at=now - timedelta(hours=1))
    notices = OutboundMessage.objects.filter(status="pending").count()  # the resolution's
    for n in range(3):
        _outbound(n, "pending")
    _outbound(9, "failed")
    _outbound(10, "sent")
    _inbound(1, "failed")
    _inbound(2, "processed")

    response = client.get("/metrics")
    samples = parse(response.content.decode())

    status = first.status
    assert value(samples, "comptoir_tickets_open", desk="it", status=status) == 2
    assert value(samples, "comptoir_tickets_open", desk="hr", status=status) == 1
    done.refresh_from_db()
    assert value(samples, "comptoir_tickets_open", desk="it", status=done.status) == 0
    breached = "comptoir_sla_breached_clocks"
    assert value(samples, breached, desk="it", metric="resolution") == 1
    assert value(samples, breached, desk="it", metric="first_response") == 1
    assert value(samples, "comptoir_mail_outbound_messages", status="pending") == notices + 3
    assert value(samples, "comptoir_mail_outbound_messages", status="failed") == 1
    assert value(samples, "comptoir_mail_inbound_messages", status="failed") == 1
    assert value(samples, "comptoir_mail_inbound_messages", status="received") == 0
    assert value(samples, "comptoir_state_up", source="database") == 1
    body = response.content.decode()
    assert "Jane Doe" not in body
    assert "requester@acme.test" not in body


@pytest.mark.django_db
def test_reading_the_state_takes_the_same_few_queries_however_many_desks(
    world, fresh, django_assert_num_queries
):
    for desk in (world.desk, world.other_desk):
        for _ in range(3):
            make_ticket(desk=desk, requester=world.requester)
    with django_assert_num_queries(5):  # desks, tickets, clocks, outbound mail, inbound mail
        state = read_state()
    assert sum(n for _, _, n in state["tickets"]) == 6


@pytest.mark.django_db
def test_the_state_is_kept_for_the_cache_interval(client, world, settings):
    settings.COMPTOIR_METRICS_CACHE_SECONDS = 60
    from django.core.cache import cache

    cache.delete("comptoir:metrics:state")
    make_ticket(desk=world.desk, requester=world.requester)
    first = scrape(client)
    make_ticket(desk=world.desk, requester=world.requester)
    second = scrape(client)
    cache.delete("comptoir:metrics:state")
    third = scrape(client)

    def open_on_it(samples: Samples) -> float:
        return sum(
            v
            for (name, labels), v in samples.items()
            if name == "comptoir_tickets_open" and dict(labels)["desk"] == "it"
        )

    assert open_on_it(first) == open_on_it(second) == 1
    assert open_on_it(third) == 2


@pytest.fixture
def queue():
    """The real queue (the data folder's SQLite queue, or Redis), emptied, jobs left in it."""
    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


@pytest.mark.django_db
def test_queue_depth_shows_jobs_waiting_for_a_worker(client, fresh, queue):
    assert value(scrape(client), "comptoir_queue_pending_jobs") == 0
    route_ticket_task(1)
    route_ticket_task(2)
    samples = scrape(client)
    assert value(samples, "comptoir_queue_pending_jobs") == 2
    assert value(samples, "comptoir_state_up", source="queue") == 1


# --- for real: one scrape adds up the host's processes -----------------------------------------


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def _web_pids(metrics_dir: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}


def _scrape_url(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        return parse(response.read().decode())


def test_one_scrape_of_a_served_install_adds_up_its_web_workers_and_its_worker(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    env = {**comptoir_env(data_dir), "COMPTOIR_LOG_FORMAT": "json"}
    env.pop("COMPTOIR_METRICS_DIR", None)
    with out.open("wb") as stdout, err.open("wb") as stderr:
        server = subprocess.Popen(
            [str(COMPTOIR), "serve", "--port", str(port), "--workers", "2", "--threads", "2"]
            + ["--access-log"],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    sent = 0
    try:
        wait_ready(base, server, err)
        # Requests in parallel until both web workers have answered some (and so counted them
        # in files of their own).
        deadline = time.monotonic() + 60
        while len(_web_pids(data_dir / "metrics")) < 2 or sent < 40:
            assert time.monotonic() < deadline, "one web worker answered every request"
            threads = [threading.Thread(target=_get, args=(f"{base}/healthz",)) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent += len(threads)
        status, headers = _get(f"{base}/healthz", {"X-Request-ID": 'x"y\\z' + "a" * 300})
        assert status == 200
        hostile_answer = headers["X-Request-ID"]
        status, headers = _get(f"{base}/healthz", {"X-Request-ID": "trace-42.abc"})
        assert headers["X-Request-ID"] == "trace-42.abc"
        sent += 2

        # a job queued by another process is run by the worker that `serve` started
        run(
            data_dir,
            "shell",
            "-c",
            "from comptoir.routing.tasks import route_ticket_task as t; t(0)",
        )
        deadline = time.monotonic() + 30
        while True:
            samples = _scrape_url(f"{base}/metrics")
            jobs = value(
                samples, "comptoir_jobs_total", task="route_ticket_task", outcome="complete"
            )
            if jobs == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    finally:
        server.send_signal(2)  # SIGINT, as Ctrl-C
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)

    assert jobs == 1, err.read_text(errors="replace")[-3000:]
    assert (
        value(samples, "comptoir_http_requests_total", method="GET", route="/healthz", status="200")
        == sent
    )
    assert len(_web_pids(data_dir / "metrics")) >= 2

    # Every line of the logs is one JSON object, Gunicorn's access log included.
    lines = err.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    access = [e for e in entries if e["logger"] == "gunicorn.access" and e["path"] == "/healthz"]
    assert len(access) == sent
    assert all(e["status"] == 200 and e["method"] == "GET" for e in access)
    assert all("duration_ms" in e and "time" in e and e["level"] == "INFO" for e in access)
    ids = {e["request_id"] for e in access}
    assert len(ids) == sent  # one id each
    assert {"trace-42.abc", hostile_answer} <= ids
    assert len(hostile_answer) == 32 and hostile_answer.isalnum()


def test_a_start_removes_the_counts_of_ended_processes_and_keeps_the_running_ones(tmp_path):
    gone = subprocess.Popen(["true"])  # a process that has ended: its number is free
    gone.wait()
    running = os.getpid()
    for name in (f"counter_{gone.pid}.db", f"histogram_{gone.pid}.db", f"counter_{running}.db"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not ours")
    assert clean_directory(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{running}.db", "notes.txt"]


def test_a_worker_alone_on_its_host_serves_its_own_metrics(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    run(data_dir, "migrate", "--verbosity", "0")
    port = free_port()
    env = {**comptoir_env(data_dir), "COMPTOIR_METRICS_TOKEN": "worker-scrape-token"}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(COMPTOIR), "worker", "--no-periodic", "--metrics-port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/metrics"
    token = {"Authorization": "Bearer worker-scrape-token"}
    jobs = 0.0
    try:
        run(
            data_dir,
            "shell",
            "-c",
            "from comptoir.routing.tasks import route_ticket_task as t; t(0)",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and worker.poll() is None:
            try:
                request = urllib.request.Request(url, headers=token)
                with urllib.request.urlopen(request, timeout=5) as response:
                    samples = parse(response.read().decode())
                jobs = value(
                    samples, "comptoir_jobs_total", task="route_ticket_task", outcome="complete"
                )
                if jobs == 1:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.3)
        refused = _get(url)[0]
        elsewhere = _get(f"http://127.0.0.1:{port}/admin/", token)[0]
    finally:
        worker.send_signal(2)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
    assert jobs == 1, log.read_text(errors="replace")[-3000:]
    assert refused == 403  # the token is asked for here as on the web
    assert elsewhere == 404  # nothing but /metrics
