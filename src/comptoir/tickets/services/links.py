"""Parent and child tickets, typed links, and merging duplicates."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.events import publish
from comptoir.tickets import events as ev
from comptoir.tickets import permissions as perms
from comptoir.tickets.lifecycle import lifecycle_for
from comptoir.tickets.models import (
    Attachment,
    Comment,
    EventKind,
    Ticket,
    TicketLink,
)
from comptoir.tickets.services._common import (
    LINK_KINDS,
    _base,
    _record,
)


def _is_ancestor(candidate: Ticket, of: Ticket) -> bool:
    node, seen = of.parent, set()
    while node is not None and node.pk not in seen:
        if node.pk == candidate.pk:
            return True
        seen.add(node.pk)
        node = node.parent
    return False


@transaction.atomic
def link_tickets(*, actor: Actor, ticket: Ticket, target: Ticket, kind: str) -> Ticket:
    """Link ``ticket`` to ``target``: parent, child, duplicate_of, caused_by or related."""
    if not (perms.can_link(actor, ticket) and perms.can_link(actor, target)):
        raise PermissionDenied("You may not link these tickets.")
    if kind not in LINK_KINDS:
        raise DomainError(
            ErrorCode.LINK_INVALID, f"Unknown link kind {kind!r}.", {"allowed": sorted(LINK_KINDS)}
        )
    if target.pk == ticket.pk:
        raise DomainError(ErrorCode.LINK_INVALID, "A ticket cannot be linked to itself.")
    if kind in ("parent", "child"):
        parent, child = (target, ticket) if kind == "parent" else (ticket, target)
        if child.parent_id == parent.pk:
            return ticket
        if _is_ancestor(child, parent) or child.pk == parent.pk:
            raise DomainError(ErrorCode.LINK_INVALID, "That would make a ticket its own ancestor.")
        before = child.parent.ref if child.parent is not None else None
        child.parent = parent
        child.updated_at = timezone.now()
        child.save(update_fields=["parent", "updated_at"])
        _record(
            child, actor, EventKind.LINKED, before={"parent": before}, after={"parent": parent.ref}
        )
        _record(parent, actor, EventKind.LINKED, after={"child": child.ref})
        return ticket
    _, created = TicketLink.objects.get_or_create(source=ticket, target=target, kind=kind)
    if created:
        _record(ticket, actor, EventKind.LINKED, after={"kind": kind, "target": target.ref})
        _record(
            target, actor, EventKind.LINKED, after={"kind": f"{kind}:inverse", "source": ticket.ref}
        )
    return ticket


@transaction.atomic
def unlink_tickets(*, actor: Actor, ticket: Ticket, target: Ticket, kind: str) -> Ticket:
    if not (perms.can_link(actor, ticket) and perms.can_link(actor, target)):
        raise PermissionDenied("You may not unlink these tickets.")
    if kind in ("parent", "child"):
        parent, child = (target, ticket) if kind == "parent" else (ticket, target)
        if child.parent_id != parent.pk:
            raise DomainError(ErrorCode.LINK_INVALID, "There is no such link.")
        child.parent = None
        child.save(update_fields=["parent"])
        _record(child, actor, EventKind.UNLINKED, before={"parent": parent.ref})
        _record(parent, actor, EventKind.UNLINKED, before={"child": child.ref})
        return ticket
    deleted, _ = TicketLink.objects.filter(source=ticket, target=target, kind=kind).delete()
    if not deleted:
        raise DomainError(ErrorCode.LINK_INVALID, "There is no such link.")
    _record(ticket, actor, EventKind.UNLINKED, before={"kind": kind, "target": target.ref})
    _record(
        target, actor, EventKind.UNLINKED, before={"kind": f"{kind}:inverse", "source": ticket.ref}
    )
    return ticket


@transaction.atomic
def merge_tickets(*, actor: Actor, source: Ticket, target: Ticket) -> Ticket:
    """Merge the duplicate ``source`` into the survivor ``target``.

    The duplicate's replies, notes, attachments, watchers and children move to the survivor;
    the duplicate ends in the ``merged`` state; both timelines say so.
    """
    if not (perms.can_merge(actor, source) and perms.can_merge(actor, target)):
        raise PermissionDenied("You may not merge these tickets.")
    if source.pk == target.pk:
        raise DomainError(ErrorCode.MERGE_INVALID, "A ticket cannot be merged into itself.")
    if not target.is_live:
        raise DomainError(
            ErrorCode.MERGE_INVALID, "The surviving ticket must be open.", {"target": target.ref}
        )
    lifecycle = lifecycle_for(source.kind)
    if lifecycle.transition("merge", source.status) is None:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "Only an open ticket can be merged.",
            {"status": source.status},
        )
    if _is_ancestor(source, target):
        raise DomainError(ErrorCode.MERGE_INVALID, "A ticket cannot be merged into its own child.")
    if source.desk_id != target.desk_id or source.kind != target.kind:
        # Its people and rules differ: link the tickets instead (duplicate_of, related).
        raise DomainError(
            ErrorCode.MERGE_INVALID,
            "Only tickets of the same desk and kind can be merged; link them instead.",
            {"source": source.ref, "target": target.ref},
        )
    now = timezone.now()
    moved_comments = Comment.objects.filter(ticket=source).update(ticket=target)
    moved_files = Attachment.objects.filter(ticket=source).update(ticket=target)
    Ticket.objects.filter(parent=source).exclude(pk=target.pk).update(parent=target)
    target.watchers.add(*source.watchers.all())
    if source.requester_id != target.requester_id:
        target.watchers.add(source.requester)
    before = source.status
    source.status = lifecycle.transitions["merge"].target
    source.status_category = lifecycle.category(source.status)
    source.merged_into = target
    source.closed_at = now
    source.updated_at = now
    source.save(
        update_fields=["status", "status_category", "merged_into", "closed_at", "updated_at"]
    )
    target.updated_at = now
    target.save(update_fields=["updated_at"])
    _record(
        source,
        actor,
        EventKind.MERGED_INTO,
        before={"status": before},
        after={
            "status": source.status,
            "into": target.ref,
            "comments": moved_comments,
            "attachments": moved_files,
        },
        public=True,
        at=now,
    )
    _record(
        target,
        actor,
        EventKind.MERGED_FROM,
        after={"from": source.ref, "comments": moved_comments, "attachments": moved_files},
        public=True,
        at=now,
    )
    publish(
        ev.TicketStatusChanged(
            **_base(source, actor), action="merge", before=before, after=source.status
        )
    )
    publish(ev.TicketMerged(**_base(source, actor), into_ticket_id=target.pk, into_ref=target.ref))
    return target
