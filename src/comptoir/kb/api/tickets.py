"""Articles and tickets: the links between them, and an article's text to insert in a reply."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Schema, Status
from pydantic import Field

from comptoir.core.api import actor_of, user_ref
from comptoir.core.errors import PermissionDenied
from comptoir.kb import permissions as perms
from comptoir.kb import selectors, services
from comptoir.kb.api._common import ERRORS, LanguageQuery, language_or_none, page_out, router
from comptoir.kb.models import TicketArticle
from comptoir.kb.schemas import ArticlePage, InsertMode, InsertOut, TicketLinkOut
from comptoir.tickets.selectors import get_ticket_for, tickets_visible_to


def _link_out(link: TicketArticle) -> dict:
    return {
        "ref": link.ticket.ref,
        "title": link.ticket.title,
        "status": link.ticket.status,
        "linked_by": user_ref(link.linked_by),
        "created_at": link.created_at,
    }


@router.get(
    "/articles/{article_id}/tickets",
    response={200: list[TicketLinkOut], **ERRORS},
    summary="Tickets linked to the article (staff)",
)
def list_ticket_links(request: HttpRequest, article_id: int):
    actor = actor_of(request)
    article = selectors.get_article_for(actor, article_id)
    if not perms.can_see_history(actor, article):
        raise PermissionDenied("The tickets of an article are for the desk's staff.")
    visible = set(
        tickets_visible_to(actor)
        .filter(pk__in=article.ticket_links.values("ticket_id"))
        .values_list("pk", flat=True)
    )
    return [
        _link_out(link)
        for link in selectors.tickets_of_article(article)
        if link.ticket_id in visible
    ]


@router.post(
    "/articles/{article_id}/tickets/{ref}",
    response={200: TicketLinkOut, 201: TicketLinkOut, **ERRORS},
    summary="Link the article to a ticket",
)
def link_ticket(request: HttpRequest, article_id: int, ref: str):
    """Staff of the ticket's desk, for an article they may read. Linking again changes nothing
    (200)."""
    actor = actor_of(request)
    with transaction.atomic():
        ticket = get_ticket_for(actor, ref)
        article = selectors.get_article_for(actor, article_id)
        link, created = services.link_article(actor=actor, article=article, ticket=ticket)
    link.ticket = ticket
    return Status(201 if created else 200, _link_out(link))


@router.delete(
    "/articles/{article_id}/tickets/{ref}",
    response={204: None, **ERRORS},
    summary="Remove the link between the article and a ticket",
)
def unlink_ticket(request: HttpRequest, article_id: int, ref: str):
    actor = actor_of(request)
    with transaction.atomic():
        ticket = get_ticket_for(actor, ref)
        article = selectors.get_article_for(actor, article_id)
        services.unlink_article(actor=actor, article=article, ticket=ticket)
    return Status(204, None)


@router.get(
    "/tickets/{ref}/articles",
    response={200: ArticlePage, **ERRORS},
    summary="Articles linked to a ticket",
)
def articles_of_ticket(request: HttpRequest, ref: str, query: Query[LanguageQuery]):
    """The linked articles the caller may read (a requester: the published ones)."""
    actor = actor_of(request)
    ticket = get_ticket_for(actor, ref)
    language = language_or_none(query.language)
    limit = settings.COMPTOIR_API_PAGE_SIZE_MAX
    rows = list(selectors.with_list_relations(selectors.articles_of_ticket(actor, ticket))[:limit])
    return page_out(rows, language, None, limit)


class InsertQuery(Schema):
    language: str = Field("en", description="en or fr; else English, else the first.")
    mode: InsertMode = Field(
        InsertMode.link, description="link: to the portal page (published, not internal); text."
    )


@router.get(
    "/articles/{article_id}/insert",
    response={200: InsertOut, **ERRORS},
    summary="The text to insert in a reply",
)
def insert(request: HttpRequest, article_id: int, query: Query[InsertQuery]):
    actor = actor_of(request)
    article = selectors.get_article_for(actor, article_id)
    text = services.article_insert(
        actor=actor, article=article, language=query.language, mode=query.mode.value
    )
    return {"mode": query.mode.value, "language": query.language, "text": text}
