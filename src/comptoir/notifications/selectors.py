"""Reading one's own notices."""

from __future__ import annotations

from django.db.models import QuerySet

from comptoir.core.actor import Actor
from comptoir.notifications.models import Notification


def notifications_of(actor: Actor, *, unread: bool = False) -> QuerySet[Notification]:
    if actor.user is None:
        return Notification.objects.none()
    found = Notification.objects.filter(recipient=actor.user).select_related("ticket")
    return found.filter(read_at__isnull=True) if unread else found
