"""Articles and tickets: links both ways, an article drafted from a solved ticket, and the
text an agent inserts in a reply."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit
from comptoir.core.errors import DomainError, ErrorCode, NotFound, PermissionDenied
from comptoir.kb import permissions as perms
from comptoir.kb.models import Article, ArticleStatus, TicketArticle, Visibility
from comptoir.kb.selectors import can_see_article, variant_for
from comptoir.kb.services._common import MAX_BODY, MAX_TITLE, clean_language, invalid, languages
from comptoir.kb.services.articles import create_article
from comptoir.tickets.lifecycle import StatusCategory
from comptoir.tickets.models import Ticket

#: Where the portal shows an article; the link an agent inserts in a reply points there.
PORTAL_ARTICLE_PATH = "/portal/kb/{id}/{slug}/"


def _may_link(actor: Actor, article: Article, ticket: Ticket) -> None:
    if not perms.can_link_to_ticket(actor, ticket):
        raise PermissionDenied("Only the staff of the ticket's desk link articles to it.")
    if not can_see_article(actor, article):
        raise NotFound("article", {"id": article.pk})


@transaction.atomic
def link_article(*, actor: Actor, article: Article, ticket: Ticket) -> tuple[TicketArticle, bool]:
    """The article answers (or was written from) the ticket. Linking twice changes nothing.

    Returns the link and whether it is new.
    """
    _may_link(actor, article, ticket)
    existing = TicketArticle.objects.filter(article=article, ticket=ticket).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            link = TicketArticle.objects.create(
                article=article, ticket=ticket, linked_by=actor.user, created_at=timezone.now()
            )
    except IntegrityError:  # the same link made at the same moment by someone else
        return TicketArticle.objects.get(article=article, ticket=ticket), False
    record_audit(actor=actor, action="link", obj=article, after={"ticket": ticket.ref})
    return link, True


@transaction.atomic
def unlink_article(*, actor: Actor, article: Article, ticket: Ticket) -> None:
    _may_link(actor, article, ticket)
    deleted, _rows = TicketArticle.objects.filter(article=article, ticket=ticket).delete()
    if not deleted:
        raise DomainError(
            ErrorCode.LINK_INVALID,
            f"{article} is not linked to {ticket.ref}.",
            {"ticket": ticket.ref, "article": article.pk},
        )
    record_audit(actor=actor, action="unlink", obj=article, before={"ticket": ticket.ref})


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip().splitlines())


def draft_body(ticket: Ticket, language: str) -> str:
    """The ticket told as an article: the problem, what was said publicly, the resolution.

    Internal notes stay out: they were never meant for the requester, let alone every reader.
    """
    replies = [
        body
        for body in ticket.comments.filter(public=True)
        .order_by("created_at", "id")
        .values_list("body", flat=True)
        if body.strip()
    ]
    with translation.override(language):
        parts: list[str] = []
        if ticket.description.strip():
            parts += [f"## {_('Problem')}", ticket.description.strip()]
        if replies:
            parts.append(f"## {_('What was said')}")
            parts += [_quoted(body) for body in replies]
        if ticket.resolution.strip():
            parts += [f"## {_('Resolution')}", ticket.resolution.strip()]
    body = "\n\n".join(parts)
    if len(body) > MAX_BODY:
        body = body[: MAX_BODY - 20].rstrip() + "\n\n…"
    return body


@transaction.atomic
def draft_article_from_ticket(
    *, actor: Actor, ticket: Ticket, language: str | None = None, title: str | None = None
) -> Article:
    """An internal draft on the ticket's desk from a resolved or closed ticket, linked to it.

    The language is the one asked, else the agent's, else the default one.
    """
    if not perms.can_link_to_ticket(actor, ticket):
        raise PermissionDenied("Only the staff of the ticket's desk write articles from it.")
    if ticket.resolved_at is None or ticket.status_category not in (
        StatusCategory.RESOLVED,
        StatusCategory.CLOSED,
    ):
        raise DomainError(
            ErrorCode.NOT_RESOLVED,
            f"{ticket.ref} is not solved: an article is written from a resolved or closed ticket.",
            {"status": ticket.status},
        )
    if language:
        language = clean_language(language)
    else:
        own = actor.user.locale if actor.user is not None else ""
        language = own if own in languages() else settings.LANGUAGE_CODE
    article = create_article(
        actor=actor,
        desk=ticket.desk,
        language=language,
        title=(title or ticket.title)[:MAX_TITLE],
        body=draft_body(ticket, language),
        category=ticket.category,
        tags=list(ticket.tags.values_list("name", flat=True))[:20],
        source_ticket=ticket,
    )
    TicketArticle.objects.create(
        article=article, ticket=ticket, linked_by=actor.user, created_at=timezone.now()
    )
    return article


def _escaped(title: str) -> str:
    return title.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def portal_url(article: Article, slug: str) -> str:
    path = PORTAL_ARTICLE_PATH.format(id=article.pk, slug=slug)
    return f"{settings.COMPTOIR_BASE_URL}{path}"


def article_insert(*, actor: Actor, article: Article, language: str, mode: str = "link") -> str:
    """What an agent inserts in a reply: a Markdown link to the article's portal page, or its
    Markdown body (``mode="text"``), in ``language`` (else English, else the first)."""
    if mode not in ("link", "text"):
        raise invalid("The mode is 'link' or 'text'.", field="mode", allowed=["link", "text"])
    if not can_see_article(actor, article):
        raise NotFound("article", {"id": article.pk})
    variant = variant_for(article, clean_language(language))
    if variant is None:
        raise NotFound("language version", {"language": language})
    if mode == "text":
        return variant.body
    if article.status != ArticleStatus.PUBLISHED or article.visibility == Visibility.INTERNAL:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"{article} is not published for readers: insert its text instead of a link.",
            {"status": article.status, "visibility": article.visibility},
        )
    return f"[{_escaped(variant.title)}]({portal_url(article, variant.slug)})"
