"""The shapes of the tickets API, and the functions that fill them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

from comptoir.core.actor import Actor
from comptoir.core.api import user_ref
from comptoir.tickets import permissions as perms
from comptoir.tickets import selectors
from comptoir.tickets.lifecycle import TRANSITION_ACTIONS, TicketKind, lifecycle_for
from comptoir.tickets.models import Attachment, Comment, Rating, Ticket, TicketEvent

Kind = StrEnum("Kind", {k: k for k in TicketKind.values})  # type: ignore[misc]
Action = StrEnum("Action", {a: a for a in TRANSITION_ACTIONS})  # type: ignore[misc]


class LevelIn(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Sort(StrEnum):
    created = "created"
    newest = "-created"
    updated = "updated"
    recently_updated = "-updated"
    priority = "priority"
    least_urgent = "-priority"
    due = "due"


class IntakeChannel(StrEnum):
    """How the request reached the desk, when an agent records it for someone else."""

    api = "api"
    phone = "phone"
    email = "email"
    web = "web"
    portal = "portal"
    monitoring = "monitoring"


class LinkKindIn(StrEnum):
    parent = "parent"
    child = "child"
    duplicate_of = "duplicate_of"
    caused_by = "caused_by"
    related = "related"


# Answers are plain pydantic models: the builders below already hand over dictionaries, and
# ninja's Schema would wrap every nested object in an attribute getter (8× slower on a page).


class PersonRef(BaseModel):
    id: int
    email: str
    name: str


class Ref(BaseModel):
    id: int
    slug: str
    name: str


class CategoryRef(BaseModel):
    id: int
    slug: str
    path: str


class TicketIn(Schema):
    desk: str = Field(description="Desk slug, prefix or id.")
    kind: Kind = Field("incident")  # type: ignore[assignment]
    title: str = Field(max_length=250)
    description: str = Field("", max_length=100_000)
    impact: LevelIn = LevelIn.medium
    urgency: LevelIn = LevelIn.medium
    category: str | None = Field(None, description="Category slug or id on that desk.")
    requester: str | None = Field(None, description="Email or id; agents only.")
    team: str | None = Field(None, description="Team slug or id; agents only.")
    parent: str | None = Field(None, description="Reference of the parent ticket; agents only.")
    tags: list[str] = Field(default_factory=list, max_length=30)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    channel: IntakeChannel | None = Field(
        None, description="How the request came in (a phone call an agent logs); agents only."
    )


class TicketPatch(Schema):
    # The status moves only through the action endpoints: an unknown key (``status``) is refused.
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=250)
    description: str | None = Field(None, max_length=100_000)
    impact: LevelIn | None = None
    urgency: LevelIn | None = None
    priority: int | None = Field(
        None, ge=1, le=5, description="An override; send null to return to the matrix."
    )
    priority_reason: str | None = Field(None, max_length=500)
    category: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    watchers: list[str] | None = Field(
        None, description="Emails of the people who follow the ticket."
    )
    requester: str | None = None


class ActionIn(Schema):
    resolution: str | None = Field(None, max_length=100_000)
    reason: str | None = Field(None, max_length=2000)
    comment: str | None = Field(
        None, max_length=100_000, description="A public reply posted with the action."
    )


class AssignIn(Schema):
    team: str | None = Field(None, description="Team slug or id, or null.")
    agent: str | None = Field(None, description="Agent email or id, 'me', or null.")


class LinkIn(Schema):
    target: str = Field(description="Reference of the other ticket.")
    kind: LinkKindIn


class MergeIn(Schema):
    into: str = Field(description="Reference of the ticket that survives.")


class CommentIn(Schema):
    body: str = Field(min_length=1, max_length=100_000)
    public: bool = True


class RatingIn(Schema):
    satisfied: bool = Field(description="true: the resolution satisfied the requester.")
    comment: str = Field("", max_length=2000, description="Optional, plain text.")


class RatingOut(BaseModel):
    satisfied: bool
    comment: str
    rated_by: PersonRef | None
    resolved_at: datetime = Field(description="The resolution this rating is about.")
    created_at: datetime


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    public: bool
    comment_id: int | None
    created_at: datetime
    download_url: str


class CommentOut(BaseModel):
    id: int
    author: PersonRef | None
    author_label: str
    body: str
    body_html: str
    public: bool
    channel: str
    created_at: datetime
    attachments: list[AttachmentOut]


class LinkOut(BaseModel):
    kind: str
    ref: str
    title: str
    status: str


class TicketOut(BaseModel):
    id: int
    ref: str
    desk: str
    kind: str
    status: str
    status_category: str
    title: str
    description: str
    description_html: str
    requester: PersonRef
    organisation: Ref | None
    channel: str
    impact: str
    urgency: str
    priority: int
    priority_overridden: bool
    priority_reason: str
    category: CategoryRef | None
    team: Ref | None
    assignee: PersonRef | None
    tags: list[str]
    custom_fields: dict[str, Any]
    parent: str | None
    merged_into: str | None
    resolution: str
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_due_at: datetime | None
    sla_breached: bool
    allowed_actions: list[str]


class TicketDetailOut(TicketOut):
    watchers: list[PersonRef]
    children: list[LinkOut]
    links: list[LinkOut]
    rating: RatingOut | None = Field(
        None, description="The requester's latest satisfaction rating, the one that counts."
    )


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None
    limit: int


class EventActor(BaseModel):
    label: str
    user: PersonRef | None


class EventOut(BaseModel):
    id: int
    kind: str
    actor: EventActor
    channel: str
    before: dict[str, Any]
    after: dict[str, Any]
    public: bool
    comment_id: int | None
    created_at: datetime


# --- output builders -------------------------------------------------------------------------


def allowed_actions(actor: Actor, ticket: Ticket) -> list[str]:
    lifecycle = lifecycle_for(ticket.kind)
    return [
        t.action
        for t in lifecycle.actions_from(ticket.status)
        if perms.can_take_transition(actor, ticket, t)
    ]


def ticket_out(actor: Actor, ticket: Ticket, *, tags: list[str] | None = None) -> dict[str, Any]:
    org = ticket.organisation
    team = ticket.team
    category = ticket.category
    internal = perms.can_view_internal(actor, ticket)
    return {
        "id": ticket.pk,
        "ref": ticket.ref,
        "desk": ticket.desk.slug,
        "kind": ticket.kind,
        "status": ticket.status,
        "status_category": ticket.status_category,
        "title": ticket.title,
        "description": ticket.description,
        "description_html": ticket.description_html,
        "requester": user_ref(ticket.requester),
        "organisation": {"id": org.pk, "slug": org.slug, "name": org.name} if org else None,
        "channel": ticket.channel,
        "impact": ticket.impact,
        "urgency": ticket.urgency,
        "priority": ticket.priority,
        "priority_overridden": ticket.priority_overridden,
        "priority_reason": ticket.priority_reason if internal else "",
        "category": {"id": category.pk, "slug": category.slug, "path": category.path}
        if category
        else None,
        "team": {"id": team.pk, "slug": team.slug, "name": team.name} if team else None,
        "assignee": user_ref(ticket.assignee),
        "tags": tags if tags is not None else [t.name for t in ticket.tags.all()],
        "custom_fields": ticket.custom_fields,
        # The parent (a problem, a change) is the desk's business; the requester sees their ticket.
        "parent": ticket.parent.ref if internal and ticket.parent_id and ticket.parent else None,
        "merged_into": ticket.merged_into.ref
        if ticket.merged_into_id and ticket.merged_into
        else None,
        "resolution": ticket.resolution,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "first_response_at": ticket.first_response_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "sla_due_at": ticket.sla_due_at,
        "sla_breached": ticket.sla_breached,
        "allowed_actions": allowed_actions(actor, ticket),
    }


def new_ticket_out(actor: Actor, ticket: Ticket, tags: list[str]) -> dict[str, Any]:
    """The answer to a creation: a new ticket has no watcher, child nor link to look up."""
    data = ticket_out(actor, ticket, tags=tags)
    data.update(watchers=[], children=[], links=[], rating=None)
    return data


def ticket_detail_out(actor: Actor, ticket: Ticket) -> dict[str, Any]:
    data = ticket_out(actor, ticket)
    internal = perms.can_view_internal(actor, ticket)
    data["watchers"] = [user_ref(u) for u in ticket.watchers.all()] if internal else []
    # Only the children the caller may see: a child can belong to another organisation.
    children = selectors.tickets_visible_to(actor).filter(parent=ticket)
    data["children"] = [
        {"kind": "child", "ref": c.ref, "title": c.title, "status": c.status}
        for c in children.only("ref", "title", "status").order_by("id")
    ]
    links: list[dict[str, Any]] = []
    if internal:
        # Only links to tickets the caller may see: a link can cross to another desk.
        visible = selectors.tickets_visible_to(actor).values("pk")
        for link in ticket.links_out.filter(target__in=visible).select_related("target"):
            links.append(
                {
                    "kind": link.kind,
                    "ref": link.target.ref,
                    "title": link.target.title,
                    "status": link.target.status,
                }
            )
        for link in ticket.links_in.filter(source__in=visible).select_related("source"):
            links.append(
                {
                    "kind": f"{link.kind}:inverse",
                    "ref": link.source.ref,
                    "title": link.source.title,
                    "status": link.source.status,
                }
            )
    data["links"] = links
    rating = selectors.rating_of(ticket)
    data["rating"] = rating_out(rating) if rating is not None else None
    return data


def rating_out(rating: Rating) -> dict[str, Any]:
    return {
        "satisfied": rating.satisfied,
        "comment": rating.comment,
        "rated_by": user_ref(rating.rater),
        "resolved_at": rating.resolved_at,
        "created_at": rating.created_at,
    }


def comment_out(comment: Comment, ref: str, *, show_internal_files: bool) -> dict[str, Any]:
    return {
        "id": comment.pk,
        "author": user_ref(comment.author),
        "author_label": comment.author_label,
        "body": comment.body,
        "body_html": comment.body_html,
        "public": comment.public,
        "channel": comment.channel,
        "created_at": comment.created_at,
        "attachments": [
            attachment_ref_out(a, ref)
            for a in comment.attachments.all()
            if a.public or show_internal_files
        ],
    }


def attachment_ref_out(attachment: Attachment, ref: str) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "public": attachment.public,
        "comment_id": attachment.comment_id,
        "created_at": attachment.created_at,
        "download_url": f"/api/v1/tickets/{ref}/attachments/{attachment.pk}/download",
    }


def event_out(event: TicketEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "kind": event.kind,
        "actor": {"label": event.actor_label, "user": user_ref(event.actor_user)},
        "channel": event.channel,
        "before": event.before,
        "after": event.after,
        "public": event.public,
        "comment_id": event.comment_id,
        "created_at": event.created_at,
    }
