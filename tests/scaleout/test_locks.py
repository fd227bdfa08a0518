"""A sweep's lock held by a worker that is killed does not stop that sweep for good: with Redis
it expires, without Redis the kernel releases it with its holder. While the holder lives, the
other workers skip the sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.core.locks import sweep_lock
from comptoir.sla.models import SlaPolicy
from comptoir.sla.tasks import sweep_clocks
from comptoir.tickets import services
from comptoir.tickets.models import EventKind, TicketEvent

#: Takes a lock and holds it until killed. ``seconds``: how long the lock outlives it (Redis).
HOLDER = """
import sys, time, django
django.setup()
from comptoir.core.locks import sweep_lock
with sweep_lock(sys.argv[1], seconds=float(sys.argv[2])) as held:
    print("held" if held else "busy", flush=True)
    time.sleep(120)
"""


def hold(name: str, seconds: float) -> subprocess.Popen:
    """Another worker process, holding the lock ``name`` (on the same Redis or data folder)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "comptoir.config.settings"
    env["COMPTOIR_DATA_DIR"] = str(settings.DATA_DIR)
    env["COMPTOIR_QUEUE_NAME"] = str(settings.HUEY["name"])
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, name, str(seconds)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    line = holder.stdout.readline().strip()
    if line != "held":
        holder.kill()
        holder.wait()
        pytest.fail(f"the other process could not take the lock: {line!r}")
    return holder


@pytest.fixture
def breached_ticket(world, monkeypatch):
    """A ticket whose one-minute target ran out two minutes ago, not swept yet."""
    SlaPolicy.objects.create(
        desk=world.desk,
        name="Quick",
        calendar_source="always",
        targets=[{"metric": "resolution", "minutes": 1, "priority": None}],
        warn_at=[],
    )
    ticket = services.create_ticket(
        actor=Actor.for_user(world.requester), desk=world.desk, kind="incident", title="Down"
    )
    later = timezone.now() + timedelta(minutes=3)
    monkeypatch.setattr(timezone, "now", lambda: later)
    return ticket


def breaches(ticket) -> int:
    return TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SLA_BREACHED).count()


@pytest.mark.django_db
def test_a_sweep_whose_lock_holder_was_killed_runs_again(breached_ticket):
    holder = hold("sla-sweep", seconds=2)
    try:
        sweep_clocks.call_local()  # another worker is sweeping: this one skips
        assert breaches(breached_ticket) == 0
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    if settings.REDIS_URL:
        time.sleep(2.2)  # the lock outlives its dead holder this long, no longer
    sweep_clocks.call_local()
    assert breaches(breached_ticket) == 1


def test_a_lock_is_held_by_one_holder_at_a_time_and_free_after():
    with (
        sweep_lock("test-one-at-a-time", seconds=30) as first,
        sweep_lock("test-one-at-a-time", seconds=30) as second,
    ):
        assert (first, second) == (True, False)
    with sweep_lock("test-one-at-a-time", seconds=30) as again:
        assert again is True


@pytest.mark.parametrize("name", ["", "../etc/passwd", "a b", "A" * 200])
def test_a_lock_name_that_is_not_a_plain_word_is_refused(name):
    with pytest.raises(ValueError), sweep_lock(name, seconds=1):
        pass


def test_a_living_holder_keeps_its_lock_past_its_expiry():
    with sweep_lock("test-long-sweep", seconds=1) as held:
        time.sleep(2.5)  # a sweep longer than the lock's life: renewed meanwhile
        with sweep_lock("test-long-sweep", seconds=1) as other:
            assert (held, other) == (True, False)
