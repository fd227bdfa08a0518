"""``/kb/public/…`` answers without signing in, as a reader without an account: published public
articles only; anything else is "not found"."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from ninja import Query, Schema
from pydantic import Field

from comptoir.core.actor import Actor, Channel
from comptoir.core.api import ErrorOut
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.core.lookups import slug_or_id
from comptoir.desks.models import Category, Desk
from comptoir.kb import selectors
from comptoir.kb.api._common import (
    LanguageQuery,
    category_filter,
    download,
    language_or_none,
    newest_first,
    router,
)
from comptoir.kb.models import ArticleVariant
from comptoir.kb.schemas import (
    PublicArticleDetailOut,
    PublicArticlePage,
    public_article_detail_out,
    public_article_out,
)

PUBLIC_ERRORS = {400: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _public_actor() -> Actor:
    return selectors.anonymous(Channel.API)


def _public_desk(value: str) -> Desk:
    text = value.strip()
    desk = (
        Desk.objects.filter(is_active=True)
        .filter(slug_or_id(text) | Q(prefix=text.upper()))
        .order_by("pk")
        .first()
    )
    if desk is None:
        raise DomainError(ErrorCode.UNKNOWN_DESK, f"No desk {text!r}.", {"desk": text})
    return desk


class PublicFilters(Schema):
    desk: str | None = Field(None, description="Desk slug, prefix or id.")
    category: str | None = Field(None, description="Category slug (with a desk) or id.")
    language: str | None = Field(
        None, description="Only articles written in this language (en, fr), titled in it."
    )
    cursor: str | None = None
    limit: int = Field(50, ge=1, description="Page size; a value above 200 is capped to 200.")


@router.get(
    "/public/articles",
    response={200: PublicArticlePage, **PUBLIC_ERRORS},
    auth=None,
    summary="Published public articles (no sign-in)",
)
def public_articles(request: HttpRequest, filters: Query[PublicFilters]):
    language = language_or_none(filters.language)
    articles = selectors.articles_visible_to(_public_actor())
    desk = _public_desk(filters.desk) if filters.desk else None
    if desk is not None:
        articles = articles.filter(desk=desk)
    if filters.category:
        if desk is not None:
            category = Category.objects.filter(desk=desk).filter(slug_or_id(filters.category))
            articles = articles.filter(category__in=category)
        else:
            articles = articles.filter(category_filter(None, filters.category))
    if language:
        written = ArticleVariant.objects.filter(article_id=OuterRef("pk"), language=language)
        articles = articles.filter(Exists(written))
    rows, next_cursor, limit = newest_first(articles, filters.cursor, filters.limit)
    return {
        "items": [public_article_out(a, language=language) for a in rows],
        "next_cursor": next_cursor,
        "limit": limit,
    }


@router.get(
    "/public/articles/{article_id}",
    response={200: PublicArticleDetailOut, **PUBLIC_ERRORS},
    auth=None,
    summary="One published public article (no sign-in)",
)
def public_article(request: HttpRequest, article_id: int, query: Query[LanguageQuery]):
    """An internal, restricted, draft or archived article answers 404, as a missing one does."""
    language = language_or_none(query.language)
    article = selectors.get_article_for(_public_actor(), article_id)
    return public_article_detail_out(article, language=language)


@router.get(
    "/public/articles/{article_id}/attachments/{attachment_id}",
    response={200: None, **PUBLIC_ERRORS},
    auth=None,
    summary="A file of a published public article (no sign-in)",
)
def public_attachment(request: HttpRequest, article_id: int, attachment_id: int):
    return download(_public_actor(), article_id, attachment_id)
