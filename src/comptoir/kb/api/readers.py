"""``/kb/articles/{id}/feedback``: what readers say of an article."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from comptoir.core.api import actor_of
from comptoir.kb import selectors, services
from comptoir.kb.api._common import ERRORS, router
from comptoir.kb.models import Article
from comptoir.kb.schemas import FeedbackIn, FeedbackOut


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
