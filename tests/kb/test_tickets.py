"""Articles and tickets: links, an article drafted from a solved ticket, and what an agent
inserts in a reply."""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.kb import selectors, services
from comptoir.kb.models import Article, TicketArticle
from comptoir.tickets import services as tickets
from tests.api.helpers import FORBIDDEN, HIDDEN, error, expect
from tests.factories import CategoryFactory, make_ticket
from tests.kb.conftest import unchanged
from tests.kb.factories import make_article, public_article

pytestmark = pytest.mark.django_db


@pytest.fixture
def solved(world):
    """IT-000001, resolved: a description, a public reply from each side, a note, a resolution."""
    laptops = CategoryFactory(desk=world.desk, name="Laptops", slug="laptops")
    ticket = make_ticket(
        desk=world.desk,
        requester=world.requester,
        title="Laptop fan is loud",
        description="The fan runs **all the time**.\nEven when idle.",
        category=laptops,
        tags=["laptop", "noise"],
    )
    agent = Actor.for_user(world.agent)
    tickets.add_comment(actor=agent, ticket=ticket, body="Is the BIOS up to date?")
    tickets.add_comment(
        actor=Actor.for_user(world.requester), ticket=ticket, body="Version 1.02.\nFrom 2021."
    )
    tickets.add_comment(actor=agent, ticket=ticket, body="Vendor ticket 4711.", public=False)
    tickets.resolve_ticket(actor=agent, ticket=ticket, resolution="Updated the BIOS to 1.15.")
    ticket.refresh_from_db()
    return ticket


def test_an_article_drafted_from_a_solved_ticket(world, solved, announced):
    article = services.draft_article_from_ticket(actor=Actor.for_user(world.agent), ticket=solved)
    variant = article.variants.get()
    assert (article.status, article.visibility) == ("draft", "internal")
    assert article.source_ticket == solved and article.category == solved.category
    assert sorted(article.tags.values_list("name", flat=True)) == ["laptop", "noise"]
    assert (variant.language, variant.title) == ("en", "Laptop fan is loud")
    assert variant.body == (
        "## Problem\n\n"
        "The fan runs **all the time**.\nEven when idle.\n\n"
        "## What was said\n\n"
        "> Is the BIOS up to date?\n\n"
        "> Version 1.02.\n> From 2021.\n\n"
        "## Resolution\n\n"
        "Updated the BIOS to 1.15."
    )
    assert "4711" not in variant.body  # the internal note stays on the ticket
    assert TicketArticle.objects.filter(article=article, ticket=solved).exists()
    assert announced[-1].article_id == article.pk


def test_a_draft_in_french_has_french_headings(world, solved):
    world.agent.locale = "fr"
    world.agent.save()
    article = services.draft_article_from_ticket(actor=Actor.for_user(world.agent), ticket=solved)
    variant = article.variants.get()
    assert variant.language == "fr"
    assert variant.body.startswith("## Problème\n\n")
    assert "## Ce qui a été dit" in variant.body and "## Résolution" in variant.body


def test_an_open_or_cancelled_ticket_gives_no_article(world):
    open_ticket = make_ticket(desk=world.desk, requester=world.requester)
    cancelled = make_ticket(desk=world.desk, requester=world.requester)
    tickets.cancel_ticket(actor=Actor.for_user(world.requester), ticket=cancelled)
    for ticket in (open_ticket, cancelled):
        with pytest.raises(DomainError) as refused:
            services.draft_article_from_ticket(actor=Actor.for_user(world.agent), ticket=ticket)
        assert refused.value.code == "not_resolved"
    assert not Article.objects.exists()


@pytest.mark.parametrize(
    ("persona", "outcome"),
    [
        ("agent", 201),
        ("manager", 201),
        ("other_agent", FORBIDDEN),  # sees the ticket as a member of Acme, is no staff here
        ("requester", FORBIDDEN),  # they see their ticket, but write no article
        ("outsider", HIDDEN),  # the ticket is not theirs to see
    ],
)
def test_who_drafts_from_a_ticket_through_the_api(
    world, solved, kb_api, announced, persona, outcome
):
    client = kb_api(getattr(world, persona))
    path = f"kb/articles/from-ticket/{solved.ref.lower()}"
    if outcome == 201:
        body = expect(client.post(path, {"title": "Loud laptop fans", "language": "fr"}), 201)
        assert body["title"] == "Loud laptop fans" and body["language"] == "fr"
        assert body["source_ticket"] == solved.ref and body["status"] == "draft"
    else:
        with unchanged(announced):
            expect(client.post(path), outcome)


def test_linking_and_unlinking_through_the_api(world, solved, library, kb_api):
    client = kb_api(world.agent)
    path = f"kb/articles/{library.public.pk}/tickets/{solved.ref}"
    linked = expect(client.post(path), 201)
    assert linked["ref"] == solved.ref and linked["linked_by"]["email"] == world.agent.email
    assert expect(client.post(path), 200)["ref"] == solved.ref  # again: nothing new
    assert TicketArticle.objects.count() == 1

    on_ticket = expect(client.get(f"kb/tickets/{solved.ref}/articles"), 200)
    assert [a["id"] for a in on_ticket["items"]] == [library.public.pk]
    mine = expect(kb_api(world.requester).get(f"kb/tickets/{solved.ref}/articles"), 200)
    assert [a["id"] for a in mine["items"]] == [library.public.pk]
    links = expect(client.get(f"kb/articles/{library.public.pk}/tickets"), 200)
    assert [link["ref"] for link in links] == [solved.ref]

    assert client.delete(path).status_code == 204
    assert not TicketArticle.objects.exists()
    error(client.delete(path), 422, "link_invalid")


def test_a_requester_sees_only_the_linked_articles_they_may_read(world, solved, library):
    agent = Actor.for_user(world.agent)
    for article in (library.public, library.internal, library.draft, library.hr_public):
        services.link_article(actor=agent, article=article, ticket=solved)
    seen = set(selectors.articles_of_ticket(Actor.for_user(world.requester), solved))
    assert seen == {library.public, library.hr_public}
    assert set(selectors.articles_of_ticket(agent, solved)) == {
        library.public,
        library.internal,
        library.draft,
        library.hr_public,
    }


@pytest.mark.parametrize(
    ("persona", "which", "outcome"),
    [
        ("agent", "hr_public", 201),  # another desk's article they may read
        ("agent", "hr_internal", HIDDEN),  # another desk's internal article: not for them
        ("other_agent", "public", FORBIDDEN),  # a ticket of another desk
        ("outsider", "public", HIDDEN),  # a ticket they may not see
        ("requester", "public", FORBIDDEN),  # their ticket, but linking is staff work
    ],
)
def test_who_links_which_article(
    world, solved, library, kb_api, announced, persona, which, outcome
):
    article = getattr(library, which)
    client = kb_api(getattr(world, persona))
    path = f"kb/articles/{article.pk}/tickets/{solved.ref}"
    if outcome == 201:
        expect(client.post(path), 201)
    else:
        with unchanged(announced):
            expect(client.post(path), outcome)


def test_inserting_a_link_or_the_text_in_a_reply(world, library, kb_api, settings):
    settings.COMPTOIR_BASE_URL = "https://help.acme.test"
    agent = Actor.for_user(world.agent)
    services.add_variant(
        actor=agent, article=library.public, language="fr", title="Se connecter [VPN]"
    )
    link = services.article_insert(actor=agent, article=library.public, language="fr")
    assert link == (
        f"[Se connecter \\[VPN\\]](https://help.acme.test/portal/kb/{library.public.pk}"
        "/se-connecter-vpn/)"
    )
    text = services.article_insert(actor=agent, article=library.public, language="en", mode="text")
    assert text == "Open **Settings**, then *VPN*."

    client = kb_api(world.agent)
    body = expect(client.get(f"kb/articles/{library.internal.pk}/insert", {"mode": "text"}), 200)
    assert body["text"] == "Open **Settings**, then *VPN*."
    refused = error(
        client.get(f"kb/articles/{library.internal.pk}/insert"), 409, "invalid_transition"
    )
    assert refused["details"] == {"status": "published", "visibility": "internal"}
    error(client.get(f"kb/articles/{library.draft.pk}/insert"), 409, "invalid_transition")
    error(
        client.get(f"kb/articles/{library.public.pk}/insert", {"mode": "html"}),
        422,
        "validation_error",
    )


def test_a_link_to_a_ticket_is_kept_until_the_article_goes(world, solved):
    article = public_article(world.desk)
    services.link_article(actor=Actor.for_user(world.agent), article=article, ticket=solved)
    services.delete_article(actor=Actor.for_user(world.manager), article=article)
    assert not TicketArticle.objects.exists()
    solved.refresh_from_db()  # the ticket stays


def test_an_article_written_from_a_ticket_survives_the_ticket_link(world, solved):
    article = make_article(desk=world.desk, source_ticket=solved)
    assert article.source_ticket == solved
