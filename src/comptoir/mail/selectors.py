"""Reading mailboxes and messages: a desk's managers see their desk's, a superuser all."""

from __future__ import annotations

from django.db.models import QuerySet

from comptoir.accounts.permissions import is_manager_on
from comptoir.core.actor import Actor
from comptoir.mail.models import InboundMessage, Mailbox


def managed_desk_ids(actor: Actor) -> set[int] | None:
    """The desks whose mail ``actor`` manages; None means every desk."""
    if actor.is_system or actor.is_superuser:
        return None
    return {desk_id for desk_id in actor.roles() if is_manager_on(actor, desk_id)}


def mailboxes_for(actor: Actor) -> QuerySet[Mailbox]:
    boxes = Mailbox.objects.select_related("desk").order_by("address")
    desks = managed_desk_ids(actor)
    return boxes if desks is None else boxes.filter(desk_id__in=desks)


def messages_for(actor: Actor) -> QuerySet[InboundMessage]:
    found = InboundMessage.objects.select_related("mailbox", "ticket").order_by("-id")
    desks = managed_desk_ids(actor)
    return found if desks is None else found.filter(mailbox__desk_id__in=desks)
