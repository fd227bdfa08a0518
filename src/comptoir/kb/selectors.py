"""Every read of the knowledge base that depends on who asks goes through here (rule 2).

Staff of a desk see every article of that desk, in every status. Everyone else, a reader
without an account included, sees published articles that are public, or restricted to an
organisation the person belongs to; internal articles never.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum

from comptoir.accounts.permissions import is_staff_on, staff_desk_ids
from comptoir.core.actor import Actor, ActorKind, Channel
from comptoir.core.errors import NotFound
from comptoir.core.lookups import any_row
from comptoir.kb.models import (
    Article,
    ArticleAttachment,
    ArticleStatus,
    ArticleVariant,
    ArticleVersion,
    ArticleViewDay,
    Deflection,
    Feedback,
    TicketArticle,
    Visibility,
)

if TYPE_CHECKING:
    from comptoir.tickets.models import Ticket


def anonymous(channel: Channel = Channel.PORTAL) -> Actor:
    """A reader without an account: sees published public articles, and nothing else."""
    return Actor(kind=ActorKind.USER, channel=channel, label="anonymous")


def _reader(actor: Actor | None) -> Actor:
    return actor if actor is not None else anonymous()


def _org_of(actor: Actor) -> int | None:
    user = actor.user
    if user is None or not user.is_active:
        return None
    return user.organisation_id


def _readable_rule(organisation_id: int | None) -> Q:
    """Published, and public or restricted to ``organisation_id``."""
    rule = Q(visibility=Visibility.PUBLIC)
    if organisation_id is not None:
        # An Exists, not a join: an article restricted to several organisations stays one row.
        restricted = Article.organisations.through.objects.filter(
            article_id=OuterRef("pk"), organisation_id=organisation_id
        )
        rule |= Q(visibility=Visibility.ORGANISATIONS) & Q(Exists(restricted))
    return Q(status=ArticleStatus.PUBLISHED) & rule


def articles_visible_to(actor: Actor | None) -> QuerySet[Article]:
    """The articles ``actor`` may read (``None`` or ``anonymous()``: a reader without account)."""
    actor = _reader(actor)
    articles = Article.objects.all()
    if actor.is_system or actor.is_superuser:
        return articles
    rule = _readable_rule(_org_of(actor))
    desks = staff_desk_ids(actor) if actor.user is not None and actor.user.is_active else set()
    if desks:
        rule |= Q(desk_id__in=desks)
    return articles.filter(rule)


def can_see_article(actor: Actor | None, article: Article) -> bool:
    """The rule of ``articles_visible_to`` for one article already in hand."""
    actor = _reader(actor)
    if actor.is_system or actor.is_superuser:
        return True
    if actor.user is not None and actor.user.is_active and is_staff_on(actor, article.desk_id):
        return True
    if article.status != ArticleStatus.PUBLISHED:
        return False
    if article.visibility == Visibility.PUBLIC:
        return True
    organisation_id = _org_of(actor)
    if article.visibility != Visibility.ORGANISATIONS or organisation_id is None:
        return False
    return Article.organisations.through.objects.filter(
        article_id=article.pk, organisation_id=organisation_id
    ).exists()


def get_article_for(actor: Actor | None, article_id: int, *, for_update: bool = False) -> Article:
    """The article if ``actor`` may read it; missing and forbidden raise the same NotFound."""
    articles = Article.objects.select_related("desk", "category")
    if for_update:
        articles = articles.select_for_update(of=("self",))
    found = list(articles.filter(pk=article_id).order_by()[:1])
    article = found[0] if found else None
    if article is None or not can_see_article(actor, article):
        raise NotFound("article", {"id": article_id})
    return article


def with_list_relations(articles: QuerySet[Article]) -> QuerySet[Article]:
    """What a list row shows, in a fixed number of queries whatever the page size."""
    return articles.select_related("desk", "category").prefetch_related(
        Prefetch(
            "variants",
            queryset=ArticleVariant.objects.only(
                "id", "article_id", "language", "title", "slug", "version", "updated_at"
            ).order_by("id"),
        ),
        "tags",
    )


def with_detail_relations(article: Article) -> Article:
    """The article with its variants (bodies included), tags, organisations and files."""
    return (
        Article.objects.select_related("desk", "category", "source_ticket")
        .prefetch_related(
            Prefetch("variants", queryset=ArticleVariant.objects.order_by("id")),
            "tags",
            "organisations",
            "attachments",
        )
        .get(pk=article.pk)
    )


def variant_for(article: Article, language: str | None) -> ArticleVariant | None:
    """The variant in ``language``, else the English one, else the first written."""
    variants = sorted(article.variants.all(), key=lambda v: v.pk)
    if not variants:
        return None
    by_language = {v.language: v for v in variants}
    if language and language in by_language:
        return by_language[language]
    return by_language.get("en") or variants[0]


def get_variant_of(article: Article, language: str) -> ArticleVariant:
    variant = article.variants.filter(language=language).first()
    if variant is None:
        raise NotFound("language version", {"language": language})
    return variant


def stale_articles(actor: Actor | None, today: date) -> QuerySet[Article]:
    """Published articles past their review date, oldest review first."""
    return (
        articles_visible_to(actor)
        .filter(status=ArticleStatus.PUBLISHED, review_on__lt=today)
        .order_by("review_on", "id")
    )


def is_stale(article: Article, today: date) -> bool:
    return (
        article.status == ArticleStatus.PUBLISHED
        and article.review_on is not None
        and article.review_on < today
    )


def articles_of_ticket(actor: Actor | None, ticket: Ticket) -> QuerySet[Article]:
    """The articles linked to ``ticket`` that ``actor`` may read (the caller fetched the ticket
    through ``tickets.selectors.get_ticket_for``).

    Most tickets have none: a statement written out asks first, and then the visibility filter
    is neither compiled nor run.
    """
    if not any_row(TicketArticle, ticket=ticket.pk):
        return Article.objects.none()
    linked = TicketArticle.objects.filter(ticket_id=ticket.pk).values("article_id")
    return articles_visible_to(actor).filter(pk__in=linked).order_by("-updated_at", "-id")


def tickets_of_article(article: Article) -> QuerySet[TicketArticle]:
    """Links of an article the caller may already see (staff: the workspace and the API)."""
    return article.ticket_links.select_related("ticket", "linked_by").order_by("-created_at")


def versions_of(variant: ArticleVariant) -> QuerySet[ArticleVersion]:
    return variant.versions.select_related("author").defer("body").order_by("-number")


def get_version(variant: ArticleVariant, number: int) -> ArticleVersion:
    version = variant.versions.select_related("author").filter(number=number).first()
    if version is None:
        raise NotFound("version", {"number": number})
    return version


def version_diff(
    old: ArticleVersion, new: ArticleVersion, names: tuple[str, str] | None = None
) -> list[str]:
    """A unified diff of two versions, the title as the first line then the body, as lines.

    ``names``: the two versions' labels in the diff's header (``version N`` by default).
    """
    labels = names or (f"version {old.number}", f"version {new.number}")

    def lines(version: ArticleVersion) -> list[str]:
        return [f"# {version.title}", "", *version.body.splitlines()]

    return list(
        difflib.unified_diff(
            lines(old), lines(new), fromfile=labels[0], tofile=labels[1], lineterm=""
        )
    )


def attachments_of(article: Article) -> QuerySet[ArticleAttachment]:
    """The files of an article; whoever may read the article may read its files."""
    return article.attachments.order_by("created_at", "id")


def get_attachment_for(
    actor: Actor | None, article: Article, attachment_id: int
) -> ArticleAttachment:
    if not can_see_article(actor, article):
        raise NotFound("attachment", {"id": attachment_id})
    attachment = attachments_of(article).filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound("attachment", {"id": attachment_id})
    return attachment


# --- figures ---------------------------------------------------------------------------------


@dataclass
class ArticleFigures:
    article_id: int
    views: int = 0
    helpful: int = 0
    not_helpful: int = 0
    suggested: int = 0
    deflections: int = 0
    tickets_linked: int = 0
    title: str = ""
    desk_id: int = 0
    status: str = ""


@dataclass
class Figures:
    since: date
    until: date
    total: ArticleFigures = field(default_factory=lambda: ArticleFigures(article_id=0))
    articles: list[ArticleFigures] = field(default_factory=list)


COUNTED = ("views", "helpful", "not_helpful", "suggested", "deflections", "tickets_linked")


def _day_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """``since`` 00:00 UTC to the day after ``until`` (both days are counted)."""
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    return start, end


def kb_figures(desk_ids: list[int], since: date, until: date) -> Figures:
    """Per article and in total, over the days ``since`` to ``until`` (UTC, both counted):

    - ``views``: readings of the article;
    - ``helpful`` / ``not_helpful``: the readers' current answers, first given in the period;
    - ``suggested``: times it was opened from the suggestions beside a new-ticket form;
    - ``deflections``: those after which the same person opened no ticket on that desk within
      ``COMPTOIR_KB_DEFLECTION_MINUTES`` (a suggestion younger than that counts already, and
      stops counting if a ticket follows in time);
    - ``tickets_linked``: links made to tickets.

    Five grouped queries and one for the titles, whatever the number of articles.
    """
    start, end = _day_bounds(since, until)
    per: dict[int, ArticleFigures] = {}

    def row(article_id: int) -> ArticleFigures:
        if article_id not in per:
            per[article_id] = ArticleFigures(article_id=article_id)
        return per[article_id]

    in_desks = Q(article__desk_id__in=desk_ids)
    for article_id, views in (
        ArticleViewDay.objects.filter(in_desks, day__gte=since, day__lte=until)
        .values("article_id")
        .annotate(n=Sum("views"))
        .values_list("article_id", "n")
        .order_by()
    ):
        row(article_id).views = int(views or 0)
    for article_id, helpful, not_helpful in (
        Feedback.objects.filter(in_desks, created_at__gte=start, created_at__lt=end)
        .values("article_id")
        .annotate(yes=Count("id", filter=Q(helpful=True)), no=Count("id", filter=Q(helpful=False)))
        .values_list("article_id", "yes", "no")
        .order_by()
    ):
        row(article_id).helpful, row(article_id).not_helpful = helpful, not_helpful
    for article_id, suggested, deflections in (
        Deflection.objects.filter(desk_id__in=desk_ids, created_at__gte=start, created_at__lt=end)
        .values("article_id")
        .annotate(n=Count("id"), kept=Count("id", filter=Q(ticket__isnull=True)))
        .values_list("article_id", "n", "kept")
        .order_by()
    ):
        row(article_id).suggested, row(article_id).deflections = suggested, deflections
    for article_id, linked in (
        TicketArticle.objects.filter(in_desks, created_at__gte=start, created_at__lt=end)
        .values("article_id")
        .annotate(n=Count("id"))
        .values_list("article_id", "n")
        .order_by()
    ):
        row(article_id).tickets_linked = linked

    # A suggestion from another desk's form can point at an article of any desk: keep the
    # articles that still exist, with their title in the default language (else the first).
    titles: dict[int, dict[str, str]] = defaultdict(dict)
    for article_id, language, title in ArticleVariant.objects.filter(
        article_id__in=list(per)
    ).values_list("article_id", "language", "title"):
        titles[article_id][language] = title
    articles = dict(
        (pk, (desk_id, status))
        for pk, desk_id, status in Article.objects.filter(pk__in=list(per)).values_list(
            "pk", "desk_id", "status"
        )
    )
    figures = Figures(since=since, until=until)
    for article_id in sorted(per):
        if article_id not in articles:
            continue
        item = per[article_id]
        item.desk_id, item.status = articles[article_id]
        names = titles.get(article_id, {})
        item.title = names.get(settings.LANGUAGE_CODE) or next(iter(names.values()), "")
        figures.articles.append(item)
        for name in COUNTED:
            setattr(figures.total, name, getattr(figures.total, name) + getattr(item, name))
    return figures
