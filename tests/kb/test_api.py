"""``/api/v1/kb``: create, list and filter, settings, files, figures, the public endpoints, the
error shapes, and a list whose query count does not grow with the page."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.kb import selectors, services
from comptoir.kb.models import Article, ArticleAttachment, ArticleStatus
from tests.api.helpers import (
    FORBIDDEN,
    HIDDEN,
    UNAUTHENTICATED,
    body_of,
    error,
    expect,
    multipart,
    stored_files,
)
from tests.factories import CategoryFactory, OrganisationFactory, make_ticket
from tests.kb.conftest import unchanged
from tests.kb.factories import make_article, public_article

pytestmark = pytest.mark.django_db


# --- create ----------------------------------------------------------------------------------


def test_an_agent_writes_an_article(world, kb_api, announced):
    CategoryFactory(desk=world.desk, name="Network", slug="network")
    response = kb_api(world.agent).post(
        "kb/articles",
        {
            "desk": "it",
            "language": "fr",
            "title": "Se connecter au VPN",
            "body": "1. Ouvrez le client.\n2. **Connectez-vous**.",
            "category": "network",
            "tags": ["VPN", "Télétravail"],
            "visibility": "organisations",
            "organisations": ["acme"],
            "review_on": "2027-01-31",
        },
    )
    body = expect(response, 201)
    assert body["status"] == "draft" and body["visibility"] == "organisations"
    assert body["desk"]["slug"] == "it" and body["category"]["slug"] == "network"
    assert body["tags"] == ["télétravail", "vpn"]
    assert [o["slug"] for o in body["organisations"]] == ["acme"]
    assert body["review_on"] == "2027-01-31" and body["ref"] == f"KB-{body['id']}"
    assert body["variants"] == [
        {
            "language": "fr",
            "title": "Se connecter au VPN",
            "slug": "se-connecter-au-vpn",
            "version": 1,
            "updated_at": body["variants"][0]["updated_at"],
            "body": "1. Ouvrez le client.\n2. **Connectez-vous**.",
            "body_html": "<ol>\n<li>Ouvrez le client.</li>\n<li><strong>Connectez-vous</strong>.</li>\n</ol>\n",
        }
    ]
    assert body["allowed_actions"] == ["submit"]
    assert [e.article_id for e in announced] == [body["id"]]


BAD_INPUT = [
    ({"language": "de"}, 422, "validation_error", {"field": "language", "allowed": ["en", "fr"]}),
    ({"title": "   "}, 422, "validation_error", {"field": "title"}),
    ({"title": "x" * 251}, 422, "validation_error", {"field": "title"}),
    ({"body": "x" * 2_000_000}, 422, "validation_error", {"field": "body", "limit": 200_000}),
    ({"category": "payroll"}, 422, "unknown_category", {"category": "payroll"}),
    ({"desk": "nowhere"}, 422, "unknown_desk", {"desk": "nowhere"}),
    ({"visibility": "organisations"}, 422, "validation_error", {"field": "organisations"}),
    ({"organisations": ["nobody"], "visibility": "organisations"}, 422, "validation_error", None),
    ({"tags": ["<b>"]}, 422, "validation_error", {"field": "tags"}),
    ({"visibility": "secret"}, 422, "validation_error", None),
    ({"visibility": "public", "organisations": ["acme"]}, 422, "validation_error", None),
]


@pytest.mark.parametrize(("change", "status", "code", "details"), BAD_INPUT)
def test_bad_input_is_refused_with_a_clear_code_and_keeps_nothing(
    world, kb_api, announced, change, status, code, details
):
    CategoryFactory(desk=world.other_desk, name="Payroll", slug="payroll")
    payload = {"desk": "it", "title": "VPN", "body": "Steps.", **change}
    with unchanged(announced):
        body = error(kb_api(world.agent).post("kb/articles", payload), status, code)
    if details is not None:
        assert body["details"] == details


@pytest.mark.parametrize(
    ("persona", "outcome"),
    [
        ("anonymous", UNAUTHENTICATED),
        ("requester", FORBIDDEN),
        ("other_agent", FORBIDDEN),
        ("outsider", FORBIDDEN),
    ],
)
def test_only_staff_of_the_desk_write_there(world, kb_api, announced, persona, outcome):
    user = None if persona == "anonymous" else getattr(world, persona)
    with unchanged(announced):
        expect(kb_api(user).post("kb/articles", {"desk": "it", "title": "VPN"}), outcome)


# --- settings and status ---------------------------------------------------------------------


def test_settings_are_changed_by_patch_and_the_status_is_not(world, kb_api, announced):
    article = make_article(desk=world.desk)
    client = kb_api(world.agent)
    path = f"kb/articles/{article.pk}"
    changed = expect(
        client.patch(path, {"tags": ["wifi"], "visibility": "public", "review_on": "2027-05-01"}),
        200,
    )
    assert changed["tags"] == ["wifi"] and changed["visibility"] == "public"
    with unchanged(announced):
        error(client.patch(path, {"status": "published"}), 422, "validation_error")
        error(client.patch(path, {"visibility": None}), 422, "validation_error")
        error(client.patch(path, {"category": "nope"}), 422, "unknown_category")


def test_publishing_an_archived_article_says_what_to_do(world, kb_api):
    article = make_article(desk=world.desk, status="archived")
    body = error(
        kb_api(world.manager).post(f"kb/articles/{article.pk}/publish"), 409, "invalid_transition"
    )
    assert "return it to draft" in body["message"]
    assert body["details"] == {"status": "archived", "action": "publish", "allowed": ["draft"]}
    expect(kb_api(world.manager).post(f"kb/articles/{article.pk}/draft"), 200)
    published = expect(kb_api(world.manager).post(f"kb/articles/{article.pk}/publish"), 200)
    assert published["status"] == "published"


def test_mark_reviewed_through_the_api(world, kb_api, settings):
    settings.COMPTOIR_KB_REVIEW_DAYS = 30
    article = public_article(world.desk)
    Article.objects.filter(pk=article.pk).update(review_on=date(2020, 1, 1))
    assert expect(kb_api(world.agent).get(f"kb/articles/{article.pk}"), 200)["stale"]
    expect(kb_api(world.agent).post(f"kb/articles/{article.pk}/reviewed"), FORBIDDEN)
    body = expect(kb_api(world.admin).post(f"kb/articles/{article.pk}/reviewed"), 200)
    assert body["review_on"] == (timezone.localdate() + timedelta(days=30)).isoformat()
    assert body["stale"] is False


def test_deleting_through_the_api(world, kb_api, announced):
    article = public_article(world.desk)
    with unchanged(announced):
        expect(kb_api(world.agent).delete(f"kb/articles/{article.pk}"), FORBIDDEN)
    response = kb_api(world.manager).delete(f"kb/articles/{article.pk}")
    assert response.status_code == 204
    assert not Article.objects.exists()
    error(kb_api(world.manager).get(f"kb/articles/{article.pk}"), 404, "not_found")


# --- list ------------------------------------------------------------------------------------


def ids(response) -> list[int]:
    return [item["id"] for item in expect(response, 200)["items"]]


def test_the_list_filters(world, library, kb_api):
    network = CategoryFactory(desk=world.desk, name="Network", slug="network")
    agent = Actor.for_user(world.agent)
    services.change_article_settings(
        actor=agent, article=library.public, changes={"category": network, "tags": ["vpn"]}
    )
    Article.objects.filter(pk=library.acme.pk).update(review_on=date(2020, 1, 1))
    client = kb_api(world.agent)
    assert set(ids(client.get("kb/articles", {"desk": "it"}))) == {
        library.public.pk,
        library.acme.pk,
        library.internal.pk,
        library.draft.pk,
    }
    assert ids(client.get("kb/articles", {"status": "draft"})) == [library.draft.pk]
    assert set(ids(client.get("kb/articles", {"visibility": ["internal"]}))) == {
        library.internal.pk
    }
    assert ids(client.get("kb/articles", {"desk": "it", "category": "network"})) == [
        library.public.pk
    ]
    assert ids(client.get("kb/articles", {"category": str(network.pk)})) == [library.public.pk]
    assert ids(client.get("kb/articles", {"tag": "VPN"})) == [library.public.pk]
    assert ids(client.get("kb/articles", {"stale": "true"})) == [library.acme.pk]
    assert library.acme.pk not in ids(client.get("kb/articles", {"stale": "false"}))
    error(client.get("kb/articles", {"status": "deleted"}), 422, "validation_error")
    error(client.get("kb/articles", {"language": "xx"}), 422, "validation_error")


def test_the_list_of_a_requester_holds_what_they_may_read(world, library, kb_api):
    assert set(ids(kb_api(world.requester).get("kb/articles"))) == {
        library.public.pk,
        library.acme.pk,
        library.hr_public.pk,
    }
    expect(kb_api(None).get("kb/articles"), UNAUTHENTICATED)


def test_the_list_is_paged_by_cursor_newest_change_first(world, kb_api):
    made = [make_article(desk=world.desk, title=f"Article {n}") for n in range(5)]
    for n, article in enumerate(made):
        Article.objects.filter(pk=article.pk).update(updated_at=timezone.now() - timedelta(hours=n))
    client = kb_api(world.agent)
    first = expect(client.get("kb/articles", {"limit": 2}), 200)
    second = expect(client.get("kb/articles", {"limit": 2, "cursor": first["next_cursor"]}), 200)
    third = expect(client.get("kb/articles", {"limit": 2, "cursor": second["next_cursor"]}), 200)
    seen = [i["id"] for i in first["items"] + second["items"] + third["items"]]
    assert seen == [a.pk for a in made]
    assert third["next_cursor"] is None
    error(client.get("kb/articles", {"cursor": "garbage"}), 422, "invalid_cursor")


@pytest.fixture
def shelf(world):
    """Sixty articles in two languages with tags and a category, half of them public."""
    network = CategoryFactory(desk=world.desk, name="Network", slug="network")
    agent = Actor.for_user(world.agent)
    for n in range(60):
        article = make_article(
            desk=world.desk,
            title=f"Article {n}",
            tags=[f"tag{n % 3}", "common"],
            category=network if n % 2 else None,
            status=ArticleStatus.PUBLISHED,
            visibility="public" if n % 2 else "organisations",
            organisations=[] if n % 2 else [world.requester.organisation],
        )
        services.add_variant(actor=agent, article=article, language="fr", title=f"Article {n} fr")


@pytest.mark.parametrize("persona", ["agent", "requester", "superuser"])
def test_a_page_costs_the_same_queries_whatever_its_size(world, kb_api, shelf, persona):
    client = kb_api(getattr(world, persona))
    expect(client.get("kb/articles", {"limit": 1}), 200)  # the token's first use is written once
    counts = {}
    for limit in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            body = expect(client.get("kb/articles", {"limit": limit, "language": "fr"}), 200)
        assert len(body["items"]) == limit
        assert all(item["title"].endswith(" fr") and item["tags"] for item in body["items"])
        counts[limit] = len(queries)
    assert counts[5] == counts[50], counts
    assert counts[50] <= 8, counts


def test_the_public_list_costs_the_same_queries_whatever_its_size(world, shelf):
    counts = {}
    for limit in (5, 25):
        with CaptureQueriesContext(connection) as queries:
            body = expect(Client().get("/api/v1/kb/public/articles", {"limit": limit}), 200)
        assert len(body["items"]) == limit
        counts[limit] = len(queries)
    assert counts[5] == counts[25] <= 4, counts


# --- public ----------------------------------------------------------------------------------


def test_the_public_endpoints_answer_without_signing_in(world, library):
    client = Client()
    listed = expect(client.get("/api/v1/kb/public/articles"), 200)
    assert {i["id"] for i in listed["items"]} == {library.public.pk, library.hr_public.pk}
    assert "visibility" not in listed["items"][0] and "views" not in listed["items"][0]
    only_it = expect(client.get("/api/v1/kb/public/articles", {"desk": "IT"}), 200)
    assert [i["id"] for i in only_it["items"]] == [library.public.pk]
    one = expect(client.get(f"/api/v1/kb/public/articles/{library.public.pk}"), 200)
    assert one["title"] == "Connect to the VPN"
    assert one["body_html"] == "<p>Open <strong>Settings</strong>, then <em>VPN</em>.</p>\n"
    assert "organisations" not in one and "source_ticket" not in one


@pytest.mark.parametrize("which", ["acme", "internal", "draft", "hr_internal"])
def test_a_public_endpoint_hides_what_is_not_public_as_if_missing(world, library, which):
    article = getattr(library, which)
    client = Client()
    hidden = client.get(f"/api/v1/kb/public/articles/{article.pk}")
    missing = client.get("/api/v1/kb/public/articles/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"] == "not_found"
    assert hidden.json()["message"] == missing.json()["message"]


def test_the_public_endpoint_ignores_a_signed_in_session(world, library):
    client = Client()
    client.force_login(world.agent)
    expect(client.get(f"/api/v1/kb/public/articles/{library.internal.pk}"), HIDDEN)


def test_the_public_list_filters_by_category_and_language(world, library):
    network = CategoryFactory(desk=world.desk, name="Network", slug="network")
    agent = Actor.for_user(world.agent)
    services.change_article_settings(
        actor=agent, article=library.public, changes={"category": network}
    )
    services.add_variant(
        actor=Actor.for_user(world.other_agent),
        article=library.hr_public,
        language="fr",
        title="Congés",
    )
    client = Client()
    by_category = expect(
        client.get("/api/v1/kb/public/articles", {"desk": "it", "category": "network"}), 200
    )
    assert [i["id"] for i in by_category["items"]] == [library.public.pk]
    french = expect(client.get("/api/v1/kb/public/articles", {"language": "fr"}), 200)
    assert [(i["id"], i["title"]) for i in french["items"]] == [(library.hr_public.pk, "Congés")]
    body = error(client.get("/api/v1/kb/public/articles", {"desk": "nope"}), 422, "unknown_desk")
    assert body["details"] == {"desk": "nope"}
    error(client.get("/api/v1/kb/public/articles", {"language": "de"}), 422, "validation_error")


# --- files -----------------------------------------------------------------------------------


def test_files_are_stored_under_our_name_typed_by_their_bytes_and_downloaded(
    world, library, kb_api
):
    client = kb_api(world.agent)
    data, content_type = multipart(
        [
            ("../../etc/\u202epasswd.html", b"<svg onload=alert(1)>", "image/svg+xml"),
            ("diagram.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "application/pdf"),
        ]
    )
    response = client.client.post(
        f"/api/v1/kb/articles/{library.public.pk}/attachments",
        data=data,
        content_type=content_type,
        headers=client.headers,
    )
    files = expect(response, 201)
    assert [(f["filename"], f["content_type"]) for f in files] == [
        ("passwd.html", "text/plain"),
        ("diagram.png", "image/png"),
    ]
    assert all(".." not in path and "passwd" not in path for path in stored_files())
    listed = expect(
        kb_api(world.requester).get(f"kb/articles/{library.public.pk}/attachments"), 200
    )
    assert [f["id"] for f in listed] == [f["id"] for f in files]

    download = kb_api(world.requester).get(files[0]["download_url"])
    assert download.status_code == 200
    assert body_of(download) == b"<svg onload=alert(1)>"
    assert download["Content-Type"] == "text/plain"
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    # (Closing a streamed answer ends the test's database connection: one download a test.)


def test_a_public_article_s_image_loads_without_signing_in(world, library, kb_api):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    services.add_article_attachment(
        actor=Actor.for_user(world.agent),
        article=library.public,
        upload=services.Upload(stream=io.BytesIO(png), name="diagram.png", size=len(png)),
    )
    detail = expect(Client().get(f"/api/v1/kb/public/articles/{library.public.pk}"), 200)
    (image,) = detail["attachments"]
    assert image["content_type"] == "image/png"
    public = Client().get(image["public_url"])
    assert public.status_code == 200 and body_of(public) == png
    assert public["Content-Disposition"].startswith("attachment")


def test_files_of_an_article_follow_the_article(world, library, kb_api):
    services.add_article_attachment(
        actor=Actor.for_user(world.agent),
        article=library.internal,
        upload=services.Upload(stream=io.BytesIO(b"codes"), name="codes.txt"),
    )
    attachment = ArticleAttachment.objects.get()
    path = f"/api/v1/kb/articles/{library.internal.pk}/attachments/{attachment.pk}/download"
    expect(kb_api(world.requester).get(path), HIDDEN)
    public_path = f"/api/v1/kb/public/articles/{library.internal.pk}/attachments/{attachment.pk}"
    expect(Client().get(public_path), HIDDEN)
    assert body_of(kb_api(world.agent).get(path)) == b"codes"


def test_a_file_too_large_or_empty_is_refused_and_nothing_stays(world, library, kb_api, settings):
    settings.COMPTOIR_MAX_ATTACHMENT_SIZE = 1024
    client = kb_api(world.agent)
    url = f"/api/v1/kb/articles/{library.public.pk}/attachments"
    for files, status, code in [
        (
            [("ok.txt", b"fine", "text/plain"), ("big.bin", b"x" * 2048, "text/plain")],
            413,
            "attachment_too_large",
        ),
        ([("empty.txt", b"", "text/plain")], 422, "attachment_empty"),
    ]:
        data, content_type = multipart(files)
        response = client.client.post(
            url, data=data, content_type=content_type, headers=client.headers
        )
        error(response, status, code)
    assert not ArticleAttachment.objects.exists()
    assert stored_files() == []
    data, content_type = multipart([("note.txt", b"hello", "text/plain")])
    response = kb_api(world.requester).client.post(
        url, data=data, content_type=content_type, headers=kb_api(world.requester).headers
    )
    expect(response, FORBIDDEN)


# --- figures ---------------------------------------------------------------------------------


def test_figures_per_article_and_in_total_for_managers(world, library, kb_api):
    reader = Actor.for_user(world.requester)
    today = timezone.now().date()
    services.record_view(actor=reader, article=library.public, on=today)
    services.record_view(actor=reader, article=library.public, on=today - timedelta(days=40))
    services.record_view(actor=reader, article=library.acme, on=today)
    services.give_feedback(actor=reader, article=library.public, helpful=True)
    services.give_feedback(
        actor=Actor.for_user(world.colleague), article=library.public, helpful=False
    )
    services.record_deflection_candidate(actor=reader, article=library.public, desk=world.desk)
    services.record_deflection_candidate(actor=reader, article=library.acme, desk=world.desk)
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    services.note_ticket_opened(actor=reader, desk=world.desk, ticket=ticket, user=world.requester)
    services.record_deflection_candidate(
        actor=Actor.for_user(world.colleague), article=library.public, desk=world.desk
    )
    services.link_article(actor=Actor.for_user(world.agent), article=library.acme, ticket=ticket)
    services.record_view(actor=reader, article=library.hr_public)  # another desk

    body = expect(kb_api(world.manager).get("kb/figures", {"desk": "it"}), 200)
    assert body["desks"] == ["it"]
    assert body["until"] == today.isoformat()
    rows = {row["article_id"]: row for row in body["articles"]}
    assert set(rows) == {library.public.pk, library.acme.pk}
    public, acme = rows[library.public.pk], rows[library.acme.pk]
    assert public["title"] == "Connect to the VPN" and public["status"] == "published"
    assert (public["views"], public["helpful"], public["not_helpful"]) == (1, 1, 1)
    assert (public["suggested"], public["deflections"]) == (2, 1)
    assert (acme["views"], acme["suggested"], acme["deflections"], acme["tickets_linked"]) == (
        1,
        1,
        0,
        1,
    )
    total = body["total"]
    assert (total["views"], total["suggested"], total["deflections"], total["tickets_linked"]) == (
        2,
        3,
        1,
        1,
    )
    wide = expect(
        kb_api(world.manager).get(
            "kb/figures", {"since": (today - timedelta(days=60)).isoformat()}
        ),
        200,
    )
    assert wide["total"]["views"] == 3 and wide["desks"] == ["it"]  # the desks they manage


def test_figures_cost_the_same_queries_whatever_the_number_of_articles(world, shelf):
    today = timezone.now().date()
    reader = Actor.for_user(world.requester)
    for article in Article.objects.all()[:40]:
        services.record_view(actor=reader, article=article)
    with CaptureQueriesContext(connection) as queries:
        figures = selectors.kb_figures([world.desk.pk], today, today)
    assert len(figures.articles) == 40
    assert len(queries) == 6


@pytest.mark.parametrize(
    ("persona", "outcome"),
    [("agent", FORBIDDEN), ("change_manager", FORBIDDEN), ("requester", FORBIDDEN), ("admin", 200)],
)
def test_figures_are_for_managers(world, kb_api, persona, outcome):
    expect(kb_api(getattr(world, persona)).get("kb/figures", {"desk": "it"}), outcome)


def test_figures_refuse_a_period_upside_down(world, kb_api):
    body = error(
        kb_api(world.manager).get("kb/figures", {"since": "2026-02-01", "until": "2026-01-01"}),
        422,
        "validation_error",
    )
    assert body["details"] == {"field": "since"}


# --- the document ----------------------------------------------------------------------------


def test_the_openapi_document_lists_the_knowledge_base(world):
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/kb/articles/{article_id}/variants/{language}"]) == {"put"}
    assert set(paths["/api/v1/kb/articles/{article_id}/tickets/{ref}"]) == {"post", "delete"}
    public = paths["/api/v1/kb/public/articles/{article_id}"]["get"]
    assert "security" not in public or public["security"] == [{}] or not public["security"]
    assert json.dumps(paths).count("/api/v1/kb/") >= 20


def test_the_knowledge_base_s_schemas_leave_the_tickets_own_in_the_document():
    schemas = Client().get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert "public" in schemas["AttachmentOut"]["properties"]  # the tickets' files
    assert "public_url" in schemas["ArticleAttachmentOut"]["properties"]


def test_an_organisation_restricted_article_reaches_a_new_member(world, library, kb_api):
    newcomer_org = OrganisationFactory(name="Umbrella", slug="umbrella")
    services.change_article_settings(
        actor=Actor.for_user(world.agent),
        article=library.acme,
        changes={"organisations": [world.requester.organisation, newcomer_org]},
    )
    from tests.factories import UserFactory

    newcomer = UserFactory(email="new@umbrella.test", organisation=newcomer_org)
    assert (
        expect(kb_api(newcomer).get(f"kb/articles/{library.acme.pk}"), 200)["id"] == library.acme.pk
    )
