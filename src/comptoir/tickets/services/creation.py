"""Opening a ticket."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from comptoir.accounts.models import Team, User
from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.events import publish
from comptoir.core.text import render_markdown
from comptoir.desks.models import Category, Desk
from comptoir.desks.priority import priority_for
from comptoir.tickets import events as ev
from comptoir.tickets import permissions as perms
from comptoir.tickets.lifecycle import TicketKind, lifecycle_for
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
    _next_number,
    _record,
    _tag_objects,
    clean_tags,
    format_ref,
)


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
    # Where the team came from: routing rules re-decide only a team nobody chose.
    team_source = "given" if team is not None else None
    if team is None and category is not None and category.default_team_id:
        team, team_source = category.default_team, "category"
    if team is None and desk.default_team_id:
        team, team_source = desk.default_team, "desk"
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
                "team_source": team_source,
                "category": ticket.category_id,
            },
            public=True,
            at=now,
        )
        publish(ev.TicketCreated(**_base(ticket, actor), kind=kind, priority=ticket.priority))
    return ticket
