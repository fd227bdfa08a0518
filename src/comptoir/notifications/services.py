"""Writing and reading notices. ``notify`` is called inside the transaction of the change, and
announces each new notice (``NotificationCreated``) there, so that the mail channel writes its
mail in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.core.errors import NotFound
from comptoir.core.events import publish
from comptoir.notifications.events import NotificationCreated
from comptoir.notifications.models import Notification
from comptoir.notifications.selectors import notifications_of


def notify(
    *,
    recipients: Iterable[Any],
    kind: str,
    key: str,
    title: str,
    body: str = "",
    ticket: Any = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Write one notice per recipient (users or ids), once per ``key``; returns how many are new."""
    ids = sorted({getattr(r, "pk", r) for r in recipients if r is not None})
    if not ids:
        return 0
    known = set(
        Notification.objects.filter(recipient_id__in=ids, key=key).values_list(
            "recipient_id", flat=True
        )
    )
    rows = [
        Notification(
            recipient_id=user_id,
            kind=kind,
            key=key,
            title=title[:300],
            body=body,
            ticket=ticket,
            data=data or {},
        )
        for user_id in ids
        if user_id not in known
    ]
    if not rows:
        return 0
    # The unique (recipient, key) constraint settles a race the read above could not see.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    written = Notification.objects.filter(
        recipient_id__in=[row.recipient_id for row in rows], key=key
    ).values_list("pk", "recipient_id")
    for notification_id, recipient_id in written:
        # A notice another writer won the race for may be announced twice: what listens
        # (mail) writes once per notice.
        publish(
            NotificationCreated(
                notification_id=notification_id,
                recipient_id=recipient_id,
                kind=kind,
                ticket_id=getattr(ticket, "pk", ticket),
            )
        )
    return len(rows)


def mark_delivered(ids: Iterable[int]) -> int:
    """Stamp notices as handed to another channel (their mail is in the outbox)."""
    return Notification.objects.filter(pk__in=list(ids), delivered_at__isnull=True).update(
        delivered_at=timezone.now()
    )


@transaction.atomic
def mark_read(actor: Actor, ids: Iterable[int] | None = None) -> int:
    """Mark some (or, with ``None``, all) of the actor's notices read; returns how many."""
    found = notifications_of(actor, unread=True)
    if ids is not None:
        wanted = list(ids)
        if wanted and not notifications_of(actor).filter(pk__in=wanted).exists():
            raise NotFound("notification", {"ids": wanted})
        found = found.filter(pk__in=wanted)
    return found.update(read_at=timezone.now())
