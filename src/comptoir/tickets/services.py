"""Every change to a ticket (rule 1).

Each function takes the actor first, checks permission, validates, saves, appends the timeline
events and publishes domain events, all in one transaction. The web UI, the API, mail intake,
the CLI and background jobs call these and nothing else.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.db import connection, transaction
from django.utils import timezone

from comptoir.accounts.models import Team, User
from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.events import publish
from comptoir.core.files import safe_display_name, sniff_content_type
from comptoir.core.text import render_markdown
from comptoir.desks.custom_fields import clean_custom_fields
from comptoir.desks.models import Category, Desk
from comptoir.desks.priority import LEVELS, Priority, priority_for
from comptoir.tickets import events as ev
from comptoir.tickets import permissions as perms
from comptoir.tickets.lifecycle import StatusCategory, TicketKind, Transition, lifecycle_for
from comptoir.tickets.models import (
    Attachment,
    Comment,
    EventKind,
    Tag,
    Ticket,
    TicketEvent,
    TicketLink,
    TicketLinkKind,
)

MAX_TITLE = 250
MAX_BODY = 100_000
MAX_TAGS = 30
TAG_RE = re.compile(r"^[\w][\w.\- ]{0,49}$", re.UNICODE)
LINK_KINDS = {"parent", "child", *TicketLinkKind.values}


# --- helpers ---------------------------------------------------------------------------------


def _invalid(message: str, **details: Any) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, details)


def _record(
    ticket: Ticket,
    actor: Actor,
    kind: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    public: bool = False,
    comment: Comment | None = None,
    at=None,
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        before=before or {},
        after=after or {},
        public=public,
        comment=comment,
        created_at=at or timezone.now(),
        **actor.audit_fields(),
    )


def _base(ticket: Ticket, actor: Actor) -> dict[str, Any]:
    return {
        "ticket_id": ticket.pk,
        "ref": ticket.ref,
        "desk_id": ticket.desk_id,
        "actor_label": actor.label,
        "channel": str(actor.channel),
    }


def _clean_text(value: str | None, field: str, *, required: bool, limit: int) -> str:
    text = (value or "").replace("\x00", "").strip()
    if required and not text:
        raise _invalid(f"The {field} cannot be empty.", field=field)
    if len(text) > limit:
        raise _invalid(f"The {field} is too long ({limit} characters at most).", field=field)
    return text


def _clean_level(value: str, field: str) -> str:
    if value not in LEVELS:
        raise _invalid(f"{field.capitalize()} must be one of low, medium, high.", field=field)
    return value


def clean_tags(tags: Iterable[str]) -> list[str]:
    names: list[str] = []
    for raw in tags:
        name = " ".join(str(raw).split()).lower()
        if not TAG_RE.match(name):
            raise _invalid(
                f"Tag {raw!r} is not valid: letters, digits, '.', '-' and spaces, 50 at most.",
                field="tags",
            )
        if name not in names:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise _invalid(f"A ticket has at most {MAX_TAGS} tags.", field="tags")
    return names


def _tag_objects(names: list[str]) -> list[Tag]:
    existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=n) for n in names if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
    return [existing[n] for n in names]


def _custom_fields(
    desk: Desk, kind: str, values: dict[str, Any] | None, *, partial: bool
) -> dict[str, Any]:
    cleaned, errors = clean_custom_fields(
        desk.custom_fields or [], kind, values or {}, partial=partial
    )
    if errors:
        raise DomainError(
            ErrorCode.CUSTOM_FIELD_INVALID, "Some custom fields are not valid.", {"fields": errors}
        )
    return cleaned


def _next_number(desk: Desk) -> int:
    """The desk's next ticket number.

    One UPDATE … RETURNING (SQLite 3.35+, PostgreSQL) takes the desk row's lock until commit,
    so two creations never share a number and a rolled-back one gives its number back.
    """
    table = connection.ops.quote_name(Desk._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_number = last_number + 1 WHERE id = %s RETURNING last_number",  # noqa: S608
            [desk.pk],
        )
        (number,) = cursor.fetchone()
    return int(number)


def format_ref(desk: Desk, number: int) -> str:
    return f"{desk.prefix}-{number:06d}"


# --- creation --------------------------------------------------------------------------------


def create_ticket(
    *,
    actor: Actor,
    desk: Desk,
    kind: str,
    title: str,
    description: str = "",
    impact: str = "medium",
    urgency: str = "medium",
    category: Category | None = None,
    requester: User | None = None,
    tags: Iterable[str] = (),
    custom_fields: dict[str, Any] | None = None,
    team: Team | None = None,
    parent: Ticket | None = None,
) -> Ticket:
    if kind not in TicketKind.values:
        raise _invalid(f"Unknown ticket kind {kind!r}.", field="kind")
    if not desk.is_active:
        raise DomainError(
            ErrorCode.UNKNOWN_DESK, f"The desk {desk.slug} is closed.", {"desk": desk.slug}
        )
    if not perms.can_create_ticket_on(actor, desk):
        raise PermissionDenied("You may not open tickets on this desk.")
    staff = is_staff_on(actor, desk.pk)
    if kind in (TicketKind.PROBLEM, TicketKind.CHANGE, TicketKind.TASK) and not staff:
        raise PermissionDenied(
            "Only the desk's staff open problems, changes and tasks.", {"field": "kind"}
        )
    if requester is None:
        requester = actor.user
        if requester is None:
            raise _invalid("A requester is required.", field="requester")
    elif requester != actor.user and not perms.can_create_for_others(actor, desk):
        raise DomainError(
            ErrorCode.FIELD_NOT_ALLOWED,
            "Only agents open tickets for someone else.",
            {"field": "requester"},
        )
    if not requester.is_active:
        raise DomainError(
            ErrorCode.UNKNOWN_USER, "The requester's account is disabled.", {"field": "requester"}
        )
    if team is not None and (not staff or team.desk_id != desk.pk):
        raise DomainError(ErrorCode.UNKNOWN_TEAM, "No such team on this desk.", {"field": "team"})
    if category is not None and (category.desk_id != desk.pk or not category.is_active):
        raise DomainError(
            ErrorCode.UNKNOWN_CATEGORY,
            "No such active category on this desk.",
            {"field": "category"},
        )
    if parent is not None and not staff:
        raise DomainError(
            ErrorCode.FIELD_NOT_ALLOWED, "Only agents set a parent ticket.", {"field": "parent"}
        )

    title = _clean_text(title, "title", required=True, limit=MAX_TITLE)
    description = _clean_text(description, "description", required=False, limit=MAX_BODY)
    impact = _clean_level(impact, "impact")
    urgency = _clean_level(urgency, "urgency")
    tag_names = clean_tags(tags)
    fields = _custom_fields(desk, kind, custom_fields, partial=False)

    # Everything above only reads and checks. On SQLite the transaction below takes the write
    # lock as it begins, so it holds nothing but the writes: the counter, the rows, the event.
    lifecycle = lifecycle_for(kind)
    description_html = render_markdown(description)
    organisation = requester.organisation
    if team is None and category is not None and category.default_team_id:
        team = category.default_team
    if team is None and desk.default_team_id:
        team = desk.default_team
    with transaction.atomic():
        now = timezone.now()
        number = _next_number(desk)
        ticket = Ticket.objects.create(
            desk=desk,
            number=number,
            ref=format_ref(desk, number),
            kind=kind,
            status=lifecycle.initial,
            status_category=lifecycle.category(lifecycle.initial),
            title=title,
            description=description,
            description_html=description_html,
            requester=requester,
            organisation=organisation,
            site_id=requester.site_id,
            channel=str(actor.channel),
            impact=impact,
            urgency=urgency,
            priority=priority_for(desk.priority_matrix, impact, urgency),
            category=category,
            team=team,
            custom_fields=fields,
            parent=parent,
            created_at=now,
            updated_at=now,
        )
        if tag_names:
            ticket.tags.set(_tag_objects(tag_names))
        _record(
            ticket,
            actor,
            EventKind.CREATED,
            after={
                "status": ticket.status,
                "kind": kind,
                "title": title,
                "priority": ticket.priority,
                "impact": impact,
                "urgency": urgency,
                "requester": requester.email,
                "team": ticket.team_id,
                "category": ticket.category_id,
            },
            public=True,
            at=now,
        )
        publish(ev.TicketCreated(**_base(ticket, actor), kind=kind, priority=ticket.priority))
    return ticket


# --- field updates ---------------------------------------------------------------------------


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


# --- transitions -----------------------------------------------------------------------------


def _open_children(ticket: Ticket) -> list[str]:
    return list(
        ticket.children.filter(
            status_category__in=[StatusCategory.OPEN, StatusCategory.PENDING]
        ).values_list("ref", flat=True)[:20]
    )


@transaction.atomic
def transition_ticket(
    *,
    actor: Actor,
    ticket: Ticket,
    action: str,
    resolution: str | None = None,
    reason: str | None = None,
    comment: str | None = None,
) -> Ticket:
    """Take the lifecycle action ``action`` (resolve, reopen, cancel, approve…)."""
    if action == "merge":
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, "Merge with the merge action, naming the survivor."
        )
    lifecycle = lifecycle_for(ticket.kind)
    transition: Transition | None = lifecycle.transition(action, ticket.status)
    if transition is None:
        allowed = [t.action for t in lifecycle.actions_from(ticket.status) if t.action != "merge"]
        known = action in lifecycle.transitions
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"{ticket.ref} is {ticket.status!r}: this {ticket.get_kind_display().lower()} cannot {action} now."
            if known
            else f"{action!r} is not an action of this {ticket.get_kind_display().lower()}.",
            {"status": ticket.status, "action": action, "allowed": allowed},
        )
    if not perms.can_take_transition(actor, ticket, transition):
        raise PermissionDenied(f"You may not {action} this ticket.")

    resolution_text = _clean_text(
        resolution, "resolution", required="resolution" in transition.needs, limit=MAX_BODY
    )
    reason_text = _clean_text(reason, "reason", required="reason" in transition.needs, limit=2000)
    now = timezone.now()

    if action == "resolve" or transition.target == "resolved":
        children = _open_children(ticket)
        if children:
            raise DomainError(
                ErrorCode.OPEN_CHILDREN,
                "A parent cannot be resolved while a child ticket is open.",
                {"open_children": children},
            )
    if action == "reopen":
        since = ticket.resolved_at or ticket.closed_at
        window = timedelta(days=ticket.desk.reopen_window_days)
        if since is not None and now - since > window and not is_staff_on(actor, ticket.desk_id):
            raise DomainError(
                ErrorCode.REOPEN_WINDOW_EXPIRED,
                f"This ticket was resolved more than {ticket.desk.reopen_window_days} days ago; open a new one.",
                {"resolved_at": since.isoformat()},
            )

    before = ticket.status
    ticket.status = transition.target
    ticket.status_category = lifecycle.category(transition.target)
    fields = ["status", "status_category", "updated_at"]
    if ticket.status_category == StatusCategory.RESOLVED:
        ticket.resolved_at = now
        ticket.resolution = resolution_text
        fields += ["resolved_at", "resolution"]
    elif ticket.status_category == StatusCategory.CLOSED:
        # Closing a resolved ticket keeps its resolution time; cancelling or rejecting one
        # never resolved it, so resolved_at stays empty and metrics do not count it as solved.
        ticket.closed_at = now
        fields.append("closed_at")
    if action == "reopen":
        ticket.closed_at = None
        ticket.resolved_at = None
        fields += ["closed_at", "resolved_at"]
    ticket.updated_at = now
    ticket.save(update_fields=list(dict.fromkeys(fields)))

    after: dict[str, Any] = {"status": ticket.status, "action": action}
    if resolution_text:
        after["resolution"] = resolution_text
    if reason_text:
        after["reason"] = reason_text
    _record(
        ticket,
        actor,
        EventKind.STATUS_CHANGED,
        before={"status": before},
        after=after,
        public=True,
        at=now,
    )
    publish(
        ev.TicketStatusChanged(
            **_base(ticket, actor), action=action, before=before, after=ticket.status
        )
    )
    if comment and comment.strip():
        add_comment(actor=actor, ticket=ticket, body=comment, public=True)
    return ticket


def resolve_ticket(*, actor: Actor, ticket: Ticket, resolution: str) -> Ticket:
    return transition_ticket(actor=actor, ticket=ticket, action="resolve", resolution=resolution)


def reopen_ticket(*, actor: Actor, ticket: Ticket, reason: str = "") -> Ticket:
    return transition_ticket(actor=actor, ticket=ticket, action="reopen", reason=reason)


def close_ticket(*, actor: Actor, ticket: Ticket) -> Ticket:
    return transition_ticket(actor=actor, ticket=ticket, action="close")


def cancel_ticket(*, actor: Actor, ticket: Ticket, reason: str = "") -> Ticket:
    return transition_ticket(actor=actor, ticket=ticket, action="cancel", reason=reason)


# --- assignment ------------------------------------------------------------------------------


@transaction.atomic
def assign_ticket(
    *, actor: Actor, ticket: Ticket, team: Team | None = None, agent: User | None = None
) -> Ticket:
    """Give the ticket to a team, an agent, or both; ``None`` for both unassigns it."""
    if not perms.can_assign(actor, ticket):
        raise PermissionDenied("You may not assign this ticket.")
    if ticket.status_category == StatusCategory.CLOSED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "A closed ticket cannot be assigned.",
            {"status": ticket.status},
        )
    if team is not None and team.desk_id != ticket.desk_id:
        raise DomainError(
            ErrorCode.UNKNOWN_TEAM, "The team belongs to another desk.", {"field": "team"}
        )
    if agent is not None and not is_staff_on(Actor.for_user(agent), ticket.desk_id):
        raise DomainError(
            ErrorCode.UNKNOWN_USER,
            f"{agent.email} is not an agent of this desk.",
            {"field": "agent"},
        )
    if team is None and agent is not None:
        team = (
            ticket.team
            if ticket.team and ticket.team.members.filter(pk=agent.pk).exists()
            else None
        )
    before = {
        "team": ticket.team_id,
        "assignee": ticket.assignee.email if ticket.assignee else None,
    }
    after = {"team": team.pk if team else None, "assignee": agent.email if agent else None}
    if before == after:
        return ticket
    ticket.team = team
    ticket.assignee = agent
    ticket.updated_at = timezone.now()
    ticket.save(update_fields=["team", "assignee", "updated_at"])
    _record(ticket, actor, EventKind.ASSIGNED, before=before, after=after)
    publish(
        ev.TicketAssigned(
            **_base(ticket, actor), team_id=ticket.team_id, assignee_id=ticket.assignee_id
        )
    )
    return ticket


# --- conversation ----------------------------------------------------------------------------


@transaction.atomic
def add_comment(*, actor: Actor, ticket: Ticket, body: str, public: bool = True) -> Comment:
    """A public reply (the requester sees it) or an internal note (staff only)."""
    if not perms.can_comment(actor, ticket, public=public):
        raise PermissionDenied(
            "Only the desk's staff write internal notes." if not public else "You may not reply."
        )
    if ticket.status == "merged":
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"This ticket was merged into {ticket.merged_into.ref if ticket.merged_into else 'another'}; reply there.",
            {"merged_into": ticket.merged_into.ref if ticket.merged_into else None},
        )
    if public and ticket.status_category == StatusCategory.CLOSED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"{ticket.ref} is {ticket.status}: reopen it, or open a new ticket.",
            {"status": ticket.status},
        )
    text = _clean_text(body, "body", required=True, limit=MAX_BODY)
    staff = is_staff_on(actor, ticket.desk_id)
    comment = Comment.objects.create(
        ticket=ticket,
        author=actor.user,
        author_label=actor.label,
        body=text,
        body_html=render_markdown(text),
        public=public,
        channel=str(actor.channel),
    )
    _record(
        ticket,
        actor,
        EventKind.COMMENTED if public else EventKind.NOTE_ADDED,
        after={"comment": comment.pk, "public": public},
        public=public,
        comment=comment,
        at=comment.created_at,
    )
    fields = ["updated_at"]
    ticket.updated_at = comment.created_at
    # A person answered: automatic replies (the system, an integration) are not a first response.
    human = actor.user is not None and actor.user != ticket.requester
    if public and staff and human and ticket.first_response_at is None:
        ticket.first_response_at = comment.created_at
        fields.append("first_response_at")
    ticket.save(update_fields=fields)
    publish(
        ev.TicketCommented(
            **_base(ticket, actor), comment_id=comment.pk, public=public, by_staff=staff
        )
    )

    # The requester's side answered while we waited on them: the ticket goes back to work.
    # (Waiting on a vendor is not ended by a reply from the requester.)
    lifecycle = lifecycle_for(ticket.kind)
    if (
        public
        and not staff
        and ticket.status in lifecycle.waiting_on_requester
        and lifecycle.transition("resume", ticket.status) is not None
    ):
        transition_ticket(
            actor=Actor.system("customer reply", actor.channel), ticket=ticket, action="resume"
        )
    return comment


@dataclass(frozen=True)
class Upload:
    """A file from outside: its bytes, and the name and type the sender claimed."""

    stream: IO[bytes]
    name: str | None
    declared_type: str | None = None
    size: int | None = None


def _hash_and_sniff(stream: IO[bytes], limit: int) -> tuple[str, int, str]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    stream.seek(0)
    while chunk := stream.read(1024 * 1024):
        if len(head) < 8192:
            head += chunk[: 8192 - len(head)]
        size += len(chunk)
        if size > limit:
            raise DomainError(
                ErrorCode.ATTACHMENT_TOO_LARGE,
                f"The file is larger than the limit of {limit // (1024 * 1024)} MB.",
                {"limit_bytes": limit},
            )
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest(), size, sniff_content_type(head)


@transaction.atomic
def add_attachment(
    *,
    actor: Actor,
    ticket: Ticket,
    upload: Upload,
    public: bool = True,
    comment: Comment | None = None,
) -> Attachment:
    if not perms.can_attach(actor, ticket, public=public):
        raise PermissionDenied(
            "Only the desk's staff attach internal files."
            if not public
            else "You may not attach files."
        )
    if ticket.status_category == StatusCategory.CLOSED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "A closed ticket takes no new files.",
            {"status": ticket.status},
        )
    limit = settings.COMPTOIR_MAX_ATTACHMENT_SIZE
    if upload.size is not None and upload.size > limit:
        raise DomainError(
            ErrorCode.ATTACHMENT_TOO_LARGE,
            f"The file is larger than the limit of {limit // (1024 * 1024)} MB.",
            {"limit_bytes": limit},
        )
    sha, size, sniffed = _hash_and_sniff(upload.stream, limit)
    if size == 0:
        raise DomainError(
            ErrorCode.ATTACHMENT_EMPTY,
            "The file is empty.",
            {"filename": safe_display_name(upload.name)},
        )
    attachment = Attachment(
        ticket=ticket,
        comment=comment,
        uploaded_by=actor.user,
        storage_key=uuid.uuid4().hex,
        filename=safe_display_name(upload.name),
        content_type=sniffed,
        declared_content_type=(upload.declared_type or "")[:150],
        size=size,
        sha256=sha,
        public=public,
    )
    attachment.file.save(attachment.storage_key, File(upload.stream), save=False)
    try:
        attachment.save()
        _record(
            ticket,
            actor,
            EventKind.ATTACHMENT_ADDED,
            after={
                "attachment": attachment.pk,
                "filename": attachment.filename,
                "size": size,
                "content_type": sniffed,
            },
            public=public,
            comment=comment,
        )
        ticket.updated_at = timezone.now()
        ticket.save(update_fields=["updated_at"])
    except Exception:
        # The bytes reached storage before the row: take them back so nothing is left behind.
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


# --- links and merge -------------------------------------------------------------------------


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


# --- maintenance -------------------------------------------------------------------------------


def prune_orphan_files(*, older_than: timedelta = timedelta(hours=1)) -> list[str]:
    """Remove stored attachment files that no row points to.

    A file reaches storage before its row commits; when the transaction around it rolls back
    (a later file of the same upload refused, a crash), the bytes stay behind. They are never
    served, and this sweep (``comptoir cleanup``) removes them once they are old enough that no
    transaction can still be writing their row.
    """
    from django.core.files.storage import default_storage

    cutoff = timezone.now() - older_than
    removed: list[str] = []
    try:
        buckets, _ = default_storage.listdir("attachments")
    except FileNotFoundError:
        return removed
    for bucket in buckets:
        _, names = default_storage.listdir(f"attachments/{bucket}")
        known = set(
            Attachment.objects.filter(storage_key__in=names).values_list("storage_key", flat=True)
        )
        for name in names:
            path = f"attachments/{bucket}/{name}"
            if name in known or default_storage.get_modified_time(path) > cutoff:
                continue
            default_storage.delete(path)
            removed.append(path)
    return removed
