"""Searching the knowledge base: each person finds only the articles they may read."""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor, ActorKind, Channel
from comptoir.kb import services as kb
from comptoir.search import selectors
from comptoir.search.models import ArticleDocument

pytestmark = pytest.mark.django_db


def titles(actor, text: str) -> list[str]:
    return [hit.variant.title for hit in selectors.search(actor, text, kinds=("article",)).articles]


ANONYMOUS = Actor(kind=ActorKind.USER, channel=Channel.PORTAL, label="anonymous")


@pytest.fixture
def articles(world):
    by = Actor.for_user(world.manager)

    def write(title, body, *, visibility="public", publish=True, organisations=(), desk=None):
        article = kb.create_article(
            actor=by if desk is None else Actor.system(),
            desk=desk or world.desk,
            language="en",
            title=title,
            body=body,
            visibility=visibility,
            organisations=list(organisations),
        )
        if publish:
            kb.publish_article(actor=Actor.system(), article=article)
        return article

    return {
        "public": write("Reset your VPN token", "Open the portal and choose *reset*."),
        "internal": write(
            "VPN concentrator failover", "Restart the standby node.", visibility="internal"
        ),
        "draft": write("VPN draft notes", "Not ready.", publish=False),
        "acme": write(
            "VPN for Acme staff",
            "Acme's own gateway.",
            visibility="organisations",
            organisations=[world.requester.organisation],
        ),
        "hr": write("VPN payroll access", "HR only.", visibility="internal", desk=world.other_desk),
    }


def test_each_reader_finds_what_they_may_read(world, articles):
    assert titles(ANONYMOUS, "vpn") == ["Reset your VPN token"]
    assert set(titles(Actor.for_user(world.requester), "vpn")) == {
        "Reset your VPN token",
        "VPN for Acme staff",
    }
    assert titles(Actor.for_user(world.outsider), "vpn") == ["Reset your VPN token"]
    assert set(titles(Actor.for_user(world.agent), "vpn")) == {
        "Reset your VPN token",
        "VPN concentrator failover",
        "VPN draft notes",
        "VPN for Acme staff",
    }
    # An agent of the other desk reads its internal article and the published public ones.
    assert set(titles(Actor.for_user(world.other_agent), "vpn")) == {
        "Reset your VPN token",
        "VPN payroll access",
        "VPN for Acme staff",
    }


def test_an_edit_is_searchable_at_once_and_the_old_words_are_gone(world, articles):
    article = articles["public"]
    variant = article.variants.get()
    kb.edit_variant(
        actor=Actor.for_user(world.manager),
        variant=variant,
        title="Renew your tunnel key",
        body="x",
    )
    assert titles(ANONYMOUS, "tunnel") == ["Renew your tunnel key"]
    assert titles(ANONYMOUS, "token") == []


def test_archiving_hides_it_from_requesters(world, articles):
    kb.archive_article(actor=Actor.for_user(world.manager), article=articles["public"])
    assert titles(ANONYMOUS, "reset") == []
    assert titles(Actor.for_user(world.agent), "reset") == ["Reset your VPN token"]


def test_a_deleted_article_leaves_no_document(world, articles):
    article = articles["draft"]
    kb.delete_article(actor=Actor.for_user(world.manager), article=article)
    assert not ArticleDocument.objects.filter(article_id=article.pk).exists()


def test_each_language_is_found_in_its_own_words(world, articles):
    article = articles["public"]
    kb.add_variant(
        actor=Actor.for_user(world.manager),
        article=article,
        language="fr",
        title="Réinitialiser votre jeton VPN",
        body="Ouvrez le portail.",
    )
    hits = selectors.search(ANONYMOUS, "jeton", kinds=("article",)).articles
    assert [(h.article.pk, h.variant.language) for h in hits] == [(article.pk, "fr")]
    # One hit per article, in the language that matched best.
    assert len(selectors.search(ANONYMOUS, "vpn", kinds=("article",)).articles) == 1


def test_an_article_number_finds_it_exactly(world, articles):
    article = articles["internal"]
    hits = selectors.search(Actor.for_user(world.agent), f"KB-{article.pk}", kinds=("article",))
    assert hits.articles[0].article == article and hits.articles[0].exact
    assert selectors.search(ANONYMOUS, f"kb-{article.pk}", kinds=("article",)).articles == []


def test_anonymous_search_through_the_api_sees_public_articles_only(world, articles, api):
    response = api(None).get("search", {"q": "vpn"})
    assert response.status_code == 200
    body = response.json()
    assert [a["title"] for a in body["articles"]] == ["Reset your VPN token"]
    assert body["tickets"] == [] and body["people"] == []


def test_a_passage_shows_the_text_a_reader_sees_not_its_markdown(world, articles):
    hit = selectors.search(ANONYMOUS, "portal", kinds=("article",)).articles[0]
    assert "choose reset" in hit.snippet and "*" not in hit.snippet
    assert "<mark>portal</mark>" in hit.snippet


def test_any_word_finds_articles_sharing_some_words_of_a_title_best_first(world, articles):
    typed = "my vpn token expired again"
    assert selectors.search(ANONYMOUS, typed, kinds=("article",)).articles == []
    hits = selectors.search(ANONYMOUS, typed, kinds=("article",), any_word=True).articles
    assert [hit.variant.title for hit in hits] == ["Reset your VPN token"]
    assert "<mark>VPN</mark>" in hits[0].title and "<mark>token</mark>" in hits[0].title
