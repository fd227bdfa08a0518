"""``/kb/articles/{id}/variants/…``: the article in each language, and each language's versions
(read, compared and restored by the desk's staff)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Schema, Status
from pydantic import Field

from comptoir.core.actor import Actor
from comptoir.core.api import actor_of
from comptoir.core.errors import PermissionDenied
from comptoir.kb import permissions as perms
from comptoir.kb import selectors, services
from comptoir.kb.api._common import ERRORS, router
from comptoir.kb.models import ArticleVariant
from comptoir.kb.schemas import (
    DiffOut,
    RestoreIn,
    VariantIn,
    VariantOut,
    VersionOut,
    VersionSummary,
    variant_out,
    version_out,
    version_summary,
)


@router.put(
    "/articles/{article_id}/variants/{language}",
    response={200: VariantOut, 201: VariantOut, **ERRORS},
    summary="Write the article in one language",
)
def put_variant(request: HttpRequest, article_id: int, language: str, payload: VariantIn):
    """Adds the language (201) or saves a new version of it (200). Staff of the desk."""
    actor = actor_of(request)
    with transaction.atomic():
        article = selectors.get_article_for(actor, article_id, for_update=True)
        variant, created = services.save_variant(
            actor=actor,
            article=article,
            language=language,
            title=payload.title,
            body=payload.body,
            note=payload.note,
        )
    return Status(201 if created else 200, variant_out(variant))


def _history(actor: Actor, article_id: int, language: str) -> ArticleVariant:
    article = selectors.get_article_for(actor, article_id)
    if not perms.can_see_history(actor, article):
        raise PermissionDenied("The history of an article is for the desk's staff.")
    variant = selectors.get_variant_of(article, services.clean_language(language))
    variant.article = article
    return variant


class VersionsQuery(Schema):
    before: int | None = Field(None, description="Only versions numbered below this one.")
    limit: int = Field(50, ge=1, le=200)


@router.get(
    "/articles/{article_id}/variants/{language}/versions",
    response={200: list[VersionSummary], **ERRORS},
    summary="The versions of one language, newest first",
)
def list_versions(
    request: HttpRequest, article_id: int, language: str, query: Query[VersionsQuery]
):
    variant = _history(actor_of(request), article_id, language)
    versions = selectors.versions_of(variant)
    if query.before is not None:
        versions = versions.filter(number__lt=query.before)
    return [version_summary(v) for v in versions[: query.limit]]


@router.get(
    "/articles/{article_id}/variants/{language}/versions/{number}",
    response={200: VersionOut, **ERRORS},
    summary="One version",
)
def get_version(request: HttpRequest, article_id: int, language: str, number: int):
    variant = _history(actor_of(request), article_id, language)
    return version_out(selectors.get_version(variant, number))


class DiffQuery(Schema):
    old: int = Field(description="The earlier version's number.")
    new: int | None = Field(None, description="The later version's number; the latest if left out.")


@router.get(
    "/articles/{article_id}/variants/{language}/diff",
    response={200: DiffOut, **ERRORS},
    summary="What changed between two versions",
)
def diff_versions(request: HttpRequest, article_id: int, language: str, query: Query[DiffQuery]):
    """A unified diff of the title (as its first line) and the body, as a list of lines."""
    variant = _history(actor_of(request), article_id, language)
    new_number = query.new if query.new is not None else variant.version
    old = selectors.get_version(variant, query.old)
    new = selectors.get_version(variant, new_number)
    return {
        "language": variant.language,
        "old": old.number,
        "new": new.number,
        "lines": selectors.version_diff(old, new),
    }


@router.post(
    "/articles/{article_id}/variants/{language}/versions/{number}/restore",
    response={201: VersionOut, **ERRORS},
    summary="Restore a version (as a new version)",
)
def restore(
    request: HttpRequest,
    article_id: int,
    language: str,
    number: int,
    payload: RestoreIn | None = None,
):
    actor = actor_of(request)
    with transaction.atomic():
        variant = _history(actor, article_id, language)
        version = services.restore_version(
            actor=actor, variant=variant, number=number, note=payload.note if payload else ""
        )
    return Status(201, version_out(version))
