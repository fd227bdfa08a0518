"""Knowledge base articles for tests, made through the services so their versions are real."""

from __future__ import annotations

from typing import Any

from comptoir.accounts.models import Organisation, User
from comptoir.core.actor import Actor
from comptoir.desks.models import Desk
from comptoir.kb import services
from comptoir.kb.models import Article, ArticleStatus, Visibility


def by(user: User | None) -> Actor:
    return Actor.for_user(user) if user is not None else Actor.system("tests")


def make_article(
    *,
    desk: Desk,
    author: User | None = None,
    title: str = "Reset your VPN password",
    body: str = "Open **Settings**, then *VPN*.",
    language: str = "en",
    status: str = ArticleStatus.DRAFT,
    visibility: str = Visibility.INTERNAL,
    organisations: list[Organisation] | None = None,
    **kwargs: Any,
) -> Article:
    """An article in ``status`` (draft, review, published or archived)."""
    article = services.create_article(
        actor=by(author),
        desk=desk,
        language=language,
        title=title,
        body=body,
        visibility=visibility,
        organisations=organisations or [],
        **kwargs,
    )
    system = Actor.system("tests")
    if status == ArticleStatus.REVIEW:
        services.submit_article(actor=system, article=article)
    elif status == ArticleStatus.PUBLISHED:
        services.publish_article(actor=system, article=article)
    elif status == ArticleStatus.ARCHIVED:
        services.archive_article(actor=system, article=article)
    article.refresh_from_db()
    return article


def public_article(desk: Desk, **kwargs: Any) -> Article:
    return make_article(
        desk=desk, status=ArticleStatus.PUBLISHED, visibility=Visibility.PUBLIC, **kwargs
    )


def restricted_article(desk: Desk, organisations: list[Organisation], **kwargs: Any) -> Article:
    return make_article(
        desk=desk,
        status=ArticleStatus.PUBLISHED,
        visibility=Visibility.ORGANISATIONS,
        organisations=organisations,
        **kwargs,
    )


def internal_article(desk: Desk, **kwargs: Any) -> Article:
    return make_article(
        desk=desk, status=ArticleStatus.PUBLISHED, visibility=Visibility.INTERNAL, **kwargs
    )
