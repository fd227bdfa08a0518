"""What the ticket services share: limits, input cleaning, the timeline writer, numbering."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.utils import timezone

from comptoir.core import tags
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.desks.custom_fields import clean_custom_fields
from comptoir.desks.models import Desk
from comptoir.desks.priority import LEVELS
from comptoir.tickets.models import (
    Comment,
    Tag,
    Ticket,
    TicketEvent,
    TicketLinkKind,
)

MAX_TITLE = 250
MAX_BODY = 100_000
MAX_TAGS = 30
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
    if field == "title":
        text = " ".join(text.split())  # a title is one line, whatever the door
    if required and not text:
        raise _invalid(f"The {field} cannot be empty.", field=field)
    if len(text) > limit:
        raise _invalid(f"The {field} is too long ({limit} characters at most).", field=field)
    return text


def _clean_level(value: str, field: str) -> str:
    if value not in LEVELS:
        raise _invalid(f"{field.capitalize()} must be one of low, medium, high.", field=field)
    return value


def clean_tags(names: Iterable[str]) -> list[str]:
    return tags.clean_tags(names, most=MAX_TAGS, holder="A ticket")


def _tag_objects(names: list[str]) -> list[Tag]:
    return tags.tag_rows(Tag, names)


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
