"""The shapes of the knowledge base API, and the functions that fill them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from django.utils import timezone
from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

from comptoir.accounts.api import OrganisationRef
from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.api import user_ref
from comptoir.kb import selectors
from comptoir.kb.models import (
    Article,
    ArticleAttachment,
    ArticleStatus,
    ArticleVariant,
    ArticleVersion,
    Visibility,
)
from comptoir.kb.services import allowed_actions
from comptoir.tickets.schemas import CategoryRef, PersonRef


class StatusIn(StrEnum):
    draft = ArticleStatus.DRAFT.value
    review = ArticleStatus.REVIEW.value
    published = ArticleStatus.PUBLISHED.value
    archived = ArticleStatus.ARCHIVED.value


class VisibilityIn(StrEnum):
    public = Visibility.PUBLIC.value
    internal = Visibility.INTERNAL.value
    organisations = Visibility.ORGANISATIONS.value


class InsertMode(StrEnum):
    link = "link"
    text = "text"


# --- input -----------------------------------------------------------------------------------


class ArticleIn(Schema):
    desk: str = Field(description="Desk slug, prefix or id.")
    language: str = Field("en", description="The language of this first version: en or fr.")
    title: str = Field(description="One line, 250 characters at most.")
    body: str = Field("", description="Markdown, 200,000 characters at most.")
    category: str | None = Field(None, description="Category slug or id on that desk.")
    tags: list[str] = Field(default_factory=list)
    visibility: VisibilityIn = Field(
        VisibilityIn.internal, description="public, internal (agents only) or organisations."
    )
    organisations: list[str] = Field(
        default_factory=list, description="Slugs or ids; with the 'organisations' visibility."
    )
    review_on: date | None = Field(None, description="When the article is due for review.")


class ArticlePatch(Schema):
    # The status moves only through the action endpoints: an unknown key (``status``) is refused.
    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(None, description="Category slug or id; null for none.")
    tags: list[str] | None = None
    visibility: VisibilityIn | None = None
    organisations: list[str] | None = None
    review_on: date | None = None


class VariantIn(Schema):
    title: str = Field(description="One line, 250 characters at most.")
    body: str = Field("", description="Markdown, 200,000 characters at most.")
    note: str = Field("", description="What this edit changed (kept with the version).")


class RestoreIn(Schema):
    note: str = ""


class FeedbackIn(Schema):
    helpful: bool
    comment: str = Field("", description="Plain text, 2,000 characters at most.")
    language: str = Field("en", description="The language the reader read.")


class FromTicketIn(Schema):
    language: str | None = Field(None, description="en or fr; by default the agent's own.")
    title: str | None = Field(None, description="By default the ticket's title.")


# --- output ----------------------------------------------------------------------------------
# A schema's class name is its name in the one OpenAPI document: each is either the very class
# another app uses (CategoryRef, PersonRef, OrganisationRef) or a name no other app uses.


class DeskRef(BaseModel):
    id: int
    slug: str
    name: str


class VariantSummary(BaseModel):
    language: str
    title: str
    slug: str
    version: int
    updated_at: datetime


class VariantOut(VariantSummary):
    body: str
    body_html: str


class ArticleAttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    download_url: str
    public_url: str = Field(description="Works without signing in once the article is public.")


class ArticleOut(BaseModel):
    id: int
    ref: str
    desk: DeskRef
    category: CategoryRef | None
    status: str
    visibility: str
    tags: list[str]
    language: str = Field(description="The language of title and slug below.")
    title: str
    slug: str
    languages: list[str]
    review_on: date | None
    stale: bool
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    views: int
    helpful: int
    not_helpful: int


class ArticleDetailOut(ArticleOut):
    organisations: list[OrganisationRef]
    source_ticket: str | None = Field(description="The ticket it was written from (staff only).")
    variants: list[VariantOut]
    attachments: list[ArticleAttachmentOut]
    allowed_actions: list[str]


class ArticlePage(BaseModel):
    items: list[ArticleOut]
    next_cursor: str | None
    limit: int


class PublicArticleOut(BaseModel):
    id: int
    desk: DeskRef
    category: CategoryRef | None
    tags: list[str]
    language: str
    title: str
    slug: str
    languages: list[str]
    updated_at: datetime
    published_at: datetime | None


class PublicArticleDetailOut(PublicArticleOut):
    body: str
    body_html: str
    helpful: int
    not_helpful: int
    attachments: list[ArticleAttachmentOut]


class PublicArticlePage(BaseModel):
    items: list[PublicArticleOut]
    next_cursor: str | None
    limit: int


class VersionSummary(BaseModel):
    number: int
    title: str
    author: PersonRef | None
    note: str
    restored_from: int | None
    created_at: datetime


class VersionOut(VersionSummary):
    body: str


class DiffOut(BaseModel):
    language: str
    old: int
    new: int
    lines: list[str] = Field(description="A unified diff of the title and body, line by line.")


class FeedbackOut(BaseModel):
    helpful: bool
    comment: str
    language: str
    article_helpful: int
    article_not_helpful: int


class TicketLinkOut(BaseModel):
    ref: str
    title: str
    status: str
    linked_by: PersonRef | None
    created_at: datetime


class InsertOut(BaseModel):
    mode: str
    language: str
    text: str


class FigureRow(BaseModel):
    article_id: int | None
    title: str
    desk_id: int | None
    status: str
    views: int
    helpful: int
    not_helpful: int
    suggested: int
    deflections: int
    tickets_linked: int


class FiguresOut(BaseModel):
    desks: list[str]
    since: date
    until: date
    total: FigureRow
    articles: list[FigureRow]


# --- builders --------------------------------------------------------------------------------


def _desk(article: Article) -> dict[str, Any]:
    desk = article.desk
    return {"id": desk.pk, "slug": desk.slug, "name": desk.name}


def _category(article: Article) -> dict[str, Any] | None:
    category = article.category
    if category is None:
        return None
    return {"id": category.pk, "slug": category.slug, "path": category.path}


def _variant_summary(variant: ArticleVariant) -> dict[str, Any]:
    return {
        "language": variant.language,
        "title": variant.title,
        "slug": variant.slug,
        "version": variant.version,
        "updated_at": variant.updated_at,
    }


def variant_out(variant: ArticleVariant) -> dict[str, Any]:
    return {**_variant_summary(variant), "body": variant.body, "body_html": variant.body_html}


def attachment_out(attachment: ArticleAttachment) -> dict[str, Any]:
    base = f"/api/v1/kb/articles/{attachment.article_id}/attachments/{attachment.pk}/download"
    public = f"/api/v1/kb/public/articles/{attachment.article_id}/attachments/{attachment.pk}"
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "created_at": attachment.created_at,
        "download_url": base,
        "public_url": public,
    }


def article_out(article: Article, *, language: str | None, today: date) -> dict[str, Any]:
    """A list row: the title in ``language`` (else English, else the first)."""
    variants = sorted(article.variants.all(), key=lambda v: v.pk)
    shown = selectors.variant_for(article, language)
    return {
        "id": article.pk,
        "ref": str(article),
        "desk": _desk(article),
        "category": _category(article),
        "status": article.status,
        "visibility": article.visibility,
        "tags": sorted(t.name for t in article.tags.all()),
        "language": shown.language if shown else "",
        "title": shown.title if shown else "",
        "slug": shown.slug if shown else "",
        "languages": [v.language for v in variants],
        "review_on": article.review_on,
        "stale": selectors.is_stale(article, today),
        "created_at": article.created_at,
        "updated_at": article.updated_at,
        "published_at": article.published_at,
        "views": article.views,
        "helpful": article.helpful,
        "not_helpful": article.not_helpful,
    }


def article_detail_out(actor: Actor, article: Article, *, language: str | None) -> dict[str, Any]:
    article = selectors.with_detail_relations(article)
    staff = is_staff_on(actor, article.desk_id)
    out = article_out(article, language=language, today=timezone.localdate())
    out.update(
        {
            "organisations": [
                {"id": o.pk, "slug": o.slug, "name": o.name}
                for o in sorted(article.organisations.all(), key=lambda o: o.pk)
            ]
            if staff
            else [],
            "source_ticket": article.source_ticket.ref
            if staff and article.source_ticket is not None
            else None,
            "variants": [variant_out(v) for v in article.variants.all()],
            "attachments": [attachment_out(a) for a in article.attachments.all()],
            "allowed_actions": allowed_actions(actor, article),
        }
    )
    return out


def public_article_out(article: Article, *, language: str | None) -> dict[str, Any]:
    shown = selectors.variant_for(article, language)
    return {
        "id": article.pk,
        "desk": _desk(article),
        "category": _category(article),
        "tags": sorted(t.name for t in article.tags.all()),
        "language": shown.language if shown else "",
        "title": shown.title if shown else "",
        "slug": shown.slug if shown else "",
        "languages": [v.language for v in sorted(article.variants.all(), key=lambda v: v.pk)],
        "updated_at": article.updated_at,
        "published_at": article.published_at,
    }


def public_article_detail_out(article: Article, *, language: str | None) -> dict[str, Any]:
    article = selectors.with_detail_relations(article)
    shown = selectors.variant_for(article, language)
    out = public_article_out(article, language=language)
    out.update(
        {
            "body": shown.body if shown else "",
            "body_html": shown.body_html if shown else "",
            "helpful": article.helpful,
            "not_helpful": article.not_helpful,
            "attachments": [attachment_out(a) for a in article.attachments.all()],
        }
    )
    return out


def version_summary(version: ArticleVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "title": version.title,
        "author": user_ref(version.author),
        "note": version.note,
        "restored_from": version.restored_from,
        "created_at": version.created_at,
    }


def version_out(version: ArticleVersion) -> dict[str, Any]:
    return {**version_summary(version), "body": version.body}
