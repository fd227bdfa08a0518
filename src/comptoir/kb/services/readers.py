"""What readers leave behind: views, "did this help?" answers, and suggestions followed or not."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from comptoir.accounts.models import User
from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, NotFound, PermissionDenied
from comptoir.desks.models import Desk
from comptoir.kb.models import Article, ArticleStatus, ArticleViewDay, Deflection, Feedback
from comptoir.kb.selectors import can_see_article
from comptoir.kb.services._common import MAX_COMMENT, MAX_QUERY, clean_language, invalid
from comptoir.tickets.models import Ticket
from comptoir.tickets.services.rating import clean_plain_text


def deflection_minutes() -> int:
    return int(getattr(settings, "COMPTOIR_KB_DEFLECTION_MINUTES", 30))


def _readable(actor: Actor, article: Article) -> None:
    if not can_see_article(actor, article):
        raise NotFound("article", {"id": article.pk})


def _person(actor: Actor) -> User | None:
    user = actor.user
    return user if user is not None and user.is_active else None


@transaction.atomic
def record_view(*, actor: Actor, article: Article, on: date | None = None) -> None:
    """One more reading: the article's counter and the day's, each an UPDATE … + 1."""
    _readable(actor, article)
    day = on or timezone.now().date()
    Article.objects.filter(pk=article.pk).update(views=F("views") + 1)
    if ArticleViewDay.objects.filter(article_id=article.pk, day=day).update(views=F("views") + 1):
        return
    try:
        with transaction.atomic():  # the first reading of the day, unless another beat us
            ArticleViewDay.objects.create(article_id=article.pk, day=day, views=1)
    except IntegrityError:
        ArticleViewDay.objects.filter(article_id=article.pk, day=day).update(views=F("views") + 1)


@transaction.atomic
def give_feedback(
    *,
    actor: Actor,
    article: Article,
    helpful: bool,
    comment: str = "",
    language: str = "en",
    session_key: str = "",
) -> Feedback:
    """A reader says whether the article helped, with an optional plain-text comment.

    A signed-in person answers once per article, a reader without an account once per browser
    session (``session_key``); a second answer replaces the first and the counters follow.
    Without an account, only public articles take feedback.
    """
    _readable(actor, article)
    if article.status != ArticleStatus.PUBLISHED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"{article} is not published: readers answer once it is.",
            {"status": article.status},
        )
    language = clean_language(language)
    text = clean_plain_text(comment, limit=MAX_COMMENT)
    user = _person(actor)
    session_key = (session_key or "")[:64] if user is None else ""
    # The article's row lock orders two answers of the same person (two tabs, a double click).
    Article.objects.select_for_update().filter(pk=article.pk).first()
    previous = None
    if user is not None:
        previous = Feedback.objects.filter(article=article, user=user).first()
    elif session_key:
        previous = Feedback.objects.filter(
            article=article, user__isnull=True, session_key=session_key
        ).first()
    now = timezone.now()
    if previous is None:
        feedback = Feedback.objects.create(
            article=article,
            user=user,
            session_key=session_key,
            language=language,
            helpful=helpful,
            comment=text,
            created_at=now,
        )
        counter = "helpful" if helpful else "not_helpful"
        Article.objects.filter(pk=article.pk).update(**{counter: F(counter) + 1})
        return feedback
    if previous.helpful != helpful:
        gained, lost = ("helpful", "not_helpful") if helpful else ("not_helpful", "helpful")
        Article.objects.filter(pk=article.pk).update(**{gained: F(gained) + 1, lost: F(lost) - 1})
    previous.helpful, previous.comment, previous.language = helpful, text, language
    previous.updated_at = now
    previous.save(update_fields=["helpful", "comment", "language", "updated_at"])
    return previous


@transaction.atomic
def record_deflection_candidate(
    *, actor: Actor, article: Article, desk: Desk, session_key: str = "", query: str = ""
) -> Deflection:
    """An article opened from the suggestions beside ``desk``'s new-ticket form.

    It counts as a deflection unless the same person (or browser session) opens a ticket on
    that desk within ``COMPTOIR_KB_DEFLECTION_MINUTES`` (see ``note_ticket_opened``).
    """
    _readable(actor, article)
    user = _person(actor)
    session_key = (session_key or "").strip()[:64]
    if user is None and not session_key:
        raise invalid("A suggestion is kept for a person or a browser session.", field="session")
    text = " ".join(clean_plain_text(query, limit=10 * MAX_QUERY).split())[:MAX_QUERY]
    return Deflection.objects.create(
        article=article,
        desk=desk,
        user=user,
        session_key=session_key,
        query=text,
        created_at=timezone.now(),
    )


@transaction.atomic
def note_ticket_opened(
    *,
    actor: Actor,
    desk: Desk,
    ticket: Ticket,
    user: User | None = None,
    session_key: str = "",
) -> int:
    """A ticket was opened on ``desk``: the suggestions the same person (or browser session)
    opened there in the last ``COMPTOIR_KB_DEFLECTION_MINUTES`` did not deflect it.

    Returns how many suggestions it cancelled. Taking the same ticket again changes nothing.
    """
    if ticket.desk_id != desk.pk:
        raise invalid("The ticket belongs to another desk.", field="ticket")
    if user is None and not session_key:
        return 0
    if user is not None and not (
        actor.is_system
        or actor.is_superuser
        or (actor.user is not None and actor.user.pk == user.pk)
        or is_staff_on(actor, desk.pk)
    ):
        raise PermissionDenied("Only the person who opened the ticket, or the desk, says so.")
    since = (
        timezone.now() - timedelta(minutes=deflection_minutes())
        if ticket.created_at is None
        else ticket.created_at - timedelta(minutes=deflection_minutes())
    )
    candidates = Deflection.objects.filter(
        desk_id=desk.pk, ticket__isnull=True, created_at__gte=since
    )
    if ticket.created_at is not None:
        candidates = candidates.filter(created_at__lte=ticket.created_at)
    if user is not None and session_key:
        candidates = candidates.filter(Q(user_id=user.pk) | Q(session_key=session_key[:64]))
    elif user is not None:
        candidates = candidates.filter(user_id=user.pk)
    else:
        candidates = candidates.filter(session_key=session_key[:64])
    return candidates.update(ticket=ticket)
