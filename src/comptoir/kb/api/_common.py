"""What the knowledge base endpoints share: the one router, the error responses, the helpers.

Every module of this package registers its endpoints on ``router``; ``__init__`` imports the
modules in a fixed order, which is the order of the endpoints (and of URL matching).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import FileResponse
from django.utils import timezone
from ninja import Router, Schema
from pydantic import Field

from comptoir.core.actor import Actor
from comptoir.core.api import ErrorOut
from comptoir.core.files import download_response
from comptoir.core.pagination import SortKey, page
from comptoir.desks.models import Desk
from comptoir.desks.selectors import resolve_category
from comptoir.kb import selectors, services
from comptoir.kb.models import Article
from comptoir.kb.schemas import article_out


class KbRouter(Router):
    """A router whose operation ids stay ``comptoir_kb_api_<function>`` whatever module of the
    package defines the function: they are part of the published OpenAPI document, which
    clients are generated from, and were named so when the API was one module."""

    def add_api_operation(
        self,
        path: str,
        methods: list[str],
        view_func: Callable,
        *,
        operation_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        operation_id = operation_id or f"comptoir_kb_api_{view_func.__name__}"
        super().add_api_operation(path, methods, view_func, operation_id=operation_id, **kwargs)


router = KbRouter(tags=["kb"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
}
SORT = SortKey("updated_at", descending=True, is_datetime=True)


class LanguageQuery(Schema):
    language: str | None = Field(None, description="en or fr; else English, else the first.")


def language_or_none(value: str | None) -> str | None:
    return services.clean_language(value) if value else None


def category_filter(desk: Desk | None, value: str) -> Q:
    if desk is not None:
        return Q(category=resolve_category(desk, value))
    text = value.strip()
    return Q(category_id=int(text)) if text.isdigit() else Q(category__slug=text)


def newest_first(
    articles: QuerySet[Article], cursor: str | None, limit: int
) -> tuple[list[Article], str | None, int]:
    """One page of ``articles``, newest change first, its next cursor and its (capped) size."""
    limit = min(limit, settings.COMPTOIR_API_PAGE_SIZE_MAX)
    rows, next_cursor = page(
        selectors.with_list_relations(articles),
        sort="-updated",
        key=SORT,
        cursor=cursor,
        limit=limit,
    )
    return rows, next_cursor, limit


def page_out(rows: list[Article], language: str | None, next_cursor, limit: int) -> dict:
    today = timezone.localdate()
    return {
        "items": [article_out(a, language=language, today=today) for a in rows],
        "next_cursor": next_cursor,
        "limit": limit,
    }


def download(actor: Actor, article_id: int, attachment_id: int) -> FileResponse:
    """A file of an article ``actor`` may read, always as an attachment."""
    article = selectors.get_article_for(actor, article_id)
    attachment = selectors.get_attachment_for(actor, article, attachment_id)
    return download_response(
        attachment.file.open("rb"),
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
