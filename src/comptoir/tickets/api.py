"""``/api/v1/tickets``: each endpoint is input schema → selector or service → output schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from huey.contrib.djhuey import HUEY
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from comptoir.accounts.models import User
from comptoir.accounts.permissions import is_staff_on
from comptoir.accounts.selectors import resolve_organisation, resolve_person
from comptoir.core.actor import Actor, Channel
from comptoir.core.api import ErrorOut, actor_of
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.core.files import download_response
from comptoir.core.pagination import SortKey, page
from comptoir.desks.models import Desk
from comptoir.desks.selectors import resolve_category, resolve_desk, resolve_team, team_ids_named
from comptoir.tickets import selectors, services
from comptoir.tickets.lifecycle import ALL_STATES, StatusCategory
from comptoir.tickets.models import Ticket
from comptoir.tickets.schemas import (
    Action,
    ActionIn,
    AssignIn,
    AttachmentOut,
    CommentIn,
    CommentOut,
    EventOut,
    Kind,
    LinkIn,
    MergeIn,
    RatingIn,
    RatingOut,
    Sort,
    TicketDetailOut,
    TicketIn,
    TicketPage,
    TicketPatch,
    attachment_ref_out,
    comment_out,
    event_out,
    new_ticket_out,
    rating_out,
    ticket_detail_out,
    ticket_out,
)

router = Router(tags=["tickets"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
}


def _person(value: str | None, field: str) -> User:
    person = resolve_person(value) if value else None
    if person is None:
        raise DomainError(ErrorCode.UNKNOWN_USER, f"No active person {value!r}.", {"field": field})
    return person


def _id_or_nothing(found) -> int:
    return found.pk if found is not None else 0


def _ticket_by_ref(actor: Actor, ref: str, field: str) -> Ticket:
    try:
        return selectors.get_ticket_for(actor, ref)
    except DomainError as exc:
        raise DomainError(
            ErrorCode.UNKNOWN_TICKET, f"No ticket {ref!r}.", {"field": field}
        ) from exc


def _detail(actor: Actor, ref: str) -> dict:
    return ticket_detail_out(actor, selectors.get_ticket_for(actor, ref))


# --- create and list -------------------------------------------------------------------------


@router.post("", response={201: TicketDetailOut, **ERRORS}, summary="Open a ticket")
def create_ticket(request: HttpRequest, payload: TicketIn):
    actor = actor_of(request)
    desk = resolve_desk(actor, payload.desk)
    staff = is_staff_on(actor, desk.pk)
    for field in ("requester", "team", "parent", "channel"):
        if getattr(payload, field) and not staff:
            raise DomainError(
                ErrorCode.FIELD_NOT_ALLOWED, f"Only agents set {field}.", {"field": field}
            )
    if payload.channel is not None:
        actor = actor.via(Channel(payload.channel.value))
    ticket = services.create_ticket(
        actor=actor,
        desk=desk,
        kind=str(payload.kind),
        title=payload.title,
        description=payload.description,
        impact=payload.impact.value,
        urgency=payload.urgency.value,
        category=resolve_category(desk, payload.category) if payload.category else None,
        requester=_person(payload.requester, "requester") if payload.requester else None,
        team=resolve_team(desk, payload.team) if payload.team else None,
        parent=_ticket_by_ref(actor, payload.parent, "parent") if payload.parent else None,
        tags=payload.tags,
        custom_fields=payload.custom_fields,
    )
    if HUEY.immediate:
        _catch_up(ticket)  # the queued routing and clocks ran already; otherwise they follow
    return Status(201, new_ticket_out(actor, ticket, sorted(services.clean_tags(payload.tags))))


def _catch_up(ticket: Ticket) -> None:
    """What the creation's subscribers did once it committed (routing, SLA clocks), in one read."""
    now = Ticket.objects.filter(pk=ticket.pk).values(
        "team_id", "assignee_id", "sla_due_at", "sla_breached"
    )[:1]
    for row in now:
        if (row["team_id"], row["assignee_id"]) != (ticket.team_id, ticket.assignee_id):
            ticket.refresh_from_db(fields=["team", "assignee"])
        ticket.sla_due_at, ticket.sla_breached = row["sla_due_at"], row["sla_breached"]


def _utc(value: datetime | None) -> datetime | None:
    """A time from the query string; one sent without an offset is read as UTC (rule 7)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class TicketListFilters(Schema):
    """The filters of a ticket list; the search takes them too."""

    desk: list[str] = Field(
        default_factory=list, description="Desk slug, prefix or id; repeatable."
    )
    kind: list[Kind] = Field(default_factory=list)
    status: list[str] = Field(default_factory=list, description="A lifecycle state; repeatable.")
    status_category: list[StatusCategory] = Field(
        default_factory=list, description="open, pending, resolved, closed."
    )
    priority: list[int] = Field(
        default_factory=list, description="1 (critical) to 5 (planning); repeatable."
    )
    assignee: str | None = Field(None, description="Email or id, 'me', or 'none' for unassigned.")
    team: str | None = Field(None, description="Team slug or id (with one desk) or id.")
    requester: str | None = Field(None, description="Email or id.")
    organisation: str | None = Field(None, description="Organisation slug or id.")
    tag: str | None = None
    created_after: datetime | None = Field(
        None, description="ISO 8601 date or time; without an offset, UTC."
    )
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    breached: bool | None = Field(
        None, description="true: tickets that missed an SLA target; false: the others."
    )
    due_before: datetime | None = Field(
        None, description="Only tickets whose next SLA target falls due before this time."
    )


class TicketFilters(TicketListFilters):
    sort: Sort = Field(Sort.newest, description="'due' lists running SLA clocks, soonest first.")
    cursor: str | None = None
    limit: int = Field(50, ge=1, description="Page size; a value above 200 is capped to 200.")


def list_filters(actor: Actor, filters: TicketListFilters) -> tuple[list[int] | None, dict]:
    """The desks and the ``filter_tickets`` arguments that list filters ask for."""
    desks: list[Desk] = [resolve_desk(actor, d) for d in filters.desk]
    unknown_states = sorted(set(filters.status) - set(ALL_STATES))
    if unknown_states:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"Unknown status: {', '.join(unknown_states)}.",
            {"field": "status"},
        )
    query: dict = {
        "kind": [str(k) for k in filters.kind],
        "status": filters.status,
        "status_category": [str(c) for c in filters.status_category],
        "priority": filters.priority,
        "created_after": _utc(filters.created_after),
        "created_before": _utc(filters.created_before),
        "updated_after": _utc(filters.updated_after),
        "updated_before": _utc(filters.updated_before),
        "tag": filters.tag,
        "breached": filters.breached,
        "due_before": _utc(filters.due_before),
    }
    # A name that matches nothing filters to nothing (id 0), rather than being ignored.
    if filters.assignee == "none":
        query["assignee_id"] = None
    elif filters.assignee == "me":
        query["assignee_id"] = actor.user.pk if actor.user else 0
    elif filters.assignee:
        query["assignee_id"] = _id_or_nothing(resolve_person(filters.assignee))
    if filters.requester:
        query["requester_id"] = _id_or_nothing(resolve_person(filters.requester))
    if filters.team and len(desks) == 1:
        query["team_id"] = resolve_team(desks[0], filters.team).pk
    elif filters.team:
        query["team_id"] = team_ids_named(filters.team) or [0]
    if filters.organisation:
        query["organisation_id"] = _id_or_nothing(resolve_organisation(filters.organisation))
    return [d.pk for d in desks] or None, query


@router.get("", response={200: TicketPage, **ERRORS}, summary="List tickets")
def list_tickets(request: HttpRequest, filters: Query[TicketFilters]):
    actor = actor_of(request)
    desk_ids, query = list_filters(actor, filters)
    query["sort"] = filters.sort.value
    tickets = selectors.filter_tickets(actor, desk_ids=desk_ids, **query)
    field, descending, is_dt = selectors.SORT_KEYS[filters.sort.value]
    limit = min(filters.limit, settings.COMPTOIR_API_PAGE_SIZE_MAX)
    rows, next_cursor = page(
        selectors.with_list_relations(tickets),
        sort=filters.sort.value,
        key=SortKey(field, descending, is_dt),
        cursor=filters.cursor,
        limit=limit,
    )
    tags = selectors.tag_names_of([t.pk for t in rows])
    return {
        "items": [ticket_out(actor, t, tags=tags[t.pk]) for t in rows],
        "next_cursor": next_cursor,
        "limit": limit,
    }


# --- one ticket ------------------------------------------------------------------------------


@router.get("/{ref}", response={200: TicketDetailOut, **ERRORS}, summary="One ticket")
def get_ticket(request: HttpRequest, ref: str):
    return _detail(actor_of(request), ref)


@router.patch(
    "/{ref}", response={200: TicketDetailOut, **ERRORS}, summary="Change fields (never the status)"
)
def update_ticket(request: HttpRequest, ref: str, payload: TicketPatch):
    actor = actor_of(request)
    with transaction.atomic():
        ticket = selectors.get_ticket_for(actor, ref, for_update=True)
        sent = payload.model_dump(exclude_unset=True)
        changes: dict = {}
        for key, value in sent.items():
            if key == "category":
                changes[key] = resolve_category(ticket.desk, value) if value else None
            elif key == "watchers":
                changes[key] = [_person(v, "watchers") for v in value or []]
            elif key == "requester":
                changes[key] = _person(value, "requester")
            elif key in ("impact", "urgency") and value is not None:
                changes[key] = str(value.value if hasattr(value, "value") else value)
            elif (
                key in ("title", "description", "impact", "urgency", "tags", "custom_fields")
                and value is None
            ):
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR, f"{key} cannot be null.", {"field": key}
                )
            else:
                changes[key] = value
        services.update_ticket(actor=actor, ticket=ticket, changes=changes)
    return _detail(actor, ref)


M = TypeVar("M", bound=models.Model)


class Since(Schema):
    after: int | None = Field(
        None,
        ge=0,
        description="Only those recorded after this one (its `id`): what came since a client "
        "last looked. With `after` or `limit`, they come in the order they were recorded (by "
        "`id`).",
    )
    limit: int | None = Field(
        None,
        ge=1,
        description="At most this many, the oldest first; a value above 200 is capped to 200. "
        "Without it, all of them. Page through a long ticket with `after` set to the last `id` "
        "received.",
    )


def _since(rows: QuerySet[M], since: Since) -> QuerySet[M] | list[M]:
    """A ticket's events, messages or files after ``since.after``, at most ``since.limit``. Pages
    follow the ids, which only grow: two pages never share or skip a row."""
    if since.after is None and since.limit is None:
        return rows
    rows = rows.filter(pk__gt=since.after or 0).order_by("id")
    if since.limit is None:
        return rows
    return list(rows[: min(since.limit, settings.COMPTOIR_API_PAGE_SIZE_MAX)])


@router.get(
    "/{ref}/events", response={200: list[EventOut], **ERRORS}, summary="The ticket's timeline"
)
def list_events(request: HttpRequest, ref: str, since: Query[Since]):
    actor = actor_of(request)
    ticket = selectors.get_ticket_for(actor, ref)
    return [event_out(e) for e in _since(selectors.events_visible_to(actor, ticket), since)]


@router.get(
    "/{ref}/comments", response={200: list[CommentOut], **ERRORS}, summary="Replies and notes"
)
def list_comments(request: HttpRequest, ref: str, since: Query[Since]):
    actor = actor_of(request)
    ticket = selectors.get_ticket_for(actor, ref)
    staff = is_staff_on(actor, ticket.desk_id)
    return [
        comment_out(c, ticket.ref, show_internal_files=staff)
        for c in _since(selectors.comments_visible_to(actor, ticket), since)
    ]


@router.post(
    "/{ref}/comments",
    response={201: CommentOut, **ERRORS},
    summary="Reply, or add an internal note",
)
def add_comment(request: HttpRequest, ref: str, payload: CommentIn):
    actor = actor_of(request)
    with transaction.atomic():
        ticket = selectors.get_ticket_for(actor, ref, for_update=True)
        comment = services.add_comment(
            actor=actor, ticket=ticket, body=payload.body, public=payload.public
        )
    return Status(201, comment_out(comment, ticket.ref, show_internal_files=True))


@router.get(
    "/{ref}/attachments",
    response={200: list[AttachmentOut], **ERRORS},
    summary="Files of the ticket",
)
def list_attachments(request: HttpRequest, ref: str, since: Query[Since]):
    actor = actor_of(request)
    ticket = selectors.get_ticket_for(actor, ref)
    return [
        attachment_ref_out(a, ticket.ref)
        for a in _since(selectors.attachments_visible_to(actor, ticket), since)
    ]


def uploads_of(files: list[UploadedFile]) -> list[services.Upload]:
    """The parts of a multipart ``file`` field as uploads, refused when there are none or one
    has no content (the attachment endpoints of tickets and articles)."""
    if not files:
        raise DomainError(
            ErrorCode.ATTACHMENT_MISSING, "Send at least one file in the 'file' field."
        )
    if any(f.file is None for f in files):
        raise DomainError(ErrorCode.ATTACHMENT_MISSING, "A file part has no content.")
    return [
        services.Upload(stream=f.file, name=f.name, declared_type=f.content_type, size=f.size)
        for f in files
        if f.file is not None
    ]


@router.post(
    "/{ref}/attachments", response={201: list[AttachmentOut], **ERRORS}, summary="Attach files"
)
def add_attachments(
    request: HttpRequest,
    ref: str,
    file: File[list[UploadedFile]],
    public: Form[bool] = True,
):
    actor = actor_of(request)
    uploads = uploads_of(file)
    with transaction.atomic():
        ticket = selectors.get_ticket_for(actor, ref, for_update=True)
        created = services.add_attachments(
            actor=actor, ticket=ticket, uploads=uploads, public=public
        )
    return Status(201, [attachment_ref_out(a, ticket.ref) for a in created])


@router.get(
    "/{ref}/attachments/{attachment_id}/download",
    response={200: None, **ERRORS},
    summary="Download a file (always as an attachment)",
)
def download_attachment(request: HttpRequest, ref: str, attachment_id: int):
    actor = actor_of(request)
    ticket = selectors.get_ticket_for(actor, ref)
    attachment = selectors.get_attachment_for(actor, ticket, attachment_id)
    return download_response(
        attachment.file.open("rb"),
        filename=attachment.filename,
        content_type=attachment.content_type,
    )


# --- actions ---------------------------------------------------------------------------------


@router.post(
    "/{ref}/assign",
    response={200: TicketDetailOut, **ERRORS},
    summary="Assign to a team and/or an agent",
)
def assign(request: HttpRequest, ref: str, payload: AssignIn):
    actor = actor_of(request)
    with transaction.atomic():
        ticket = selectors.get_ticket_for(actor, ref, for_update=True)
        team = resolve_team(ticket.desk, payload.team) if payload.team else None
        agent = None
        if payload.agent == "me":
            agent = actor.user
        elif payload.agent:
            agent = _person(payload.agent, "agent")
        services.assign_ticket(actor=actor, ticket=ticket, team=team, agent=agent)
    return _detail(actor, ref)


@router.post(
    "/{ref}/link", response={200: TicketDetailOut, **ERRORS}, summary="Link to another ticket"
)
def link(request: HttpRequest, ref: str, payload: LinkIn):
    actor = actor_of(request)
    with transaction.atomic():
        ticket = selectors.get_ticket_for(actor, ref, for_update=True)
        target = _ticket_by_ref(actor, payload.target, "target")
        services.link_tickets(actor=actor, ticket=ticket, target=target, kind=payload.kind.value)
    return _detail(actor, ref)


@router.post("/{ref}/unlink", response={200: TicketDetailOut, **ERRORS}, summary="Remove a link")
def unlink(request: HttpRequest, ref: str, payload: LinkIn):
    actor = actor_of(request)
    with transaction.atomic():
        ticket = selectors.get_ticket_for(actor, ref, for_update=True)
        target = _ticket_by_ref(actor, payload.target, "target")
        services.unlink_tickets(actor=actor, ticket=ticket, target=target, kind=payload.kind.value)
    return _detail(actor, ref)


@router.post(
    "/{ref}/merge", response={200: TicketDetailOut, **ERRORS}, summary="Merge into another ticket"
)
def merge(request: HttpRequest, ref: str, payload: MergeIn):
    actor = actor_of(request)
    with transaction.atomic():
        source = selectors.get_ticket_for(actor, ref, for_update=True)
        target = _ticket_by_ref(actor, payload.into, "into")
        survivor = services.merge_tickets(actor=actor, source=source, target=target)
    return _detail(actor, survivor.ref)


@router.post(
    "/{ref}/rating",
    response={201: RatingOut, **ERRORS},
    summary="Rate the resolution (the requester, once per resolution)",
)
def rate(request: HttpRequest, ref: str, payload: RatingIn):
    actor = actor_of(request)
    with transaction.atomic():
        ticket = selectors.get_ticket_for(actor, ref, for_update=True)
        rating = services.rate_ticket(
            actor=actor, ticket=ticket, satisfied=payload.satisfied, comment=payload.comment
        )
    return Status(201, rating_out(rating))


@router.post(
    "/{ref}/{action}",
    response={200: TicketDetailOut, **ERRORS},
    summary="Take a lifecycle action (resolve, reopen, cancel, approve…)",
)
def take_action(request: HttpRequest, ref: str, action: Action, payload: ActionIn | None = None):
    actor = actor_of(request)
    payload = payload or ActionIn(resolution=None, reason=None, comment=None)
    with transaction.atomic():
        ticket = selectors.get_ticket_for(actor, ref, for_update=True)
        services.transition_ticket(
            actor=actor,
            ticket=ticket,
            action=str(action),
            resolution=payload.resolution,
            reason=payload.reason,
            comment=payload.comment,
        )
    return _detail(actor, ref)
