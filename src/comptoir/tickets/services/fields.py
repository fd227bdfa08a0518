"""Changing a ticket's fields (never its status)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from comptoir.accounts.models import User
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.events import publish
from comptoir.core.text import render_markdown
from comptoir.desks.priority import Priority, priority_for
from comptoir.tickets import events as ev
from comptoir.tickets import permissions as perms
from comptoir.tickets.lifecycle import StatusCategory
from comptoir.tickets.models import (
    EventKind,
    Ticket,
)
from comptoir.tickets.services._common import (
    MAX_BODY,
    MAX_TITLE,
    _base,
    _clean_level,
    _clean_text,
    _custom_fields,
    _invalid,
    _record,
    _tag_objects,
    clean_tags,
)


@dataclass
class _Changes:
    ticket: Ticket
    actor: Actor
    fields: list[str]

    def event(
        self, kind: str, before: dict[str, Any], after: dict[str, Any], *, public: bool = False
    ) -> None:
        _record(self.ticket, self.actor, kind, before=before, after=after, public=public)


@transaction.atomic
def update_ticket(*, actor: Actor, ticket: Ticket, changes: dict[str, Any]) -> Ticket:
    """Change fields (never the status). ``changes`` holds only the fields sent.

    Accepted keys: title, description, impact, urgency, priority and priority_reason (an
    override), category (a Category or None), tags, custom_fields, watchers (a list of users),
    requester (a User).
    """
    try:
        return _update_ticket(actor, ticket, dict(changes))
    except DomainError:
        # Fields are checked one after the other: a refusal must not leave the caller's object
        # half-changed, or its next save would write what was refused.
        ticket.refresh_from_db()
        raise


def _update_ticket(actor: Actor, ticket: Ticket, changes: dict[str, Any]) -> Ticket:
    reason = changes.pop("priority_reason", None)
    allowed = perms.editable_fields(actor, ticket)
    refused = sorted(set(changes) - allowed)
    if refused:
        if not allowed:
            raise PermissionDenied("You may not change this ticket.")
        raise DomainError(
            ErrorCode.FIELD_NOT_ALLOWED,
            f"You may not change: {', '.join(refused)}.",
            {"fields": refused},
        )
    if ticket.status_category == StatusCategory.CLOSED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "A closed ticket cannot be changed.",
            {"status": ticket.status},
        )

    log = _Changes(ticket, actor, [])
    update_fields: list[str] = []
    for field in ("title", "description"):
        if field in changes:
            value = _clean_text(
                changes[field],
                field,
                required=field == "title",
                limit=MAX_TITLE if field == "title" else MAX_BODY,
            )
            if value != getattr(ticket, field):
                log.event(
                    EventKind.FIELD_CHANGED,
                    {field: getattr(ticket, field)},
                    {field: value},
                    public=True,
                )
                setattr(ticket, field, value)
                update_fields.append(field)
                if field == "description":
                    ticket.description_html = render_markdown(value)
                    update_fields.append("description_html")

    old_priority = ticket.priority
    for field in ("impact", "urgency"):
        if field in changes:
            value = _clean_level(changes[field], field)
            if value != getattr(ticket, field):
                log.event(EventKind.FIELD_CHANGED, {field: getattr(ticket, field)}, {field: value})
                setattr(ticket, field, value)
                update_fields.append(field)
    if "priority" in changes:
        wanted = changes["priority"]
        if wanted is None:  # back to the matrix
            ticket.priority_overridden = False
            ticket.priority_reason = ""
        else:
            if isinstance(wanted, bool) or wanted not in Priority.values:
                raise _invalid("Priority must be 1 to 5.", field="priority")
            if not (reason or "").strip():
                raise DomainError(
                    ErrorCode.PRIORITY_REASON_REQUIRED,
                    "Overriding the priority needs a reason.",
                    {"field": "priority_reason"},
                )
            ticket.priority_overridden = True
            ticket.priority_reason = _clean_text(
                reason, "priority_reason", required=True, limit=500
            )
            ticket.priority = wanted
        update_fields += ["priority_overridden", "priority_reason", "priority"]
    if not ticket.priority_overridden:
        ticket.priority = priority_for(ticket.desk.priority_matrix, ticket.impact, ticket.urgency)
    if ticket.priority != old_priority or "priority" in changes:
        if ticket.priority != old_priority or ticket.priority_overridden:
            log.event(
                EventKind.PRIORITY_CHANGED,
                {"priority": old_priority},
                {
                    "priority": ticket.priority,
                    "overridden": ticket.priority_overridden,
                    "reason": ticket.priority_reason,
                },
            )
        update_fields.append("priority")

    if "category" in changes:
        category = changes["category"]
        if category is not None and category.desk_id != ticket.desk_id:
            raise DomainError(
                ErrorCode.UNKNOWN_CATEGORY,
                "The category belongs to another desk.",
                {"field": "category"},
            )
        new_id = category.pk if category else None
        if new_id != ticket.category_id:
            log.event(
                EventKind.FIELD_CHANGED, {"category": ticket.category_id}, {"category": new_id}
            )
            ticket.category = category
            update_fields.append("category")

    if "custom_fields" in changes:
        cleaned = _custom_fields(
            ticket.desk, ticket.kind, changes["custom_fields"] or {}, partial=True
        )
        merged = {**ticket.custom_fields, **cleaned}
        for key, value in (changes["custom_fields"] or {}).items():
            if value in (None, "") and key in merged:
                del merged[key]
        if merged != ticket.custom_fields:
            log.event(
                EventKind.FIELD_CHANGED,
                {"custom_fields": ticket.custom_fields},
                {"custom_fields": merged},
            )
            ticket.custom_fields = merged
            update_fields.append("custom_fields")

    if "requester" in changes:
        requester = changes["requester"]
        if requester is None or not requester.is_active:
            raise DomainError(
                ErrorCode.UNKNOWN_USER, "No such active person.", {"field": "requester"}
            )
        if requester.pk != ticket.requester_id:
            log.event(
                EventKind.FIELD_CHANGED,
                {"requester": ticket.requester.email},
                {"requester": requester.email},
            )
            ticket.requester = requester
            ticket.organisation_id = requester.organisation_id
            ticket.site_id = requester.site_id
            update_fields += ["requester", "organisation", "site"]

    if "tags" in changes:
        names = clean_tags(changes["tags"] or [])
        current = sorted(ticket.tags.values_list("name", flat=True))
        if sorted(names) != current:
            ticket.tags.set(_tag_objects(names))
            log.event(EventKind.FIELD_CHANGED, {"tags": current}, {"tags": sorted(names)})
            update_fields.append("tags")

    if "watchers" in changes:
        wanted_users = {u.pk: u for u in changes["watchers"] or []}
        current_ids = set(ticket.watchers.values_list("pk", flat=True))
        for user_id in sorted(set(wanted_users) - current_ids):
            ticket.watchers.add(wanted_users[user_id])
            log.event(EventKind.WATCHER_ADDED, {}, {"watcher": wanted_users[user_id].email})
        removed = current_ids - set(wanted_users)
        if removed:
            for email in User.objects.filter(pk__in=removed).values_list("email", flat=True):
                log.event(EventKind.WATCHER_REMOVED, {"watcher": email}, {})
            ticket.watchers.remove(*removed)
        if set(wanted_users) != current_ids:
            update_fields.append("watchers")

    if update_fields:
        ticket.updated_at = timezone.now()
        db_fields = [f for f in dict.fromkeys(update_fields) if f not in {"tags", "watchers"}]
        ticket.save(update_fields=[*db_fields, "updated_at"])
        publish(
            ev.TicketUpdated(**_base(ticket, actor), fields=tuple(dict.fromkeys(update_fields)))
        )
        if ticket.priority != old_priority:
            publish(
                ev.TicketPriorityChanged(
                    **_base(ticket, actor),
                    before=old_priority,
                    after=ticket.priority,
                    overridden=ticket.priority_overridden,
                )
            )
    return ticket
