"""The knowledge base in the workspace: who may open its pages, the list and its filters (and
its query count), writing, editing (a new version), the diff and a restore, the status actions
(publish refused to an agent, allowed to a manager), files, and, on a ticket's page, the linked
articles, the picker that inserts one into the reply, and an article drafted from a solved
ticket. Everything goes through the knowledge base's services: the tests read the rows they
left.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from comptoir.core.actor import Actor
from comptoir.kb import services as kb_services
from comptoir.kb.models import Article, ArticleAttachment, ArticleVersion, TicketArticle
from comptoir.tickets import services as tickets
from tests.api.helpers import PERSONAS, person
from tests.factories import CategoryFactory
from tests.kb.conftest import announced, unchanged  # noqa: F401
from tests.kb.factories import internal_article, make_article, public_article

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def browser(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def html_of(response) -> str:
    return response.content.decode()


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_of(response))))


def listed(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-article="(\d+)"', html)]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- who may open the pages ----------------------------------------------------------------------

#: /desk/kb/ and an internal article of the IT desk: its staff; an agent of another desk finds
#: no such article (404); requesters get the workspace's 403 page; anonymous signs in.
PAGES = {
    "anonymous": ("login", "login"),
    "requester": (403, 403),
    "colleague": (403, 403),
    "outsider": (403, 403),
    "other_agent": (200, 404),
    "agent": (200, 200),
    "manager": (200, 200),
    "change_manager": (200, 200),
    "admin": (200, 200),
    "superuser": (200, 200),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_knowledge_base_pages_are_for_the_desks_staff(world, persona):
    article = internal_article(world.desk, title="Server room door code", body="Code 1234.")
    client = browser(person(world, persona))
    listing, page = PAGES[persona]
    for url, expected in ((("/desk/kb/"), listing), (f"/desk/kb/{article.pk}/", page)):
        response = client.get(url)
        if expected == "login":
            assert response.status_code == 302 and response["Location"].startswith("/login/")
            continue
        assert response.status_code == expected, url
        if expected != 200:
            assert "Code 1234" not in html_of(response)
    for url in (
        f"/desk/kb/{article.pk}/edit",
        f"/desk/kb/{article.pk}/history",
        f"/desk/kb/{article.pk}/language",
    ):
        response = client.get(url)
        if page == 200:
            assert response.status_code == 200, url
        elif page != "login":
            assert response.status_code == page, url
            assert "Code 1234" not in html_of(response)


def test_another_desks_public_article_opens_in_the_portal(world):
    article = public_article(world.desk, title="Connect to the VPN")
    response = browser(world.other_agent).get(f"/desk/kb/{article.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/portal/kb/{article.pk}/connect-to-the-vpn/"


def test_an_agent_of_another_desk_changes_nothing(world, announced):  # noqa: F811
    article = make_article(desk=world.desk, title="Draft runbook")
    client = browser(world.other_agent)
    with unchanged(announced):
        for url, data in (
            (
                f"/desk/kb/{article.pk}/edit",
                {"language": "en", "title": "x", "visibility": "public"},
            ),
            (f"/desk/kb/{article.pk}/do/submit", {}),
            (f"/desk/kb/{article.pk}/restore", {"language": "en", "number": "1"}),
            (f"/desk/kb/{article.pk}/language", {"language": "fr", "title": "x"}),
        ):
            assert client.post(url, data).status_code == 404, url


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_every_status_of_the_agents_desks_and_filters_them(world):
    hardware = CategoryFactory(desk=world.desk, name="Hardware", slug="hardware")
    draft = make_article(desk=world.desk, title="Half written", tags=["vpn"], visibility="public")
    internal = internal_article(world.desk, title="Door code", category=hardware)
    public = public_article(world.desk, title="Connect to the VPN", tags=["vpn", "remote"])
    stale = public_article(world.desk, title="Old fax guide")
    Article.objects.filter(pk=stale.pk).update(review_on=timezone.localdate() - timedelta(days=1))
    hr_internal = internal_article(world.other_desk, title="Payroll runbook")
    public_article(world.other_desk, title="Holiday requests")  # another desk's: not listed
    client = browser(world.agent)

    def shown(**params) -> set[int]:
        response = client.get("/desk/kb/", params)
        assert response.status_code == 200
        return set(listed(html_of(response)))

    assert shown() == {draft.pk, internal.pk, public.pk, stale.pk}
    assert shown(status="draft") == {draft.pk}
    assert shown(visibility="internal") == {internal.pk}
    assert shown(tag="VPN") == {draft.pk, public.pk}
    assert shown(category=str(hardware.pk)) == {internal.pk}
    assert shown(stale="yes") == {stale.pk}
    assert stale.pk not in shown(stale="no")
    assert shown(desk="hr") == shown()  # a desk the agent does not work is not trusted
    assert hr_internal.pk not in shown(status="published")
    html = html_of(client.get("/desk/kb/", {"stale": "yes"}))
    assert "Due for review" in html and "Old fax guide" in html
    # Newest change first.
    assert listed(html_of(client.get("/desk/kb/")))[0] == stale.pk


def test_the_list_query_count_does_not_grow_with_the_page_size(world):
    client = browser(world.agent)

    def queries(count: int) -> int:
        for n in range(count - Article.objects.count()):
            make_article(desk=world.desk, title=f"Article {n}", tags=["one", f"t{n}"])
        client.get("/desk/kb/")  # the session and the caches, warmed
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/desk/kb/")
        assert len(listed(html_of(response))) == count
        return len(captured)

    assert queries(3) == queries(30)


def test_the_list_goes_page_by_page(world):
    for n in range(52):
        make_article(desk=world.desk, title=f"Article {n}")
    client = browser(world.agent)
    first = html_of(client.get("/desk/kb/"))
    cursor = re.search(r"cursor=([^\"&]+)", first).group(1)
    second = html_of(client.get(f"/desk/kb/?cursor={cursor}"))
    assert len(listed(first)) == 50 and len(listed(second)) == 2
    assert not set(listed(first)) & set(listed(second))
    bad = client.get("/desk/kb/?cursor=not-a-cursor")
    assert bad.status_code == 200 and "back to its start" in html_of(bad)


# --- writing -------------------------------------------------------------------------------------


def test_an_agent_writes_a_new_article_as_a_draft(world):
    hardware = CategoryFactory(desk=world.desk, name="Hardware", slug="hardware")
    client = browser(world.agent)
    assert client.get("/desk/kb/new").status_code == 200
    response = client.post(
        "/desk/kb/new",
        {
            "desk": "it",
            "language": "en",
            "title": "  Reset the  printer ",
            "body": "Hold **Reset** for 5 s.",
            "category": str(hardware.pk),
            "tags": "printer, Reset",
            "visibility": "public",
            "review_on": "",
        },
    )
    article = Article.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/desk/kb/{article.pk}/"
    variant = article.variants.get()
    assert (article.status, article.visibility, article.category) == ("draft", "public", hardware)
    assert (variant.title, variant.version) == ("Reset the printer", 1)
    assert sorted(article.tags.values_list("name", flat=True)) == ["printer", "reset"]
    page = html_of(client.get(response["Location"]))
    assert "<strong>Reset</strong>" in page and "is saved as a draft" in page


def test_a_refused_article_keeps_what_was_typed_and_saves_nothing(world, announced):  # noqa: F811
    client = browser(world.agent)
    with unchanged(announced):
        empty = client.post("/desk/kb/new", {"desk": "it", "language": "en", "title": ""})
        bad_tag = client.post(
            "/desk/kb/new",
            {
                "desk": "it",
                "language": "en",
                "title": "Printer",
                "body": "Keep me",
                "tags": "ok, <script>",
                "visibility": "internal",
            },
        )
        no_orgs = client.post(
            "/desk/kb/new",
            {"desk": "it", "language": "en", "title": "Printer", "visibility": "organisations"},
        )
        other_desk = client.post(
            "/desk/kb/new",
            {"desk": "hr", "language": "en", "title": "Payroll", "visibility": "internal"},
        )
    assert empty.status_code == 422
    assert bad_tag.status_code == 422
    html = html_of(bad_tag)
    assert "A tag holds letters" in html and "Keep me" in html and "&lt;script&gt;" in html
    assert no_orgs.status_code == 422 and "Choose at least one organisation" in html_of(no_orgs)
    assert other_desk.status_code == 422  # not a desk the agent may write on


def test_editing_adds_a_version_and_changes_the_settings(world, announced):  # noqa: F811
    article = make_article(desk=world.desk, title="VPN", body="Step one.", tags=["vpn"])
    client = browser(world.agent)
    form = html_of(client.get(f"/desk/kb/{article.pk}/edit?lang=en"))
    seen = len(announced)
    assert 'name="version" value="1"' in form and "Step one." in form
    response = client.post(
        f"/desk/kb/{article.pk}/edit",
        {
            "language": "en",
            "version": "1",
            "title": "Connect to the VPN",
            "body": "Step one.\nStep two.",
            "note": "Added step two",
            "tags": "vpn, remote",
            "visibility": "internal",
        },
    )
    assert response.status_code == 302
    variant = article.variants.get()
    assert (variant.version, variant.title) == (2, "Connect to the VPN")
    assert list(variant.versions.values_list("number", "note")) == [
        (2, "Added step two"),
        (1, ""),
    ]
    assert sorted(article.tags.values_list("name", flat=True)) == ["remote", "vpn"]
    # The new version and the settings, each announced to the search index.
    assert [type(e).__name__ for e in announced[seen:]] == ["ArticleChanged", "ArticleChanged"]


def test_a_refused_edit_keeps_neither_the_text_nor_the_settings(world, announced):  # noqa: F811
    article = make_article(desk=world.desk, title="VPN", body="Step one.", tags=["vpn"])
    client = browser(world.agent)
    with unchanged(announced):
        response = client.post(
            f"/desk/kb/{article.pk}/edit",
            {
                "language": "en",
                "version": "1",
                "title": "VPN",
                "body": "A new text.",
                "tags": "vpn, bad/tag",
                "visibility": "internal",
            },
        )
    assert response.status_code == 422
    html = html_of(response)
    assert "A tag holds letters" in html and "A new text." in html


def test_a_version_saved_meanwhile_is_never_written_over(world, announced):  # noqa: F811
    article = make_article(desk=world.desk, title="VPN", body="Step one.")
    variant = article.variants.get()
    kb_services.edit_variant(
        actor=Actor.for_user(world.manager), variant=variant, body="The manager's text."
    )
    client = browser(world.agent)
    with unchanged(announced):
        response = client.post(
            f"/desk/kb/{article.pk}/edit",
            {
                "language": "en",
                "version": "1",
                "title": "VPN",
                "body": "My text.",
                "visibility": "internal",
            },
        )
    assert response.status_code == 409
    html = html_of(response)
    assert "Someone saved version 2" in html and "My text." in html


def test_the_history_shows_the_diff_and_restores_a_version(world):
    article = make_article(desk=world.desk, title="VPN", body="Line one.\n<script>bad()</script>")
    variant = article.variants.get()
    agent = Actor.for_user(world.agent)
    kb_services.edit_variant(
        actor=agent, variant=variant, title="VPN access", body="Line one.\nLine 2."
    )
    client = browser(world.agent)
    html = html_of(client.get(f"/desk/kb/{article.pk}/history", {"lang": "en", "old": 1, "new": 2}))
    assert (
        '<span class="diff-remove"><span class="visually-hidden">removed: </span>-# VPN</span>'
        in html
    )
    assert (
        '<span class="diff-add"><span class="visually-hidden">added: </span>+# VPN access</span>'
        in html
    )
    assert "-&lt;script&gt;bad()&lt;/script&gt;" in html and "<script>bad" not in html
    assert (
        '<span class="diff-add"><span class="visually-hidden">added: </span>+Line 2.</span>' in html
    )
    # Opened without a choice, it shows what the latest version changed.
    latest = html_of(client.get(f"/desk/kb/{article.pk}/history"))
    assert "From version 1 to version 2" in latest
    missing = client.get(f"/desk/kb/{article.pk}/history", {"old": 9})
    assert missing.status_code == 404 and "no such version" in html_of(missing)

    response = client.post(f"/desk/kb/{article.pk}/restore", {"language": "en", "number": "1"})
    assert response.status_code == 302
    variant.refresh_from_db()
    assert (variant.version, variant.title) == (3, "VPN")
    restored = ArticleVersion.objects.get(variant=variant, number=3)
    assert restored.restored_from == 1 and restored.body == "Line one.\n<script>bad()</script>"
    assert "Version 1 is restored as version 3." in text_of(client.get(response["Location"]))


def test_a_new_language_is_added_and_listed(world):
    article = make_article(desk=world.desk, title="Printer", body="Press the button.")
    client = browser(world.agent)
    response = client.post(
        f"/desk/kb/{article.pk}/language",
        {"language": "fr", "title": "Imprimante", "body": "Appuyez sur le bouton."},
    )
    assert response.status_code == 302 and response["Location"].endswith("?lang=fr")
    html = html_of(client.get(response["Location"]))
    assert "Appuyez sur le bouton." in html and 'hreflang="en"' in html and 'hreflang="fr"' in html
    again = client.post(f"/desk/kb/{article.pk}/language", {"language": "fr", "title": "x"})
    assert again.status_code == 200 and "written in every language" in html_of(again)


# --- status actions ------------------------------------------------------------------------------


def test_publishing_is_refused_to_an_agent_and_allowed_to_a_manager(world, announced):  # noqa: F811
    article = make_article(desk=world.desk, title="VPN", visibility="public")
    agent = browser(world.agent)
    page = html_of(agent.get(f"/desk/kb/{article.pk}/"))
    assert f"/desk/kb/{article.pk}/do/submit" in page
    assert f"/desk/kb/{article.pk}/do/publish" not in page
    with unchanged(announced):
        refused = agent.post(f"/desk/kb/{article.pk}/do/publish")
    assert refused.status_code == 403
    assert "ask one of the desk's managers" in text_of(refused)

    submitted = agent.post(f"/desk/kb/{article.pk}/do/submit", {"lang": "en"})
    assert (
        submitted.status_code == 302 and submitted["Location"] == f"/desk/kb/{article.pk}/?lang=en"
    )
    manager = browser(world.manager)
    assert f"/desk/kb/{article.pk}/do/publish" in html_of(manager.get(f"/desk/kb/{article.pk}/"))
    published = manager.post(f"/desk/kb/{article.pk}/do/publish")
    article.refresh_from_db()
    assert published.status_code == 302 and article.status == "published"
    assert "is published" in text_of(manager.get(published["Location"]))
    again = manager.post(f"/desk/kb/{article.pk}/do/submit")
    assert again.status_code == 409 and "status changed meanwhile" in html_of(again)
    assert manager.post(f"/desk/kb/{article.pk}/do/nonsense").status_code == 404


def test_a_manager_deletes_an_article(world):
    article = make_article(desk=world.desk, title="Mistake")
    assert browser(world.agent).post(f"/desk/kb/{article.pk}/do/delete").status_code == 403
    response = browser(world.manager).post(f"/desk/kb/{article.pk}/do/delete")
    assert response.status_code == 302 and response["Location"] == "/desk/kb/"
    assert not Article.objects.exists()


def test_figures_are_shown_to_the_desks_managers(world):
    article = public_article(world.desk, title="VPN")
    kb_services.record_view(actor=Actor.for_user(world.requester), article=article)
    assert "data-figures" not in html_of(browser(world.agent).get(f"/desk/kb/{article.pk}/"))
    html = html_of(browser(world.manager).get(f"/desk/kb/{article.pk}/"))
    assert "data-figures" in html and "Spared a ticket" in html


# --- files ---------------------------------------------------------------------------------------


def test_files_are_uploaded_and_downloaded(world):
    article = make_article(desk=world.desk, title="Printer")
    client = browser(world.agent)
    upload = io.BytesIO(b"<svg onload=alert(1)>")
    upload.name = "../../diagram.svg"
    response = client.post(f"/desk/kb/{article.pk}/files", {"uploads": [upload]})
    assert response.status_code == 302
    file = ArticleAttachment.objects.get()
    assert "/" not in file.filename and file.content_type == "text/plain"
    download = client.get(f"/desk/kb/{article.pk}/files/{file.pk}")
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    empty = io.BytesIO(b"")
    empty.name = "empty.txt"
    client.post(f"/desk/kb/{article.pk}/files", {"uploads": [empty]})
    assert ArticleAttachment.objects.count() == 1
    other = browser(world.other_agent).get(f"/desk/kb/{article.pk}/files/{file.pk}")
    assert other.status_code == 404


# --- on a ticket's page --------------------------------------------------------------------------


def test_the_ticket_page_links_and_unlinks_articles(world, scene):
    article = public_article(world.desk, title="Boot from USB")
    client = browser(world.agent)
    ref = scene.ticket.ref
    assert "No article is linked to this ticket." in html_of(client.get(f"/desk/t/{ref}/"))
    linked = client.post(
        f"/desk/t/{ref}/articles/link", {"article": f"kb-{article.pk}"}, headers=HTMX
    )
    assert linked.status_code == 200
    panel = html_of(linked)
    assert panel.startswith('<section class="panel relations knowledge" id="knowledge"')
    assert f'data-article="{article.pk}"' in panel and "is linked to this ticket" in panel
    assert TicketArticle.objects.filter(ticket=scene.ticket, article=article).exists()
    page = html_of(client.get(f"/desk/t/{ref}/"))
    assert "Boot from USB" in page.split('id="knowledge"')[1]

    unlinked = client.post(f"/desk/t/{ref}/articles/unlink", {"article": article.pk})
    assert unlinked.status_code == 302  # without script: the page comes back
    assert not TicketArticle.objects.exists()
    again = client.post(f"/desk/t/{ref}/articles/unlink", {"article": article.pk}, headers=HTMX)
    assert "is not linked to this ticket" in html_of(again)
    hidden = internal_article(world.other_desk, title="Payroll runbook")
    refused = client.post(f"/desk/t/{ref}/articles/link", {"article": hidden.pk}, headers=HTMX)
    assert f"No article KB-{hidden.pk} was found." in html_of(refused)
    assert not TicketArticle.objects.exists()


@pytest.mark.parametrize("persona,expected", [("requester", 403), ("other_agent", 404)])
def test_who_may_not_link_changes_nothing(world, scene, announced, persona, expected):  # noqa: F811
    article = public_article(world.desk, title="Boot from USB")
    client = browser(person(world, persona))
    ref = scene.ticket.ref
    with unchanged(announced):
        for url in ("link", "unlink", "draft"):
            response = client.post(f"/desk/t/{ref}/articles/{url}", {"article": article.pk})
            assert response.status_code == expected, url
        for url in ("find?article_q=usb", f"{article.pk}/insert?mode=text"):
            assert client.get(f"/desk/t/{ref}/articles/{url}").status_code == expected


def test_the_composer_picker_finds_articles_and_gives_their_link_or_text(world, scene):
    public = public_article(world.desk, title="Boot from USB", body="Press **F12** at boot.")
    internal = internal_article(world.desk, title="USB boot BIOS password", body="It is 42.")
    internal_article(world.other_desk, title="USB sticks for payroll")
    client = browser(world.agent)
    ref = scene.ticket.ref
    html = html_of(client.get(f"/desk/t/{ref}/articles/find", {"article_q": "usb"}))
    assert f'data-article="{public.pk}"' in html and f'data-article="{internal.pk}"' in html
    assert "payroll" not in html and "<mark>USB</mark>" in html
    # An internal article offers its text only: a link would lead the requester nowhere.
    internal_block = html.split(f'data-article="{internal.pk}"')[1].split('<div class="article')[0]
    assert "mode=link" not in internal_block and "mode=text" in internal_block

    link = client.get(f"/desk/t/{ref}/articles/{public.pk}/insert", {"mode": "link"})
    assert link.status_code == 200 and link["Content-Type"].startswith("text/plain")
    assert link.content.decode() == (
        f"[Boot from USB](http://127.0.0.1:8000/portal/kb/{public.pk}/boot-from-usb/)"
    )
    text = client.get(f"/desk/t/{ref}/articles/{public.pk}/insert", {"mode": "text"})
    assert text.content.decode() == "Press **F12** at boot.\n"
    refused = client.get(f"/desk/t/{ref}/articles/{internal.pk}/insert", {"mode": "link"})
    assert refused.status_code == 409 and "insert its text" in refused.content.decode()
    missing = client.get(f"/desk/t/{ref}/articles/999999/insert", {"mode": "text"})
    assert missing.status_code == 404


def test_the_inserted_text_is_in_the_requesters_language(world, scene):
    article = public_article(world.desk, title="Printer", body="Press the button.")
    kb_services.add_variant(
        actor=Actor.for_user(world.agent),
        article=article,
        language="fr",
        title="Imprimante",
        body="Appuyez sur le bouton.",
    )
    world.requester.locale = "fr"
    world.requester.save()
    client = browser(world.agent)
    text = client.get(f"/desk/t/{scene.ticket.ref}/articles/{article.pk}/insert?mode=text")
    assert text.content.decode() == "Appuyez sur le bouton.\n"


def test_an_article_is_drafted_from_a_resolved_ticket_only(world, scene, announced):  # noqa: F811
    client = browser(world.agent)
    ref = scene.ticket.ref
    page = html_of(client.get(f"/desk/t/{ref}/"))
    assert "Write an article from this ticket" not in page
    with unchanged(announced):
        refused = client.post(f"/desk/t/{ref}/articles/draft")
    assert refused.status_code == 302
    assert "resolved or closed ticket" in text_of(client.get(refused["Location"]))

    tickets.resolve_ticket(
        actor=Actor.for_user(world.agent), ticket=scene.ticket, resolution="Replaced the battery."
    )
    assert "Write an article from this ticket" in html_of(client.get(f"/desk/t/{ref}/"))
    response = client.post(f"/desk/t/{ref}/articles/draft")
    article = Article.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/desk/kb/{article.pk}/edit?lang=en"
    assert article.source_ticket == scene.ticket and article.status == "draft"
    variant = article.variants.get()
    assert "Replaced the battery." in variant.body and scene.note.body not in variant.body
    edit = html_of(client.get(response["Location"]))
    assert "Laptop will not boot" in edit and "is drafted from" in edit
    assert f'data-article="{article.pk}"' in html_of(client.get(f"/desk/t/{ref}/"))


def test_the_knowledge_panel_costs_the_same_for_one_article_or_many(world, scene):
    client = browser(world.agent)
    agent = Actor.for_user(world.agent)

    def queries(count: int) -> int:
        for n in range(count - TicketArticle.objects.count()):
            article = make_article(desk=world.desk, title=f"Article {n}", tags=["x"])
            kb_services.link_article(actor=agent, article=article, ticket=scene.ticket)
        client.get(f"/desk/t/{scene.ticket.ref}/")
        with CaptureQueriesContext(connection) as captured:
            html = html_of(client.get(f"/desk/t/{scene.ticket.ref}/"))
        assert html.split('id="knowledge"')[1].count("data-article=") == count
        return len(captured)

    assert queries(1) == queries(12)


def test_the_pages_read_in_french(world):
    article = make_article(desk=world.desk, title="VPN")
    world.agent.locale = "fr"
    world.agent.save()
    client = browser(world.agent)
    with translation.override("fr"):
        listing = html_of(client.get("/desk/kb/"))
        page = html_of(client.get(f"/desk/kb/{article.pk}/"))
    assert "Base de connaissances" in listing and "Nouvel article" in listing
    assert "Soumettre pour relecture" in page and "Historique et versions" in page
