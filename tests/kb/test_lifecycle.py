"""An article's life: draft, review, published, archived, back to draft; the review date; and
every change announced to the search index inside its transaction."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.core.models import AuditEntry
from comptoir.kb import selectors, services
from comptoir.kb.events import ArticleChanged, ArticleDeleted
from comptoir.kb.models import Article, ArticleStatus, ArticleVariant, ArticleVersion
from tests.factories import CategoryFactory
from tests.kb.factories import make_article, public_article

pytestmark = pytest.mark.django_db


def test_a_new_article_is_a_draft_with_its_first_version(world, announced):
    article = services.create_article(
        actor=Actor.for_user(world.agent),
        desk=world.desk,
        language="fr",
        title="  Réinitialiser   le VPN ",
        body="Ouvrez **Réglages**.",
        tags=["VPN", "vpn", "Remote work"],
    )
    variant = article.variants.get()
    assert article.status == ArticleStatus.DRAFT and article.visibility == "internal"
    assert article.created_by == world.agent
    assert (variant.language, variant.title, variant.slug) == (
        "fr",
        "Réinitialiser le VPN",
        "reinitialiser-le-vpn",
    )
    assert variant.body_html == "<p>Ouvrez <strong>Réglages</strong>.</p>\n"
    assert list(variant.versions.values_list("number", "author")) == [(1, world.agent.pk)]
    assert sorted(article.tags.values_list("name", flat=True)) == ["remote work", "vpn"]
    assert announced == [ArticleChanged(article_id=article.pk, desk_id=world.desk.pk)]


def test_the_whole_journey_and_its_audit_trail(world):
    agent, manager = Actor.for_user(world.agent), Actor.for_user(world.manager)
    article = make_article(desk=world.desk, author=world.agent)
    services.submit_article(actor=agent, article=article)
    services.publish_article(actor=manager, article=article)
    assert article.status == "published" and article.published_at is not None
    assert article.review_on == timezone.localdate() + timedelta(days=180)
    services.archive_article(actor=manager, article=article)
    services.return_article_to_draft(actor=manager, article=article)
    article.refresh_from_db()
    assert article.status == ArticleStatus.DRAFT
    trail = list(
        AuditEntry.objects.filter(object_type="kb.article", object_id=str(article.pk))
        .order_by("id")
        .values_list("action", "after__status")
    )
    assert trail == [
        ("submit", "review"),
        ("publish", "published"),
        ("archive", "archived"),
        ("draft", "draft"),
    ]


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("archived", "publish", "archived: return it to draft before publishing it again"),
        ("published", "publish", "already published"),
        ("published", "submit", "cannot be review from there"),
        ("draft", "draft", "already draft"),
        ("archived", "archive", "already archived"),
    ],
)
def test_a_wrong_move_is_refused_clearly_and_changes_nothing(
    world, announced, status, action, message
):
    article = make_article(desk=world.desk, status=status)
    before = Article.objects.filter(pk=article.pk).values().get()
    seen = len(announced)
    with pytest.raises(DomainError) as refused:
        services.move_article(actor=Actor.for_user(world.manager), article=article, action=action)
    assert refused.value.code == "invalid_transition" and refused.value.http_status == 409
    assert message in refused.value.message
    assert refused.value.details["status"] == status
    assert Article.objects.filter(pk=article.pk).values().get() == before
    assert announced[seen:] == []


def test_the_allowed_actions_follow_the_status_and_the_role(world):
    draft = make_article(desk=world.desk)
    assert services.allowed_actions(Actor.for_user(world.agent), draft) == ["submit"]
    assert services.allowed_actions(Actor.for_user(world.manager), draft) == [
        "submit",
        "publish",
        "archive",
        "reviewed",
        "delete",
    ]
    archived = make_article(desk=world.desk, status="archived")
    assert services.allowed_actions(Actor.for_user(world.admin), archived) == ["draft", "delete"]


def test_marking_reviewed_moves_the_review_date_forward(world, settings, announced):
    settings.COMPTOIR_KB_REVIEW_DAYS = 90
    article = public_article(world.desk)
    Article.objects.filter(pk=article.pk).update(review_on=date(2020, 1, 1))
    article.refresh_from_db()
    today = date(2026, 3, 1)
    assert list(selectors.stale_articles(Actor.for_user(world.agent), today)) == [article]

    services.mark_article_reviewed(
        actor=Actor.for_user(world.manager), article=article, today=today
    )

    article.refresh_from_db()
    assert article.review_on == date(2026, 5, 30)
    assert list(selectors.stale_articles(Actor.for_user(world.agent), today)) == []
    assert announced[-1] == ArticleChanged(article_id=article.pk, desk_id=world.desk.pk)
    entry = AuditEntry.objects.filter(action="reviewed").get()
    assert entry.before == {"review_on": "2020-01-01"} and entry.after == {
        "review_on": "2026-05-30"
    }


def test_an_agent_does_not_mark_reviewed(world):
    article = public_article(world.desk)
    with pytest.raises(DomainError) as refused:
        services.mark_article_reviewed(actor=Actor.for_user(world.agent), article=article)
    assert refused.value.code == "permission_denied"


def test_stale_articles_are_the_published_ones_past_their_review_date(world):
    today = date(2026, 6, 1)
    old = public_article(world.desk, title="Old")
    fresh = public_article(world.desk, title="Fresh")
    draft = make_article(desk=world.desk, title="Draft", review_on=date(2020, 1, 1))
    Article.objects.filter(pk=old.pk).update(review_on=date(2026, 5, 31))
    Article.objects.filter(pk=fresh.pk).update(review_on=today)
    stale = list(selectors.stale_articles(Actor.for_user(world.agent), today))
    assert stale == [old]
    assert draft not in stale


def test_settings_change_category_tags_visibility_and_organisations(world, announced):
    hardware = CategoryFactory(desk=world.desk, name="Hardware", slug="hardware")
    article = make_article(desk=world.desk)
    acme = world.requester.organisation
    services.change_article_settings(
        actor=Actor.for_user(world.agent),
        article=article,
        changes={
            "category": hardware,
            "tags": ["Laptop"],
            "visibility": "organisations",
            "organisations": [acme],
            "review_on": date(2027, 1, 1),
        },
    )
    article.refresh_from_db()
    assert article.category == hardware and article.visibility == "organisations"
    assert list(article.organisations.all()) == [acme]
    assert list(article.tags.values_list("name", flat=True)) == ["laptop"]
    assert announced[-1] == ArticleChanged(article_id=article.pk, desk_id=world.desk.pk)
    entry = AuditEntry.objects.get(action="update")
    assert entry.before["visibility"] == "internal" and entry.after["organisations"] == [acme.pk]

    services.change_article_settings(
        actor=Actor.for_user(world.agent), article=article, changes={"visibility": "public"}
    )
    assert list(article.organisations.all()) == []


def test_a_category_of_another_desk_is_refused(world):
    payroll = CategoryFactory(desk=world.other_desk, name="Payroll", slug="payroll")
    article = make_article(desk=world.desk)
    with pytest.raises(DomainError) as refused:
        services.change_article_settings(
            actor=Actor.for_user(world.agent), article=article, changes={"category": payroll}
        )
    assert refused.value.code == "unknown_category"
    article.refresh_from_db()
    assert article.category is None


def test_restricting_to_no_organisation_is_refused(world):
    article = make_article(desk=world.desk)
    with pytest.raises(DomainError) as refused:
        services.change_article_settings(
            actor=Actor.for_user(world.agent),
            article=article,
            changes={"visibility": "organisations"},
        )
    assert refused.value.details == {"field": "organisations"}


def test_the_status_is_no_setting(world):
    article = make_article(desk=world.desk)
    with pytest.raises(DomainError) as refused:
        services.change_article_settings(
            actor=Actor.for_user(world.manager), article=article, changes={"status": "published"}
        )
    assert refused.value.code == "field_not_allowed"


def test_deleting_announces_before_the_rows_go_and_removes_the_files(world, settings):
    import io

    from django.test import TestCase

    from comptoir.core.events import subscribe, unsubscribe

    article = public_article(world.desk)
    services.add_article_attachment(
        actor=Actor.for_user(world.agent),
        article=article,
        upload=services.Upload(stream=io.BytesIO(b"a diagram"), name="map.txt", size=9),
    )
    rows_seen: list[int] = []

    def count_variants(event: ArticleDeleted) -> None:
        rows_seen.append(ArticleVariant.objects.filter(article_id=event.article_id).count())

    subscribe(ArticleDeleted, in_transaction=True)(count_variants)
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.delete_article(actor=Actor.for_user(world.manager), article=article)
    finally:
        unsubscribe(ArticleDeleted, count_variants)
    assert rows_seen == [1]
    assert not Article.objects.filter(pk=article.pk).exists()
    assert not ArticleVersion.objects.exists()
    stored = [p for p in (settings.MEDIA_ROOT / "kb").rglob("*") if p.is_file()]
    assert stored == []
    assert AuditEntry.objects.get(action="delete").before["titles"] == {
        "en": "Reset your VPN password"
    }


def test_an_agent_does_not_delete(world):
    article = make_article(desk=world.desk)
    with pytest.raises(DomainError) as refused:
        services.delete_article(actor=Actor.for_user(world.agent), article=article)
    assert refused.value.code == "permission_denied"
    assert Article.objects.filter(pk=article.pk).exists()
