"""``/api/v1/kb``: each endpoint is input schema → selector or service → output schema.

``/kb/public/…`` answers without signing in, as a reader without an account: published public
articles only; anything else is "not found".
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from comptoir.accounts.models import Organisation
from comptoir.accounts.selectors import resolve_organisation
from comptoir.core.actor import Actor, Channel
from comptoir.core.api import ErrorOut, actor_of, user_ref
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.files import download_response
from comptoir.core.lookups import slug_or_id
from comptoir.core.pagination import SortKey, page
from comptoir.desks.models import Category, Desk
from comptoir.desks.selectors import desks_visible_to, resolve_category, resolve_desk
from comptoir.kb import permissions as perms
from comptoir.kb import selectors, services
from comptoir.kb.models import Article, ArticleStatus, ArticleVariant, TicketArticle
from comptoir.kb.schemas import (
    ArticleAttachmentOut,
    ArticleDetailOut,
    ArticleIn,
    ArticlePage,
    ArticlePatch,
    DiffOut,
    FeedbackIn,
    FeedbackOut,
    FiguresOut,
    FromTicketIn,
    InsertMode,
    InsertOut,
    PublicArticleDetailOut,
    PublicArticlePage,
    RestoreIn,
    StatusIn,
    TicketLinkOut,
    VariantIn,
    VariantOut,
    VersionOut,
    VersionSummary,
    VisibilityIn,
    article_detail_out,
    article_out,
    attachment_out,
    public_article_detail_out,
    public_article_out,
    variant_out,
    version_out,
    version_summary,
)
from comptoir.tickets.selectors import get_ticket_for, tickets_visible_to

router = Router(tags=["kb"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
}
PUBLIC_ERRORS = {400: ErrorOut, 404: ErrorOut, 422: ErrorOut}
SORT = SortKey("updated_at", descending=True, is_datetime=True)


def _language(value: str | None) -> str | None:
    return services.clean_language(value) if value else None


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


def _page_out(rows: list[Article], language: str | None, next_cursor, limit: int) -> dict:
    today = timezone.localdate()
    return {
        "items": [article_out(a, language=language, today=today) for a in rows],
        "next_cursor": next_cursor,
        "limit": limit,
    }


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


def _category_filter(desk: Desk | None, value: str) -> Q:
    if desk is not None:
        return Q(category=resolve_category(desk, value))
    text = value.strip()
    return Q(category_id=int(text)) if text.isdigit() else Q(category__slug=text)


@router.get("/articles", response={200: ArticlePage, **ERRORS}, summary="List articles")
def list_articles(request: HttpRequest, filters: Query[ArticleFilters]):
    """Staff see every article of their desks; everyone else the published articles they may
    read. Newest change first."""
    actor = actor_of(request)
    language = _language(filters.language)
    articles = selectors.articles_visible_to(actor)
    desk = resolve_desk(actor, filters.desk) if filters.desk else None
    if desk is not None:
        articles = articles.filter(desk=desk)
    if filters.status:
        articles = articles.filter(status__in=[str(s) for s in filters.status])
    if filters.visibility:
        articles = articles.filter(visibility__in=[str(v) for v in filters.visibility])
    if filters.category:
        articles = articles.filter(_category_filter(desk, filters.category))
    if filters.tag:
        tagged = Article.tags.through.objects.filter(
            article_id=OuterRef("pk"), articletag__name=filters.tag.strip().lower()
        )
        articles = articles.filter(Exists(tagged))
    if filters.stale is not None:
        stale = Q(status=ArticleStatus.PUBLISHED, review_on__lt=timezone.localdate())
        articles = articles.filter(stale if filters.stale else ~stale)
    limit = min(filters.limit, settings.COMPTOIR_API_PAGE_SIZE_MAX)
    rows, next_cursor = page(
        selectors.with_list_relations(articles),
        sort="-updated",
        key=SORT,
        cursor=filters.cursor,
        limit=limit,
    )
    return _page_out(rows, language, next_cursor, limit)


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


class LanguageQuery(Schema):
    language: str | None = Field(None, description="en or fr; else English, else the first.")


@router.get(
    "/articles/{article_id}",
    response={200: ArticleDetailOut, **ERRORS},
    summary="One article, with its languages",
)
def get_article(request: HttpRequest, article_id: int, query: Query[LanguageQuery]):
    return _detail(actor_of(request), article_id, _language(query.language))


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


# --- languages and versions ------------------------------------------------------------------


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


# --- readers ---------------------------------------------------------------------------------


@router.post(
    "/articles/{article_id}/feedback",
    response={200: FeedbackOut, **ERRORS},
    summary="Say whether the article helped",
)
def feedback(request: HttpRequest, article_id: int, payload: FeedbackIn):
    """Once per person and article: a second answer replaces the first."""
    actor = actor_of(request)
    with transaction.atomic():
        article = selectors.get_article_for(actor, article_id)
        given = services.give_feedback(
            actor=actor,
            article=article,
            helpful=payload.helpful,
            comment=payload.comment,
            language=payload.language,
        )
    counts = Article.objects.filter(pk=article_id).values("helpful", "not_helpful").get()
    return {
        "helpful": given.helpful,
        "comment": given.comment,
        "language": given.language,
        "article_helpful": counts["helpful"],
        "article_not_helpful": counts["not_helpful"],
    }


# --- files -----------------------------------------------------------------------------------


@router.get(
    "/articles/{article_id}/attachments",
    response={200: list[ArticleAttachmentOut], **ERRORS},
    summary="Files of the article",
)
def list_attachments(request: HttpRequest, article_id: int):
    article = selectors.get_article_for(actor_of(request), article_id)
    return [attachment_out(a) for a in selectors.attachments_of(article)]


@router.post(
    "/articles/{article_id}/attachments",
    response={201: list[ArticleAttachmentOut], **ERRORS},
    summary="Attach files (multipart, field 'file', repeatable)",
)
def add_attachments(request: HttpRequest, article_id: int, file: File[list[UploadedFile]]):
    actor = actor_of(request)
    if not file:
        raise DomainError(
            ErrorCode.ATTACHMENT_MISSING, "Send at least one file in the 'file' field."
        )
    if any(f.file is None for f in file):
        raise DomainError(ErrorCode.ATTACHMENT_MISSING, "A file part has no content.")
    uploads = [
        services.Upload(stream=f.file, name=f.name, declared_type=f.content_type, size=f.size)
        for f in file
        if f.file is not None
    ]
    with transaction.atomic():
        article = selectors.get_article_for(actor, article_id)
        created = services.add_article_attachments(actor=actor, article=article, uploads=uploads)
    return Status(201, [attachment_out(a) for a in created])


@router.get(
    "/articles/{article_id}/attachments/{attachment_id}/download",
    response={200: None, **ERRORS},
    summary="Download a file (always as an attachment)",
)
def download_attachment(request: HttpRequest, article_id: int, attachment_id: int):
    actor = actor_of(request)
    article = selectors.get_article_for(actor, article_id)
    attachment = selectors.get_attachment_for(actor, article, attachment_id)
    return download_response(
        attachment.file.open("rb"),
        filename=attachment.filename,
        content_type=attachment.content_type,
    )


# --- tickets ---------------------------------------------------------------------------------


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
    language = _language(query.language)
    limit = settings.COMPTOIR_API_PAGE_SIZE_MAX
    rows = list(selectors.with_list_relations(selectors.articles_of_ticket(actor, ticket))[:limit])
    return _page_out(rows, language, None, limit)


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


# --- figures ---------------------------------------------------------------------------------


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


# --- public ----------------------------------------------------------------------------------


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
    language = _language(filters.language)
    articles = selectors.articles_visible_to(_public_actor())
    desk = _public_desk(filters.desk) if filters.desk else None
    if desk is not None:
        articles = articles.filter(desk=desk)
    if filters.category:
        if desk is not None:
            category = Category.objects.filter(desk=desk).filter(slug_or_id(filters.category))
            articles = articles.filter(category__in=category)
        else:
            articles = articles.filter(_category_filter(None, filters.category))
    if language:
        written = ArticleVariant.objects.filter(article_id=OuterRef("pk"), language=language)
        articles = articles.filter(Exists(written))
    limit = min(filters.limit, settings.COMPTOIR_API_PAGE_SIZE_MAX)
    rows, next_cursor = page(
        selectors.with_list_relations(articles),
        sort="-updated",
        key=SORT,
        cursor=filters.cursor,
        limit=limit,
    )
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
    language = _language(query.language)
    article = selectors.get_article_for(_public_actor(), article_id)
    return public_article_detail_out(article, language=language)


@router.get(
    "/public/articles/{article_id}/attachments/{attachment_id}",
    response={200: None, **PUBLIC_ERRORS},
    auth=None,
    summary="A file of a published public article (no sign-in)",
)
def public_attachment(request: HttpRequest, article_id: int, attachment_id: int):
    actor = _public_actor()
    article = selectors.get_article_for(actor, article_id)
    attachment = selectors.get_attachment_for(actor, article, attachment_id)
    return download_response(
        attachment.file.open("rb"),
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
