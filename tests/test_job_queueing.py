"""A ticket change queues a routing or SLA job only when the desk has something for it to do.

These tests use the real queue (the data folder's SQLite queue, or Redis) instead of running
jobs at once: what is measured is what waits for the worker.
"""

from __future__ import annotations

import pytest
from huey.contrib.djhuey import HUEY

from comptoir.core.actor import Actor
from comptoir.routing.models import RoutingRule
from comptoir.sla.models import SlaPolicy
from comptoir.tickets import services
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue():
    """The real queue, emptied, with jobs left in it instead of run at once."""
    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


def queued_names(huey) -> list[str]:
    """The routing and SLA jobs waiting (a public reply also queues its mail, rightly)."""
    names = (task.name.rsplit(".", 1)[-1] for task in huey.pending())
    return sorted(name for name in names if name != "deliver_mail")


def open_ticket(world, django_capture_on_commit_callbacks, title="Printer on fire"):
    with django_capture_on_commit_callbacks(execute=True):
        return services.create_ticket(
            actor=Actor.for_user(world.requester), desk=world.desk, kind="incident", title=title
        )


def test_a_desk_without_rules_or_policies_queues_nothing(
    world, queue, django_capture_on_commit_callbacks
):
    ticket = open_ticket(world, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_comment(
            actor=Actor.for_user(world.agent), ticket=ticket, body="On my way.", public=True
        )
    assert queued_names(queue) == []


def test_a_policy_queues_the_clocks_and_a_rule_the_routing(
    world, queue, django_capture_on_commit_callbacks
):
    SlaPolicy.objects.create(
        desk=world.desk,
        name="Standard",
        targets=[{"metric": "resolution", "minutes": 240, "priority": None}],
    )
    assert queued_names(queue) == []
    open_ticket(world, django_capture_on_commit_callbacks)
    assert queued_names(queue) == ["refresh_ticket_clocks"]

    queue.flush()
    RoutingRule.objects.create(
        desk=world.desk, name="Everything", team=TeamFactory(desk=world.desk)
    )
    open_ticket(world, django_capture_on_commit_callbacks, "Second")
    assert queued_names(queue) == ["refresh_ticket_clocks", "route_ticket_task"]


def test_an_inactive_policy_or_rule_queues_nothing(
    world, queue, django_capture_on_commit_callbacks
):
    SlaPolicy.objects.create(
        desk=world.desk,
        name="Retired",
        is_active=False,
        targets=[{"metric": "resolution", "minutes": 240, "priority": None}],
    )
    RoutingRule.objects.create(
        desk=world.desk, name="Retired", is_active=False, team=TeamFactory(desk=world.desk)
    )
    open_ticket(world, django_capture_on_commit_callbacks)
    assert queued_names(queue) == []
