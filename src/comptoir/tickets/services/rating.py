"""The requester's satisfaction rating of a resolution."""

from __future__ import annotations

import re
import unicodedata

from django.db import IntegrityError, transaction
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.events import publish
from comptoir.tickets import events as ev
from comptoir.tickets import permissions as perms
from comptoir.tickets.lifecycle import StatusCategory
from comptoir.tickets.models import EventKind, Rating, Ticket
from comptoir.tickets.services._common import _base, _invalid, _record

MAX_RATING_COMMENT = 2000
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_plain_text(value: str | None, *, limit: int) -> str:
    """Text kept as typed but as plain text: no control or format characters, no markup meaning.

    Line breaks and tabs stay; everything else a terminal or a page could act on (NUL, escape
    sequences, bidirectional overrides) is dropped. Pages escape it when they show it.
    """
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )
    text = _BLANK_LINES.sub("\n\n", text).strip()
    if len(text) > limit:
        raise _invalid(f"The comment is too long ({limit} characters at most).", field="comment")
    return text


def can_be_rated(ticket: Ticket) -> bool:
    """Resolved, or closed after a resolution (a cancelled ticket was never solved)."""
    return ticket.resolved_at is not None and ticket.status_category in (
        StatusCategory.RESOLVED,
        StatusCategory.CLOSED,
    )


@transaction.atomic
def rate_ticket(*, actor: Actor, ticket: Ticket, satisfied: bool, comment: str = "") -> Rating:
    """The requester says whether the resolution satisfied them, once per resolution.

    A ticket reopened and resolved again may be rated again; the latest rating counts.
    """
    if not perms.can_rate(actor, ticket):
        raise PermissionDenied("Only the requester rates this ticket.")
    if not can_be_rated(ticket) or ticket.resolved_at is None:
        raise DomainError(
            ErrorCode.NOT_RESOLVED,
            f"{ticket.ref} is not resolved: rate it once it is.",
            {"status": ticket.status},
        )
    text = clean_plain_text(comment, limit=MAX_RATING_COMMENT)
    if Rating.objects.filter(ticket=ticket, resolved_at=ticket.resolved_at).exists():
        raise DomainError(
            ErrorCode.ALREADY_RATED,
            "This resolution is already rated.",
            {"resolved_at": ticket.resolved_at.isoformat()},
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            rating = Rating.objects.create(
                ticket=ticket,
                rater=actor.user,
                satisfied=satisfied,
                comment=text,
                resolved_at=ticket.resolved_at,
                channel=str(actor.channel),
                created_at=now,
            )
    except IntegrityError as exc:  # rated at the same moment through another door
        raise DomainError(ErrorCode.ALREADY_RATED, "This resolution is already rated.") from exc
    after: dict[str, object] = {"satisfied": satisfied, "rating": rating.pk}
    if text:
        after["comment"] = text
    _record(ticket, actor, EventKind.RATED, after=after, public=True, at=now)
    publish(ev.TicketRated(**_base(ticket, actor), satisfied=satisfied))
    return rating
