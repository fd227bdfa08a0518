"""``/kb/articles``: the list, writing an article (or drafting one from a ticket), one article,
its settings and its status moves."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Schema, Status
from pydantic import Field

from comptoir.accounts.models import Organisation
from comptoir.accounts.selectors import resolve_organisation
from comptoir.core.actor import Actor
from comptoir.core.api import actor_of
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.desks.selectors import resolve_category, resolve_desk
from comptoir.kb import selectors, services
from comptoir.kb.api._common import (
    ERRORS,
    LanguageQuery,
    category_filter,
    language_or_none,
    newest_first,
    page_out,
    router,
)
from comptoir.kb.models import Article, ArticleStatus
from comptoir.kb.schemas import (
    ArticleDetailOut,
    ArticleIn,
    ArticlePage,
    ArticlePatch,
    FromTicketIn,
    StatusIn,
    VisibilityIn,
    article_detail_out,
)
from comptoir.tickets.selectors import get_ticket_for


def _organisations(values: list[str]) -> list[Organisation]:
    found = []
    for value in values:
        organisation = resolve_organisation(value)
        if organisation is None:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"No organisation {value!r}.",
                {"field": "organisations", "organisation": value},
            )
        found.append(organisation)
    return found


def _detail(actor: Actor, article_id: int, language: str | None = None) -> dict:
    article = selectors.get_article_for(actor, article_id)
    return article_detail_out(actor, article, language=language)


# --- list and create -------------------------------------------------------------------------


class ArticleFilters(Schema):
    desk: str | None = Field(None, description="Desk slug, prefix or id.")
    status: list[StatusIn] = Field(default_factory=list)
    visibility: list[VisibilityIn] = Field(default_factory=list)
    category: str | None = Field(None, description="Category slug (with a desk) or id.")
    tag: str | None = None
    stale: bool | None = Field(
        None, description="true: published articles past their review date; false: the others."
    )
    language: str | None = Field(None, description="Show titles in this language (en, fr).")
    cursor: str | None = None
    limit: int = Field(50, ge=1, description="Page size; a value above 200 is capped to 200.")


@router.get("/articles", response={200: ArticlePage, **ERRORS}, summary="List articles")
def list_articles(request: HttpRequest, filters: Query[ArticleFilters]):
    """Staff see every article of their desks; everyone else the published articles they may
    read. Newest change first."""
    actor = actor_of(request)
    language = language_or_none(filters.language)
    articles = selectors.articles_visible_to(actor)
    desk = resolve_desk(actor, filters.desk) if filters.desk else None
    if desk is not None:
        articles = articles.filter(desk=desk)
    if filters.status:
        articles = articles.filter(status__in=[str(s) for s in filters.status])
    if filters.visibility:
        articles = articles.filter(visibility__in=[str(v) for v in filters.visibility])
    if filters.category:
        articles = articles.filter(category_filter(desk, filters.category))
    if filters.tag:
        tagged = Article.tags.through.objects.filter(
            article_id=OuterRef("pk"), articletag__name=filters.tag.strip().lower()
        )
        articles = articles.filter(Exists(tagged))
    if filters.stale is not None:
        stale = Q(status=ArticleStatus.PUBLISHED, review_on__lt=timezone.localdate())
        articles = articles.filter(stale if filters.stale else ~stale)
    rows, next_cursor, limit = newest_first(articles, filters.cursor, filters.limit)
    return page_out(rows, language, next_cursor, limit)


@router.post("/articles", response={201: ArticleDetailOut, **ERRORS}, summary="Write an article")
def create_article(request: HttpRequest, payload: ArticleIn):
    """A draft with its first language version. Staff of the desk."""
    actor = actor_of(request)
    desk = resolve_desk(actor, payload.desk)
    article = services.create_article(
        actor=actor,
        desk=desk,
        language=payload.language,
        title=payload.title,
        body=payload.body,
        category=resolve_category(desk, payload.category) if payload.category else None,
        tags=payload.tags,
        visibility=str(payload.visibility),
        organisations=_organisations(payload.organisations),
        review_on=payload.review_on,
    )
    return Status(201, _detail(actor, article.pk, payload.language))


@router.post(
    "/articles/from-ticket/{ref}",
    response={201: ArticleDetailOut, **ERRORS},
    summary="Draft an article from a solved ticket",
)
def draft_from_ticket(request: HttpRequest, ref: str, payload: FromTicketIn | None = None):
    """An internal draft from a resolved or closed ticket: its description, public replies and
    resolution; linked to the ticket. Staff of the ticket's desk."""
    actor = actor_of(request)
    payload = payload or FromTicketIn(language=None, title=None)
    with transaction.atomic():
        ticket = get_ticket_for(actor, ref)
        article = services.draft_article_from_ticket(
            actor=actor, ticket=ticket, language=payload.language, title=payload.title
        )
    return Status(201, _detail(actor, article.pk))


# --- one article -----------------------------------------------------------------------------


@router.get(
    "/articles/{article_id}",
    response={200: ArticleDetailOut, **ERRORS},
    summary="One article, with its languages",
)
def get_article(request: HttpRequest, article_id: int, query: Query[LanguageQuery]):
    return _detail(actor_of(request), article_id, language_or_none(query.language))


@router.patch(
    "/articles/{article_id}",
    response={200: ArticleDetailOut, **ERRORS},
    summary="Change the settings (never the status)",
)
def change_settings(request: HttpRequest, article_id: int, payload: ArticlePatch):
    """Category, tags, visibility, organisations, review date; what is left out is kept."""
    actor = actor_of(request)
    sent = payload.model_dump(exclude_unset=True)
    with transaction.atomic():
        article = selectors.get_article_for(actor, article_id, for_update=True)
        changes: dict = {}
        for key, value in sent.items():
            if key == "category":
                changes[key] = resolve_category(article.desk, value) if value else None
            elif key == "organisations":
                changes[key] = _organisations(value or [])
            elif key == "visibility":
                if value is None:
                    raise DomainError(
                        ErrorCode.VALIDATION_ERROR, "visibility cannot be null.", {"field": key}
                    )
                changes[key] = str(value)
            else:
                changes[key] = value
        services.change_article_settings(actor=actor, article=article, changes=changes)
    return _detail(actor, article_id)


@router.delete(
    "/articles/{article_id}", response={204: None, **ERRORS}, summary="Delete an article"
)
def delete_article(request: HttpRequest, article_id: int):
    """For good, with its versions, files, feedback and links. Managers of the desk."""
    actor = actor_of(request)
    with transaction.atomic():
        article = selectors.get_article_for(actor, article_id, for_update=True)
        services.delete_article(actor=actor, article=article)
    return Status(204, None)


def _move(request: HttpRequest, article_id: int, action: str) -> dict:
    actor = actor_of(request)
    with transaction.atomic():
        article = selectors.get_article_for(actor, article_id, for_update=True)
        if action == "reviewed":
            services.mark_article_reviewed(actor=actor, article=article)
        else:
            services.move_article(actor=actor, article=article, action=action)
    return _detail(actor, article_id)


@router.post(
    "/articles/{article_id}/submit",
    response={200: ArticleDetailOut, **ERRORS},
    summary="Submit a draft for review",
)
def submit(request: HttpRequest, article_id: int):
    return _move(request, article_id, "submit")


@router.post(
    "/articles/{article_id}/publish",
    response={200: ArticleDetailOut, **ERRORS},
    summary="Publish (managers)",
)
def publish(request: HttpRequest, article_id: int):
    """From draft or review. An archived article goes back to draft first."""
    return _move(request, article_id, "publish")


@router.post(
    "/articles/{article_id}/archive",
    response={200: ArticleDetailOut, **ERRORS},
    summary="Archive (managers)",
)
def archive(request: HttpRequest, article_id: int):
    return _move(request, article_id, "archive")


@router.post(
    "/articles/{article_id}/draft",
    response={200: ArticleDetailOut, **ERRORS},
    summary="Back to draft (managers)",
)
def back_to_draft(request: HttpRequest, article_id: int):
    return _move(request, article_id, "draft")


@router.post(
    "/articles/{article_id}/reviewed",
    response={200: ArticleDetailOut, **ERRORS},
    summary="Mark reviewed (managers)",
)
def reviewed(request: HttpRequest, article_id: int):
    """The article is still right: its next review falls due in COMPTOIR_KB_REVIEW_DAYS days."""
    return _move(request, article_id, "reviewed")
