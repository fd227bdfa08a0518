"""Writing articles: create, edit a language version, settings, lifecycle, versions, delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from comptoir.accounts.models import Organisation
from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.events import publish
from comptoir.core.text import render_markdown
from comptoir.desks.models import Category, Desk
from comptoir.kb import permissions as perms
from comptoir.kb.events import ArticleDeleted
from comptoir.kb.models import (
    Article,
    ArticleStatus,
    ArticleVariant,
    ArticleVersion,
    Visibility,
)
from comptoir.kb.services._common import (
    announce,
    clean_body,
    clean_language,
    clean_note,
    clean_tags,
    clean_title,
    invalid,
    slug_for,
    tag_objects,
)
from comptoir.tickets.models import Ticket

# --- creating and editing --------------------------------------------------------------------


def _check_category(desk_id: int, category: Category | None) -> None:
    if category is not None and category.desk_id != desk_id:
        raise DomainError(
            ErrorCode.UNKNOWN_CATEGORY,
            f"Category {category.slug!r} belongs to another desk.",
            {"category": category.slug},
        )


def _clean_visibility(value: str, organisations: list[Organisation]) -> str:
    if value not in Visibility.values:
        raise invalid(
            f"Unknown visibility {value!r}: one of {', '.join(Visibility.values)}.",
            field="visibility",
            allowed=list(Visibility.values),
        )
    if value == Visibility.ORGANISATIONS and not organisations:
        raise invalid(
            "An article restricted to organisations names at least one of them.",
            field="organisations",
        )
    if value != Visibility.ORGANISATIONS and organisations:
        raise invalid(
            "Organisations apply only to an article restricted to organisations.",
            field="organisations",
        )
    return value


def _new_variant(
    *, actor: Actor, article: Article, language: str, title: str, body: str, note: str = ""
) -> ArticleVariant:
    now = timezone.now()
    variant = ArticleVariant.objects.create(
        article=article,
        language=language,
        title=title,
        slug=slug_for(title),
        body=body,
        body_html=render_markdown(body),
        version=1,
        updated_at=now,
    )
    ArticleVersion.objects.create(
        variant=variant,
        number=1,
        title=title,
        body=body,
        author=actor.user,
        note=note,
        created_at=now,
    )
    return variant


@transaction.atomic
def create_article(
    *,
    actor: Actor,
    desk: Desk,
    language: str,
    title: str,
    body: str = "",
    category: Category | None = None,
    tags: list[str] | tuple[str, ...] = (),
    visibility: str = Visibility.INTERNAL,
    organisations: list[Organisation] | tuple[Organisation, ...] = (),
    review_on: date | None = None,
    source_ticket: Ticket | None = None,
) -> Article:
    """A draft article with its first language version (version 1)."""
    if not perms.can_write_article(actor, desk):
        raise PermissionDenied("Only the desk's staff write its articles.")
    language = clean_language(language)
    title, body = clean_title(title), clean_body(body)
    _check_category(desk.pk, category)
    names = clean_tags(tags)
    orgs = list(organisations)
    visibility = _clean_visibility(visibility, orgs)
    now = timezone.now()
    article = Article.objects.create(
        desk=desk,
        category=category,
        visibility=visibility,
        status=ArticleStatus.DRAFT,
        review_on=review_on,
        source_ticket=source_ticket,
        created_by=actor.user,
        created_at=now,
        updated_at=now,
    )
    if names:
        article.tags.set(tag_objects(names))
    if orgs:
        article.organisations.set(orgs)
    _new_variant(actor=actor, article=article, language=language, title=title, body=body)
    announce(article)
    return article


def _touch(article: Article) -> None:
    article.updated_at = timezone.now()
    Article.objects.filter(pk=article.pk).update(updated_at=article.updated_at)


def _append_version(
    *,
    actor: Actor,
    variant: ArticleVariant,
    title: str,
    body: str,
    note: str = "",
    restored_from: int | None = None,
) -> ArticleVersion:
    now = timezone.now()
    variant.version += 1
    variant.title, variant.body = title, body
    variant.slug = slug_for(title)
    variant.body_html = render_markdown(body)
    variant.updated_at = now
    variant.save(update_fields=["version", "title", "body", "slug", "body_html", "updated_at"])
    return ArticleVersion.objects.create(
        variant=variant,
        number=variant.version,
        title=title,
        body=body,
        author=actor.user,
        note=note,
        restored_from=restored_from,
        created_at=now,
    )


def _locked_variant(variant: ArticleVariant) -> ArticleVariant:
    """The variant read again under a row lock: two editors never share a version number."""
    return ArticleVariant.objects.select_for_update().select_related("article").get(pk=variant.pk)


@transaction.atomic
def edit_variant(
    *,
    actor: Actor,
    variant: ArticleVariant,
    title: str | None = None,
    body: str | None = None,
    note: str = "",
) -> ArticleVariant:
    """A new version of one language: ``version`` + 1, the HTML rendered again.

    Sending what is already there changes nothing and adds no version.
    """
    if not perms.can_write_article(actor, variant.article):
        raise PermissionDenied("Only the desk's staff edit its articles.")
    locked = _locked_variant(variant)
    new_title = clean_title(title) if title is not None else locked.title
    new_body = clean_body(body) if body is not None else locked.body
    note = clean_note(note)
    if (new_title, new_body) == (locked.title, locked.body):
        return locked
    _append_version(actor=actor, variant=locked, title=new_title, body=new_body, note=note)
    _touch(locked.article)
    announce(locked.article)
    return locked


@transaction.atomic
def add_variant(
    *, actor: Actor, article: Article, language: str, title: str, body: str = "", note: str = ""
) -> ArticleVariant:
    """The article in another language (its version 1)."""
    if not perms.can_write_article(actor, article):
        raise PermissionDenied("Only the desk's staff edit its articles.")
    language = clean_language(language)
    # The article row is the lock under which two translators cannot both add "fr".
    Article.objects.select_for_update().filter(pk=article.pk).first()
    if article.variants.filter(language=language).exists():
        raise invalid(
            f"The article already has a {language!r} version: edit it instead.",
            field="language",
        )
    variant = _new_variant(
        actor=actor,
        article=article,
        language=language,
        title=clean_title(title),
        body=clean_body(body),
        note=clean_note(note),
    )
    _touch(article)
    announce(article)
    return variant


@transaction.atomic
def save_variant(
    *, actor: Actor, article: Article, language: str, title: str, body: str, note: str = ""
) -> tuple[ArticleVariant, bool]:
    """The language version as given: a new one, or a new version of the existing one.

    Returns the variant and whether it was created.
    """
    if not perms.can_write_article(actor, article):
        raise PermissionDenied("Only the desk's staff edit its articles.")
    language = clean_language(language)
    Article.objects.select_for_update().filter(pk=article.pk).first()
    existing = article.variants.filter(language=language).first()
    if existing is None:
        return (
            add_variant(
                actor=actor, article=article, language=language, title=title, body=body, note=note
            ),
            True,
        )
    existing.article = article
    return edit_variant(actor=actor, variant=existing, title=title, body=body, note=note), False


@transaction.atomic
def restore_version(
    *, actor: Actor, variant: ArticleVariant, number: int, note: str = ""
) -> ArticleVersion:
    """A new version with the title and body of version ``number`` (``restored_from`` set)."""
    if not perms.can_write_article(actor, variant.article):
        raise PermissionDenied("Only the desk's staff edit its articles.")
    locked = _locked_variant(variant)
    old = locked.versions.filter(number=number).first()
    if old is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No version {number}.", {"number": number})
    version = _append_version(
        actor=actor,
        variant=locked,
        title=old.title,
        body=old.body,
        note=clean_note(note) or f"Restored version {number}.",
        restored_from=number,
    )
    _touch(locked.article)
    announce(locked.article)
    return version


# --- settings --------------------------------------------------------------------------------

SETTINGS = frozenset({"category", "tags", "visibility", "organisations", "review_on"})


def _settings_of(article: Article) -> dict[str, Any]:
    return {
        "category": article.category_id,
        "tags": sorted(article.tags.values_list("name", flat=True)),
        "visibility": article.visibility,
        "organisations": sorted(article.organisations.values_list("pk", flat=True)),
        "review_on": article.review_on.isoformat() if article.review_on else None,
    }


@transaction.atomic
def change_article_settings(*, actor: Actor, article: Article, changes: dict[str, Any]) -> Article:
    """Category (of the same desk), tags, visibility, organisations, review date.

    Keys left out are kept; ``tags`` and ``organisations`` are full lists. Leaving the
    ``organisations`` visibility forgets the list.
    """
    if not perms.can_write_article(actor, article):
        raise PermissionDenied("Only the desk's staff change its articles.")
    unknown = sorted(set(changes) - SETTINGS)
    if unknown:
        raise DomainError(
            ErrorCode.FIELD_NOT_ALLOWED,
            f"Not a setting of an article: {', '.join(unknown)}.",
            {"fields": unknown},
        )
    before = _settings_of(article)
    fields: list[str] = []
    if "category" in changes:
        _check_category(article.desk_id, changes["category"])
        article.category = changes["category"]
        fields.append("category")
    if "review_on" in changes:
        article.review_on = changes["review_on"]
        fields.append("review_on")
    organisations: list[Organisation] | None = (
        list(changes["organisations"] or []) if "organisations" in changes else None
    )
    if "visibility" in changes or organisations is not None:
        visibility = changes.get("visibility") or article.visibility
        if visibility == Visibility.ORGANISATIONS:
            kept = organisations if organisations is not None else list(article.organisations.all())
        else:
            kept = organisations or []
        article.visibility = _clean_visibility(visibility, kept)
        fields.append("visibility")
        article.organisations.set(kept)
    if "tags" in changes:
        article.tags.set(tag_objects(clean_tags(changes["tags"] or [])))
    after = _settings_of(article)
    if after == before:
        return article
    article.updated_at = timezone.now()
    article.save(update_fields=[*fields, "updated_at"])
    record_audit(actor=actor, action="update", obj=article, before=before, after=after)
    announce(article)
    return article


# --- lifecycle -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    action: str
    sources: frozenset[str]
    target: str
    managers_only: bool


S = ArticleStatus
MOVES: dict[str, Move] = {
    "submit": Move("submit", frozenset({S.DRAFT}), S.REVIEW, managers_only=False),
    "publish": Move("publish", frozenset({S.DRAFT, S.REVIEW}), S.PUBLISHED, managers_only=True),
    "archive": Move(
        "archive", frozenset({S.DRAFT, S.REVIEW, S.PUBLISHED}), S.ARCHIVED, managers_only=True
    ),
    "draft": Move("draft", frozenset({S.REVIEW, S.PUBLISHED, S.ARCHIVED}), S.DRAFT, True),
}


def review_days() -> int:
    return int(getattr(settings, "COMPTOIR_KB_REVIEW_DAYS", 180))


def _may_move(actor: Actor, article: Article, move: Move) -> bool:
    if move.managers_only:
        return perms.can_publish_article(actor, article)
    return perms.can_submit_article(actor, article)


def allowed_actions(actor: Actor, article: Article) -> list[str]:
    """The status actions (and ``reviewed``, ``delete``) ``actor`` may take on it now."""
    actions = [
        move.action
        for move in MOVES.values()
        if article.status in move.sources and _may_move(actor, article, move)
    ]
    if article.status != S.ARCHIVED and perms.can_mark_reviewed(actor, article):
        actions.append("reviewed")
    if perms.can_delete_article(actor, article):
        actions.append("delete")
    return actions


def _refusal(article: Article, move: Move) -> DomainError:
    allowed = sorted(m.action for m in MOVES.values() if article.status in m.sources)
    if move.action == "publish" and article.status == S.ARCHIVED:
        message = f"{article} is archived: return it to draft before publishing it again."
    elif article.status == move.target:
        message = f"{article} is already {article.status}."
    else:
        message = f"{article} is {article.status}: it cannot be {move.target} from there."
    return DomainError(
        ErrorCode.INVALID_TRANSITION,
        message,
        {"status": article.status, "action": move.action, "allowed": allowed},
    )


@transaction.atomic
def move_article(*, actor: Actor, article: Article, action: str) -> Article:
    """Take a status action: ``submit`` (for review), ``publish``, ``archive``, ``draft``."""
    move = MOVES.get(action)
    if move is None:
        raise invalid(f"Unknown action {action!r}.", field="action", allowed=sorted(MOVES))
    if not _may_move(actor, article, move):
        raise PermissionDenied(
            "Only the desk's managers and administrators decide what readers see."
            if move.managers_only
            else "Only the desk's staff submit its articles for review."
        )
    locked = Article.objects.select_for_update().get(pk=article.pk)
    article.status = locked.status
    if article.status not in move.sources:
        raise _refusal(article, move)
    before = {"status": article.status, "review_on": _iso(article.review_on)}
    now = timezone.now()
    article.status = move.target
    article.updated_at = now
    fields = ["status", "updated_at"]
    if move.target == S.PUBLISHED:
        article.published_at = now
        fields.append("published_at")
        today = timezone.localdate(now)
        if article.review_on is None or article.review_on < today:
            # Publishing vouches for the text: the next review falls due from today.
            article.review_on = today + timedelta(days=review_days())
            fields.append("review_on")
    article.save(update_fields=fields)
    record_audit(
        actor=actor,
        action=action,
        obj=article,
        before=before,
        after={"status": article.status, "review_on": _iso(article.review_on)},
    )
    announce(article)
    return article


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def submit_article(*, actor: Actor, article: Article) -> Article:
    return move_article(actor=actor, article=article, action="submit")


def publish_article(*, actor: Actor, article: Article) -> Article:
    return move_article(actor=actor, article=article, action="publish")


def archive_article(*, actor: Actor, article: Article) -> Article:
    return move_article(actor=actor, article=article, action="archive")


def return_article_to_draft(*, actor: Actor, article: Article) -> Article:
    return move_article(actor=actor, article=article, action="draft")


@transaction.atomic
def mark_article_reviewed(*, actor: Actor, article: Article, today: date | None = None) -> Article:
    """Someone checked the article is still right: its next review is due in
    ``COMPTOIR_KB_REVIEW_DAYS`` days (180 by default)."""
    if not perms.can_mark_reviewed(actor, article):
        raise PermissionDenied("Only the desk's managers and administrators mark it reviewed.")
    if article.status == S.ARCHIVED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"{article} is archived: nobody reads it, there is nothing to review.",
            {"status": article.status},
        )
    before = {"review_on": _iso(article.review_on)}
    today = today or timezone.localdate()
    article.review_on = today + timedelta(days=review_days())
    article.updated_at = timezone.now()
    article.save(update_fields=["review_on", "updated_at"])
    record_audit(
        actor=actor,
        action="reviewed",
        obj=article,
        before=before,
        after={"review_on": _iso(article.review_on)},
    )
    announce(article)
    return article


# --- delete ----------------------------------------------------------------------------------


@transaction.atomic
def delete_article(*, actor: Actor, article: Article) -> None:
    """The article, its languages, versions, files, feedback and links, for good.

    Archiving keeps the history; deleting is for what should never have been written.
    """
    if not perms.can_delete_article(actor, article):
        raise PermissionDenied("Only the desk's managers and administrators delete articles.")
    titles = dict(article.variants.values_list("language", "title"))
    files = [name for name in article.attachments.values_list("file", flat=True) if name]
    record_audit(
        actor=actor,
        action="delete",
        obj=article,
        before={"status": article.status, "visibility": article.visibility, "titles": titles},
    )
    # The subscribers (the search index) drop what they hold while the rows still exist.
    publish(ArticleDeleted(article_id=article.pk, desk_id=article.desk_id))
    Article.objects.filter(pk=article.pk).delete()

    def remove_files() -> None:
        from django.core.files.storage import default_storage

        for name in files:
            default_storage.delete(name)

    transaction.on_commit(remove_files)
