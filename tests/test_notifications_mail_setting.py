"""Notices announce themselves to the other channels, once, in the transaction that writes them;
and each person decides whether theirs also come by mail (``/api/v1/me``)."""

from __future__ import annotations

import pytest
from django.db import transaction

from comptoir.core.events import subscribe, unsubscribe
from comptoir.core.models import AuditEntry
from comptoir.notifications.events import NotificationCreated
from comptoir.notifications.models import Notification
from comptoir.notifications.services import notify
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """What a subscriber running inside the transaction hears, and whether it saw the row."""
    seen: list[tuple[NotificationCreated, bool]] = []

    def listen(event: NotificationCreated) -> None:
        seen.append((event, Notification.objects.filter(pk=event.notification_id).exists()))

    subscribe(NotificationCreated, in_transaction=True)(listen)
    yield seen
    unsubscribe(NotificationCreated, listen)


def test_each_new_notice_is_announced_once_with_its_row_already_written(world, heard):
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Printer")
    assert (
        notify(
            recipients=[world.agent, world.manager],
            kind="sla_breached",
            key="b1",
            title="!",
            ticket=ticket,
        )
        == 2
    )
    assert (
        notify(recipients=[world.agent, world.admin], kind="sla_breached", key="b1", title="!") == 1
    )

    announced = sorted((e.recipient_id, e.kind, e.ticket_id, saw) for e, saw in heard)
    assert announced == sorted(
        [
            (world.agent.pk, "sla_breached", ticket.pk, True),
            (world.manager.pk, "sla_breached", ticket.pk, True),
            (world.admin.pk, "sla_breached", None, True),
        ]
    )
    ids = {e.notification_id for e, _ in heard}
    assert ids == set(Notification.objects.values_list("pk", flat=True))


def test_a_rolled_back_notice_leaves_nothing(world, heard):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(recipients=[world.agent], kind="sla_warning", key="w1", title="!")
        raise RuntimeError
    assert not Notification.objects.exists()


def test_notices_by_mail_are_on_until_a_person_turns_them_off(world, api):
    me = api(world.agent)
    assert me.get("me").json()["mail_notifications"] is True

    off = me.patch("me", {"mail_notifications": False})
    assert off.status_code == 200, off.content
    assert off.json()["mail_notifications"] is False
    assert off.json()["email"] == "agent@acme.test"  # the rest of /me, unchanged
    assert me.get("me").json()["mail_notifications"] is False
    world.agent.refresh_from_db()
    assert world.agent.mail_notifications is False
    world.manager.refresh_from_db()
    assert world.manager.mail_notifications is True  # nobody else's

    entry = AuditEntry.objects.get(action="settings_changed")
    assert (entry.actor_user, entry.object_id) == (world.agent, str(world.agent.pk))
    assert (entry.before, entry.after) == (
        {"mail_notifications": True},
        {"mail_notifications": False},
    )

    assert me.patch("me", {}).json()["mail_notifications"] is False  # left out: kept
    assert me.patch("me", {"mail_notifications": True}).json()["mail_notifications"] is True
    assert AuditEntry.objects.filter(action="settings_changed").count() == 2


def test_the_setting_is_ones_own_and_needs_a_sign_in(world, api):
    assert api(None).patch("me", {"mail_notifications": False}).status_code == 401
    refused = api(world.agent).patch("me", {"mail_notifications": "sometimes"})
    assert refused.status_code == 422
    world.agent.refresh_from_db()
    assert world.agent.mail_notifications is True
    assert not AuditEntry.objects.filter(action="settings_changed").exists()
