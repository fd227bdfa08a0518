"""What readers leave: views, "did this help?" answers (once a person, the counters following a
changed answer), and suggestions that deflected a ticket or did not."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.kb import selectors, services
from comptoir.kb.models import Article, ArticleViewDay, Deflection, Feedback
from tests.api.helpers import error, expect
from tests.factories import make_ticket
from tests.kb.factories import make_article, public_article, restricted_article

pytestmark = pytest.mark.django_db


def counters(article: Article) -> tuple[int, int, int]:
    article.refresh_from_db()
    return article.views, article.helpful, article.not_helpful


# --- views -----------------------------------------------------------------------------------


def test_a_view_is_counted_by_the_database_not_read_then_written(world):
    article = public_article(world.desk)
    stale_copy = Article.objects.get(pk=article.pk)
    services.record_view(actor=Actor.for_user(world.requester), article=article)
    with CaptureQueriesContext(connection) as queries:
        services.record_view(actor=selectors.anonymous(), article=stale_copy)
    assert counters(article)[0] == 2
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert any('"views" = ("kb_article"."views" + 1)' in sql for sql in writes), writes
    assert ArticleViewDay.objects.get(article=article).views == 2


def test_views_are_kept_per_day(world):
    article = public_article(world.desk)
    reader = Actor.for_user(world.requester)
    services.record_view(actor=reader, article=article, on=date(2026, 3, 1))
    services.record_view(actor=reader, article=article, on=date(2026, 3, 2))
    services.record_view(actor=reader, article=article, on=date(2026, 3, 2))
    days = dict(ArticleViewDay.objects.values_list("day", "views"))
    assert days == {date(2026, 3, 1): 1, date(2026, 3, 2): 2}


def test_a_reader_who_may_not_read_it_adds_no_view(world, library):
    with pytest.raises(DomainError) as refused:
        services.record_view(actor=Actor.for_user(world.outsider), article=library.acme)
    assert refused.value.code == "not_found"
    assert counters(library.acme)[0] == 0


# --- feedback --------------------------------------------------------------------------------


def test_a_changed_answer_replaces_the_first_and_fixes_the_counters(world):
    article = public_article(world.desk)
    requester = Actor.for_user(world.requester)
    services.give_feedback(actor=requester, article=article, helpful=True)
    services.give_feedback(actor=Actor.for_user(world.colleague), article=article, helpful=True)
    assert counters(article)[1:] == (2, 0)

    services.give_feedback(
        actor=requester, article=article, helpful=False, comment="Step 3 is missing."
    )
    assert counters(article)[1:] == (1, 1)
    mine = Feedback.objects.get(article=article, user=world.requester)
    assert (mine.helpful, mine.comment) == (False, "Step 3 is missing.")
    assert Feedback.objects.filter(article=article).count() == 2

    services.give_feedback(actor=requester, article=article, helpful=False, comment="Still.")
    assert counters(article)[1:] == (1, 1)


def test_readers_without_an_account_answer_on_public_articles_once_per_session(world, library):
    reader = selectors.anonymous()
    services.give_feedback(actor=reader, article=library.public, helpful=True, session_key="s1")
    services.give_feedback(actor=reader, article=library.public, helpful=False, session_key="s1")
    services.give_feedback(actor=reader, article=library.public, helpful=False, session_key="s2")
    assert counters(library.public)[1:] == (0, 2)
    assert Feedback.objects.filter(article=library.public, user__isnull=True).count() == 2
    with pytest.raises(DomainError) as refused:
        services.give_feedback(actor=reader, article=library.acme, helpful=True, session_key="s1")
    assert refused.value.code == "not_found"
    assert counters(library.acme)[1:] == (0, 0)


def test_feedback_waits_for_publication(world, library):
    with pytest.raises(DomainError) as refused:
        services.give_feedback(
            actor=Actor.for_user(world.agent), article=library.draft, helpful=True
        )
    assert refused.value.code == "invalid_transition"
    assert not Feedback.objects.exists()


def test_a_feedback_comment_is_plain_text_and_limited(world, library):
    given = services.give_feedback(
        actor=Actor.for_user(world.requester),
        article=library.public,
        helpful=False,
        comment="Bad\x1b[31m \u202eecho\x00 <b>",
    )
    assert given.comment == "Bad[31m echo <b>"
    with pytest.raises(DomainError) as refused:
        services.give_feedback(
            actor=Actor.for_user(world.colleague),
            article=library.public,
            helpful=False,
            comment="x" * 2001,
        )
    assert refused.value.details == {"field": "comment"}
    assert Feedback.objects.count() == 1


def test_feedback_through_the_api(world, library, kb_api):
    client = kb_api(world.requester)
    path = f"kb/articles/{library.acme.pk}/feedback"
    first = expect(client.post(path, {"helpful": True, "language": "en"}), 200)
    assert (first["article_helpful"], first["article_not_helpful"]) == (1, 0)
    changed = expect(client.post(path, {"helpful": False, "comment": "Outdated."}), 200)
    assert (changed["article_helpful"], changed["article_not_helpful"]) == (0, 1)
    assert changed["comment"] == "Outdated."
    error(kb_api(world.outsider).post(path, {"helpful": True}), 404, "not_found")
    body = error(client.post(path, {"helpful": True, "language": "xx"}), 422, "validation_error")
    assert body["details"]["field"] == "language"
    assert counters(library.acme)[1:] == (0, 1)


# --- deflection ------------------------------------------------------------------------------


def suggest(world, article, user=None, *, session_key="", minutes_ago=0) -> Deflection:
    actor = Actor.for_user(user) if user is not None else selectors.anonymous()
    candidate = services.record_deflection_candidate(
        actor=actor, article=article, desk=world.desk, session_key=session_key, query="vpn down"
    )
    if minutes_ago:
        Deflection.objects.filter(pk=candidate.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes_ago)
        )
    return candidate


def deflections(world, article) -> int:
    today = timezone.now().date()
    figures = selectors.kb_figures([world.desk.pk], today - timedelta(days=1), today)
    return next((a.deflections for a in figures.articles if a.article_id == article.pk), 0)


def test_a_suggestion_counts_until_a_ticket_follows_within_the_window(world, library):
    suggest(world, library.public, world.requester, minutes_ago=10)
    assert deflections(world, library.public) == 1

    ticket = make_ticket(desk=world.desk, requester=world.requester, title="VPN still down")
    cancelled = services.note_ticket_opened(
        actor=Actor.for_user(world.requester), desk=world.desk, ticket=ticket, user=world.requester
    )
    assert cancelled == 1
    assert deflections(world, library.public) == 0
    assert Deflection.objects.get().ticket == ticket


def test_a_ticket_after_the_window_leaves_the_deflection_counted(world, library, settings):
    settings.COMPTOIR_KB_DEFLECTION_MINUTES = 30
    suggest(world, library.public, world.requester, minutes_ago=45)
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Something else")
    services.note_ticket_opened(
        actor=Actor.for_user(world.requester), desk=world.desk, ticket=ticket, user=world.requester
    )
    assert deflections(world, library.public) == 1
    assert Deflection.objects.get().ticket is None


def test_only_the_same_person_and_desk_cancel_a_suggestion(world, library):
    suggest(world, library.public, world.requester, minutes_ago=5)
    colleague_ticket = make_ticket(desk=world.desk, requester=world.colleague)
    services.note_ticket_opened(
        actor=Actor.for_user(world.colleague),
        desk=world.desk,
        ticket=colleague_ticket,
        user=world.colleague,
    )
    hr_ticket = make_ticket(desk=world.other_desk, requester=world.requester)
    services.note_ticket_opened(
        actor=Actor.for_user(world.requester),
        desk=world.other_desk,
        ticket=hr_ticket,
        user=world.requester,
    )
    assert deflections(world, library.public) == 1


def test_a_reader_known_by_session_only_is_followed_by_session(world, library):
    suggest(world, library.public, session_key="abc", minutes_ago=3)
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    services.note_ticket_opened(
        actor=selectors.anonymous(), desk=world.desk, ticket=ticket, session_key="abc"
    )
    assert Deflection.objects.get().ticket == ticket


def test_a_ticket_opened_by_any_door_cancels_the_suggestion(world, library):
    suggest(world, library.public, world.requester, minutes_ago=2)
    with TestCase.captureOnCommitCallbacks(execute=True):
        ticket = make_ticket(desk=world.desk, requester=world.requester, title="Mailed in")
    assert Deflection.objects.get().ticket == ticket


def test_a_ticket_where_no_suggestion_is_open_writes_nothing(world, library):
    suggest(world, library.public, world.requester, minutes_ago=45)  # outside the window
    with TestCase.captureOnCommitCallbacks() as after_commit:
        make_ticket(desk=world.desk, requester=world.requester, title="Printer jam")
    with CaptureQueriesContext(connection) as statements:
        for callback in after_commit:
            callback()
    deflection_sql = [q["sql"] for q in statements if "kb_deflection" in q["sql"]]
    assert len(deflection_sql) == 1
    assert deflection_sql[0].lstrip().upper().startswith("SELECT")
    assert Deflection.objects.get().ticket is None


def test_no_one_cancels_someone_else_s_suggestions(world, library):
    suggest(world, library.public, world.requester, minutes_ago=2)
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with pytest.raises(DomainError) as refused:
        services.note_ticket_opened(
            actor=Actor.for_user(world.outsider),
            desk=world.desk,
            ticket=ticket,
            user=world.requester,
        )
    assert refused.value.code == "permission_denied"
    assert Deflection.objects.get().ticket is None


def test_a_suggestion_needs_someone_to_follow(world, library):
    with pytest.raises(DomainError) as refused:
        services.record_deflection_candidate(
            actor=selectors.anonymous(), article=library.public, desk=world.desk
        )
    assert refused.value.details == {"field": "session"}


def test_an_article_the_reader_may_not_read_is_no_suggestion(world, library):
    with pytest.raises(DomainError):
        services.record_deflection_candidate(
            actor=Actor.for_user(world.outsider), article=library.acme, desk=world.desk
        )
    assert not Deflection.objects.exists()


def test_restricted_articles_take_feedback_from_their_organisations(world):
    article = restricted_article(world.desk, [world.requester.organisation])
    services.give_feedback(actor=Actor.for_user(world.colleague), article=article, helpful=True)
    with pytest.raises(DomainError):
        services.give_feedback(actor=Actor.for_user(world.outsider), article=article, helpful=True)
    assert counters(article)[1:] == (1, 0)


def test_a_draft_is_read_by_staff_without_counting_feedback(world):
    article = make_article(desk=world.desk)
    services.record_view(actor=Actor.for_user(world.agent), article=article)
    assert counters(article) == (1, 0, 0)
