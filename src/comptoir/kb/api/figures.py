"""``/kb/figures``: how the knowledge base is used, for the desks' managers."""

from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Schema
from pydantic import Field

from comptoir.core.api import actor_of
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.desks.selectors import desks_visible_to, resolve_desk
from comptoir.kb import permissions as perms
from comptoir.kb import selectors
from comptoir.kb.api._common import ERRORS, router
from comptoir.kb.schemas import FiguresOut


class FiguresQuery(Schema):
    desk: list[str] = Field(
        default_factory=list,
        description="Desk slug, prefix or id; repeatable; by default all "
        "the desks the caller manages.",
    )
    since: date | None = Field(None, description="First day counted (UTC); 30 days ago by default.")
    until: date | None = Field(None, description="Last day counted (UTC); today by default.")


@router.get("/figures", response={200: FiguresOut, **ERRORS}, summary="Knowledge base figures")
def figures(request: HttpRequest, query: Query[FiguresQuery]):
    """Views, helpful and not helpful answers, suggestions, deflections and linked tickets, per
    article and in total. Managers of the desks."""
    actor = actor_of(request)
    if query.desk:
        desks = [resolve_desk(actor, value) for value in query.desk]
        for desk in desks:
            if not perms.can_see_figures(actor, desk):
                raise PermissionDenied(f"The figures of {desk.slug} are for its managers.")
    else:
        desks = [d for d in desks_visible_to(actor) if perms.can_see_figures(actor, d)]
        if not desks:
            raise PermissionDenied("The figures are for the desks' managers.")
    until = query.until or timezone.now().date()
    since = query.since or until - timedelta(days=29)
    if since > until:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "'since' comes after 'until'.", {"field": "since"}
        )
    counted = selectors.kb_figures([d.pk for d in desks], since, until)

    def row(item) -> dict:
        return {
            "article_id": item.article_id or None,
            "title": item.title,
            "desk_id": item.desk_id or None,
            "status": item.status,
            **{name: getattr(item, name) for name in selectors.COUNTED},
        }

    return {
        "desks": sorted(d.slug for d in desks),
        "since": since,
        "until": until,
        "total": row(counted.total),
        "articles": [row(item) for item in counted.articles],
    }
