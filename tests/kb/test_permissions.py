"""Who reads, writes and publishes which article: one matrix per verb, through the API, and the
selectors held to the same answers."""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.kb import permissions as perms
from comptoir.kb import selectors
from comptoir.kb.models import Article, ArticleStatus
from tests.api.helpers import FORBIDDEN, HIDDEN, UNAUTHENTICATED, expect, matrix, person
from tests.kb.conftest import unchanged
from tests.kb.factories import make_article

pytestmark = pytest.mark.django_db

ARTICLES = ("public", "acme", "internal", "draft")
SEEN = (200, 200, HIDDEN, HIDDEN)  # a requester of Acme: published, public or Acme's
ALL = (200, 200, 200, 200)

READ = {
    "anonymous": (UNAUTHENTICATED,) * 4,
    "requester": SEEN,
    "colleague": SEEN,
    "outsider": (200, HIDDEN, HIDDEN, HIDDEN),  # Globex: the public article only
    "other_agent": SEEN,  # an agent elsewhere reads this desk as a member of Acme does
    "agent": ALL,
    "manager": ALL,
    "change_manager": ALL,
    "admin": ALL,
    "superuser": ALL,
}


@pytest.mark.parametrize(("persona", "which", "outcome"), matrix(READ, ARTICLES))
def test_who_reads_which_article(world, library, kb_api, persona, which, outcome):
    article: Article = getattr(library, which)
    response = kb_api(person(world, persona)).get(f"kb/articles/{article.pk}")
    body = expect(response, outcome)
    if outcome == 200:
        assert body["id"] == article.pk and body["title"] == article.variants.get().title


@pytest.mark.parametrize("persona", list(READ))
def test_the_list_shows_what_one_article_at_a_time_shows(world, library, persona):
    user = person(world, persona)
    actor = Actor.for_user(user) if user else selectors.anonymous()
    listed = set(selectors.articles_visible_to(actor).values_list("pk", flat=True))
    one_by_one = {a.pk for a in Article.objects.all() if selectors.can_see_article(actor, a)}
    assert listed == one_by_one
    if persona in ("anonymous", "outsider"):
        assert listed == {library.public.pk, library.hr_public.pk}


def test_a_hidden_article_answers_exactly_as_a_missing_one(world, library, kb_api):
    client = kb_api(world.outsider)
    hidden = client.get(f"kb/articles/{library.internal.pk}")
    missing = client.get("kb/articles/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == {**missing.json(), "details": {"id": library.internal.pk}}


WRITE = {
    "anonymous": UNAUTHENTICATED,
    "requester": FORBIDDEN,
    "colleague": FORBIDDEN,
    "outsider": FORBIDDEN,
    "other_agent": FORBIDDEN,
    "agent": 200,
    "manager": 200,
    "change_manager": 200,
    "admin": 200,
    "superuser": 200,
}


@pytest.mark.parametrize(("persona", "outcome"), matrix(WRITE))
def test_who_edits_a_public_article(world, library, kb_api, announced, persona, outcome):
    client = kb_api(person(world, persona))
    path = f"kb/articles/{library.public.pk}/variants/en"
    payload = {"title": "Connect to the VPN", "body": "New steps."}
    if outcome == 200:
        body = expect(client.put(path, payload), 200)
        assert body["version"] == 2 and body["body"] == "New steps."
        assert [e.article_id for e in announced] == [library.public.pk]
    else:
        with unchanged(announced):
            expect(client.put(path, payload), outcome)


PUBLISH = {
    "anonymous": UNAUTHENTICATED,
    "requester": HIDDEN,  # a draft is not there for them
    "colleague": HIDDEN,
    "outsider": HIDDEN,
    "other_agent": HIDDEN,
    "agent": FORBIDDEN,  # writes it, submits it; a manager publishes
    "manager": 200,
    "change_manager": FORBIDDEN,
    "admin": 200,
    "superuser": 200,
}


@pytest.mark.parametrize(("persona", "outcome"), matrix(PUBLISH))
def test_who_publishes_a_draft(world, library, kb_api, announced, persona, outcome):
    client = kb_api(person(world, persona))
    path = f"kb/articles/{library.draft.pk}/publish"
    if outcome == 200:
        body = expect(client.post(path), 200)
        assert body["status"] == "published" and body["published_at"]
        assert [e.article_id for e in announced] == [library.draft.pk]
    else:
        with unchanged(announced):
            expect(client.post(path), outcome)
        library.draft.refresh_from_db()
        assert library.draft.status == ArticleStatus.DRAFT


@pytest.mark.parametrize(
    ("persona", "outcome"),
    [
        ("agent", 200),
        ("change_manager", 200),
        ("other_agent", HIDDEN),
        ("requester", HIDDEN),
    ],
)
def test_staff_of_the_desk_submit_a_draft_for_review(world, library, kb_api, persona, outcome):
    body = expect(
        kb_api(getattr(world, persona)).post(f"kb/articles/{library.draft.pk}/submit"), outcome
    )
    if outcome == 200:
        assert body["status"] == "review"


def test_an_agent_of_another_desk_writes_nothing_there(world, library):
    actor = Actor.for_user(world.other_agent)
    assert not perms.can_write_article(actor, library.public)
    assert not perms.can_publish_article(actor, library.public)
    assert perms.can_write_article(actor, library.hr_public)
    assert not perms.can_publish_article(actor, library.hr_public)  # an agent, not a manager


def test_staff_see_drafts_of_their_desk_only(world, library):
    other_draft = make_article(desk=world.other_desk, title="HR draft")
    seen = set(
        selectors.articles_visible_to(Actor.for_user(world.agent)).values_list("pk", flat=True)
    )
    assert library.draft.pk in seen and library.internal.pk in seen
    assert other_draft.pk not in seen and library.hr_internal.pk not in seen
    assert library.hr_public.pk in seen


def test_a_deactivated_person_reads_what_a_reader_without_account_reads(world, library):
    world.agent.is_active = False
    world.agent.save()
    actor = Actor.for_user(world.agent)
    seen = set(selectors.articles_visible_to(actor).values_list("pk", flat=True))
    assert seen == {library.public.pk, library.hr_public.pk}


def test_an_article_restricted_to_two_organisations_is_listed_once(world, library):
    from tests.factories import OrganisationFactory

    initech = OrganisationFactory(name="Initech", slug="initech")
    library.acme.organisations.add(initech, world.outsider.organisation)
    ids = list(
        selectors.articles_visible_to(Actor.for_user(world.requester)).values_list("pk", flat=True)
    )
    assert ids.count(library.acme.pk) == 1
    assert library.acme in selectors.articles_visible_to(Actor.for_user(world.outsider))
