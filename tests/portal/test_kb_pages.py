"""The knowledge base in the portal: who reads what, search and suggestions, "did this help?",
deflection counted and cancelled, hostile article bodies, languages, files, query counts."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from comptoir.core.actor import Actor
from comptoir.kb import services as kb_services
from comptoir.kb.models import Article, Deflection, Feedback
from comptoir.tickets.models import Ticket
from comptoir.tickets.services import Upload
from tests.factories import CategoryFactory, OrganisationFactory, UserFactory
from tests.kb.factories import internal_article, make_article, public_article, restricted_article

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


@dataclass
class Shelf:
    public: Article  # IT, published, public
    acme: Article  # IT, published, restricted to Acme (the requester's organisation)
    globex: Article  # IT, published, restricted to Globex (the outsider's organisation)
    internal: Article  # IT, published, internal to agents
    draft: Article  # IT, a draft that would be public once published
    hr_public: Article  # HR, published, public


@pytest.fixture
def shelf(world) -> Shelf:
    acme = world.requester.organisation
    globex = world.outsider.organisation
    body = "Restart the printer, then clear the queue."
    return Shelf(
        public=public_article(world.desk, title="Printer shows offline", body=body),
        acme=restricted_article(world.desk, [acme], title="Acme printer floor map", body=body),
        globex=restricted_article(world.desk, [globex], title="Globex printer codes", body=body),
        internal=internal_article(world.desk, title="Printer admin password", body=body),
        draft=make_article(
            desk=world.desk, title="Printer draft notes", body=body, visibility="public"
        ),
        hr_public=public_article(world.other_desk, title="Printer for payslips", body=body),
    )


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page_url(article: Article) -> str:
    return f"/portal/kb/{article.pk}/{article.variants.get().slug}/"


def text_of(response) -> str:
    return response.content.decode()


def plain(html: str) -> str:
    """The page's text without its tags (found words are marked with <mark>)."""
    return re.sub(r"<[^>]+>", "", html)


def links_in(html: str, prefix: str = "/portal/kb/") -> list[str]:
    return [
        link.replace("&amp;", "&")
        for link in re.findall(r'href="([^"]+)"', html)
        if link.startswith(prefix)
    ]


# --- who reads what ---------------------------------------------------------------------------


def test_a_visitor_reads_a_public_article_without_signing_in(shelf):
    visitor = client_for()
    listing = visitor.get("/portal/kb/")
    assert listing.status_code == 200
    html = text_of(listing)
    assert "Printer shows offline" in html and "Printer for payslips" in html
    for hidden in ("Acme printer", "Globex printer", "admin password", "draft notes"):
        assert hidden not in html

    page = visitor.get(page_url(shelf.public))
    assert page.status_code == 200
    assert "Restart the printer" in text_of(page)
    shelf.public.refresh_from_db()
    assert shelf.public.views == 1


@pytest.mark.parametrize("name", ["internal", "draft", "acme", "globex"])
def test_a_visitor_gets_404_for_what_is_not_public(shelf, name):
    article = getattr(shelf, name)
    visitor = client_for()
    missing = visitor.get("/portal/kb/999999/nothing/")
    hidden = visitor.get(page_url(article))
    assert hidden.status_code == missing.status_code == 404
    assert visitor.get(f"/portal/kb/{article.pk}/").status_code == 404
    article.refresh_from_db()
    assert article.views == 0


def test_a_requester_reads_their_organisations_articles_and_no_one_elses(world, shelf):
    requester = client_for(world.requester)
    html = text_of(requester.get("/portal/kb/"))
    assert "Acme printer floor map" in html and "Printer shows offline" in html
    assert "Globex printer" not in html and "admin password" not in html
    assert requester.get(page_url(shelf.acme)).status_code == 200
    for hidden in (shelf.globex, shelf.internal, shelf.draft):
        assert requester.get(page_url(hidden)).status_code == 404

    outsider = client_for(world.outsider)
    assert outsider.get(page_url(shelf.acme)).status_code == 404
    assert outsider.get(page_url(shelf.globex)).status_code == 200


def test_the_portal_never_shows_an_internal_article_even_to_the_desks_agent(world, shelf):
    agent = client_for(world.agent)
    assert agent.get(page_url(shelf.internal)).status_code == 404
    assert agent.get(page_url(shelf.draft)).status_code == 404
    assert "admin password" not in text_of(agent.get("/portal/kb/?q=printer"))


def test_the_short_address_leads_to_the_article_page(shelf):
    response = client_for().get(f"/portal/kb/{shelf.public.pk}/")
    assert response.status_code == 302
    assert response["Location"] == page_url(shelf.public)


# --- browse, search ---------------------------------------------------------------------------


def test_the_list_filters_by_desk_and_category_and_orders_by_views(world):
    printers = CategoryFactory(desk=world.desk, name="Printers", slug="printers")
    filed = public_article(world.desk, title="Paper jam", category=printers)
    loose = public_article(world.desk, title="Wi-Fi password")
    hr = public_article(world.other_desk, title="Holiday request")
    Article.objects.filter(pk=loose.pk).update(views=50)
    Article.objects.filter(pk=filed.pk).update(views=5)
    visitor = client_for()

    by_desk = text_of(visitor.get("/portal/kb/?desk=it"))
    assert "Paper jam" in by_desk and "Wi-Fi password" in by_desk
    assert "Holiday request" not in by_desk
    by_category = text_of(visitor.get(f"/portal/kb/?desk=it&category={printers.pk}"))
    assert "Paper jam" in by_category and "Wi-Fi password" not in by_category
    assert '<option value="it" selected>IT (2)</option>' in by_category

    most_read = text_of(visitor.get("/portal/kb/?sort=views"))
    assert most_read.index("Wi-Fi password") < most_read.index("Paper jam")
    assert most_read.index("Paper jam") < most_read.index("Holiday request")
    newest = text_of(visitor.get("/portal/kb/?sort=new"))
    assert newest.index("Holiday request") < newest.index("Wi-Fi password")

    # Hostile or stale filters fall back to everything rather than failing.
    for query in ("?desk=nope", "?category=abc", "?sort=drop", f"?desk=hr&category={printers.pk}"):
        response = visitor.get(f"/portal/kb/{query}")
        assert response.status_code == 200
        assert "Holiday request" in text_of(response)
    assert hr.pk


def test_the_list_pages_with_a_cursor(world):
    for n in range(23):
        public_article(world.desk, title=f"Article number {n:02d}")
    visitor = client_for()
    first = text_of(visitor.get("/portal/kb/"))
    assert first.count('class="kb-item"') == 20
    more = [link for link in links_in(first, "?") if "cursor=" in link]
    assert len(more) == 1
    second = text_of(visitor.get(f"/portal/kb/{more[0]}"))
    assert second.count('class="kb-item"') == 3
    assert "Back to the first page" in second
    broken = visitor.get("/portal/kb/?cursor=garbage")
    assert broken.status_code == 302 and "cursor" not in broken["Location"]


def test_search_shows_only_what_the_reader_may_read(world, shelf):
    def found(client) -> set[str]:
        html = text_of(client.get("/portal/kb/?q=printer"))
        return {re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<h3><a [^>]+>(.*?)</a>", html)}

    assert found(client_for()) == {"Printer shows offline", "Printer for payslips"}
    assert found(client_for(world.requester)) == {
        "Printer shows offline",
        "Printer for payslips",
        "Acme printer floor map",
    }
    assert found(client_for(world.outsider)) == {
        "Printer shows offline",
        "Printer for payslips",
        "Globex printer codes",
    }
    only_hr = plain(text_of(client_for().get("/portal/kb/?q=printer&desk=hr")))
    assert "Printer for payslips" in only_hr and "Printer shows offline" not in only_hr


def test_search_marks_the_words_found_and_htmx_gets_the_results_alone(shelf):
    response = client_for().get(
        "/portal/kb/?q=printer",
        headers={"HX-Request": "true", "HX-Target": "kb-results"},
    )
    html = text_of(response)
    assert "<html" not in html and 'id="kb-results"' in html
    assert "<mark>Printer</mark>" in html
    assert 'id="kb-status" hx-swap-oob="innerHTML"' in html
    assert "2 articles match, best matches first." in html
    assert "HX-Request" in response["Vary"]
    nothing = text_of(client_for().get("/portal/kb/?q=zzzqqq"))
    assert "No article matches these words." in nothing


# --- suggestions beside the new-request form ---------------------------------------------------


def suggestions(client, desk: str, q: str) -> list[str]:
    html = text_of(client.get("/portal/kb/suggest", {"desk": desk, "q": q}))
    return links_in(html)


def test_suggestions_show_only_what_the_reader_may_read_on_the_chosen_desk(world, shelf):
    requester = client_for(world.requester)
    shown = suggestions(requester, "it", "printer")
    assert sorted(int(urlsplit(u).path.split("/")[3]) for u in shown) == sorted(
        [shelf.public.pk, shelf.acme.pk]
    )
    assert all("suggested=" in u for u in shown)
    on_hr = suggestions(requester, "hr", "printer")
    assert [int(urlsplit(u).path.split("/")[3]) for u in on_hr] == [shelf.hr_public.pk]
    assert suggestions(requester, "it", "pr") == []  # three characters at least
    assert suggestions(requester, "nowhere", "printer") == []
    # The new-request form's title field sends itself as "title".
    as_title = text_of(requester.get("/portal/kb/suggest", {"desk": "it", "title": "printer"}))
    assert "Printer shows offline" in plain(as_title)
    assert "2 articles may answer your question" in as_title


def test_at_most_five_articles_are_suggested(world):
    for n in range(8):
        public_article(world.desk, title=f"Scanner tip {n}")
    assert len(suggestions(client_for(world.requester), "it", "scanner")) == 5


def test_the_new_request_form_asks_for_suggestions_as_the_title_is_typed(world):
    html = text_of(client_for(world.requester).get("/portal/new/"))
    assert 'hx-get="/portal/kb/suggest"' in html
    assert 'hx-trigger="keyup changed delay:400ms from:#id_title, change from:#id_desk"' in html
    assert 'hx-include="#id_title, #id_desk"' in html


# --- deflection -------------------------------------------------------------------------------


def open_ticket(client, title: str = "Printer still offline"):
    return client.post(
        "/portal/new/", {"desk": "it", "kind": "incident", "title": title, "description": ""}
    )


def test_a_suggestion_opened_counts_a_deflection_and_a_ticket_opened_next_cancels_it(
    world, shelf, django_capture_on_commit_callbacks
):
    requester = client_for(world.requester)
    link = suggestions(requester, "it", "printer offline")[0]
    page = requester.get(link)
    assert page.status_code == 200
    html = text_of(page)
    assert "This solved my problem" in html and "I still need help" in html
    requester.get(link)  # a reload counts once
    candidate = Deflection.objects.get()
    assert (candidate.user, candidate.desk, candidate.query, candidate.ticket) == (
        world.requester,
        world.desk,
        "printer offline",
        None,
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = open_ticket(requester)
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert candidate.ticket == Ticket.objects.get(title="Printer still offline")


def test_a_visitors_suggestion_is_cancelled_by_the_ticket_they_open_after_signing_in(world, shelf):
    visitor = client_for()
    link = suggestions(visitor, "it", "printer")[0]
    assert visitor.get(link).status_code == 200
    candidate = Deflection.objects.get()
    assert candidate.user is None and candidate.session_key
    other_browser = client_for()
    assert other_browser.get(suggestions(other_browser, "it", "printer")[0]).status_code == 200
    kept = Deflection.objects.exclude(pk=candidate.pk).get()

    visitor.force_login(world.requester)  # the session's data survives signing in
    assert open_ticket(visitor).status_code == 302
    candidate.refresh_from_db()
    kept.refresh_from_db()
    assert candidate.ticket == Ticket.objects.get(title="Printer still offline")
    assert kept.ticket is None  # another browser's suggestion still counts


def test_a_forged_or_foreign_suggestion_link_counts_nothing(world, shelf):
    requester = client_for(world.requester)
    link = suggestions(requester, "it", "printer")[0]
    forged = re.sub(r"suggested=([^&]+)", lambda m: "suggested=" + m.group(1)[:-2] + "xx", link)
    assert requester.get(forged).status_code == 200
    assert client_for(world.colleague).get(link).status_code == 200  # someone else's link
    assert "This solved my problem" not in text_of(client_for().get(link))
    assert Deflection.objects.count() == 0


def test_i_still_need_help_brings_the_desk_and_title_back_to_the_form(world, shelf):
    requester = client_for(world.requester)
    page = text_of(requester.get(suggestions(requester, "it", "printer jam")[0]))
    back = next(u for u in links_in(page, "/portal/new/?"))
    assert parse_qs(urlsplit(back).query) == {"desk": ["it"], "title": ["printer jam"]}
    form = text_of(requester.get(back))
    assert 'value="printer jam"' in form
    assert '<option value="it" selected>' in form
    solved = re.search(r'href="([^"]+)"[^>]*>[^<]*<svg[^>]*>.*?</svg>This solved my problem', page)
    assert solved is not None and solved.group(1) == "/portal/"


# --- did this help? ---------------------------------------------------------------------------


def test_feedback_is_recorded_then_replaced_in_place(world, shelf):
    requester = client_for(world.requester)
    url = f"/portal/kb/{shelf.public.pk}/feedback"
    htmx = {"HX-Request": "true", "HX-Target": "kb-feedback-form"}
    first = requester.post(url, {"helpful": "yes", "language": "en"}, headers=htmx)
    assert first.status_code == 200
    assert "Thank you! Your answer: it helped." in text_of(first)
    assert 'id="kb-helpful-yes" class="btn is-chosen"' in text_of(first)
    second = requester.post(
        url, {"helpful": "no", "comment": "Step 2 fails", "language": "en"}, headers=htmx
    )
    assert "Thank you! Your answer: it did not help." in text_of(second)
    answer = Feedback.objects.get()
    assert (answer.user, answer.helpful, answer.comment) == (world.requester, False, "Step 2 fails")
    shelf.public.refresh_from_db()
    assert (shelf.public.helpful, shelf.public.not_helpful) == (0, 1)
    page = text_of(requester.get(page_url(shelf.public)))
    assert "Thank you! Your answer: it did not help." in page


def test_a_visitor_answers_once_per_browser_session_and_without_script(shelf):
    url = f"/portal/kb/{shelf.public.pk}/feedback"
    first, second = client_for(), client_for()
    response = first.post(url, {"helpful": "yes", "language": "en"})
    assert response.status_code == 302
    assert response["Location"] == page_url(shelf.public) + "#kb-feedback"
    assert "Thank you: your answer was recorded." in text_of(first.get(response["Location"]))
    first.post(url, {"helpful": "no", "language": "en"})
    second.post(url, {"helpful": "yes", "language": "en"})
    assert sorted(Feedback.objects.values_list("helpful", flat=True)) == [False, True]
    assert Feedback.objects.filter(user__isnull=True).exclude(session_key="").count() == 2
    shelf.public.refresh_from_db()
    assert (shelf.public.helpful, shelf.public.not_helpful) == (1, 1)


def test_a_feedback_without_an_answer_or_on_a_hidden_article_changes_nothing(world, shelf):
    visitor = client_for()
    refused = visitor.post(f"/portal/kb/{shelf.public.pk}/feedback", {"comment": "hm"})
    assert refused.status_code == 422
    assert "Choose “Yes” or “No”." in text_of(refused)
    assert (
        visitor.post(f"/portal/kb/{shelf.acme.pk}/feedback", {"helpful": "no"}).status_code == 404
    )
    bad_language = visitor.post(
        f"/portal/kb/{shelf.public.pk}/feedback",
        {"helpful": "no", "language": "xx"},
        headers={"HX-Request": "true", "HX-Target": "kb-feedback-form"},
    )
    assert bad_language.status_code == 200 and "Unknown language" in text_of(bad_language)
    assert Feedback.objects.count() == 0


# --- what the page shows ----------------------------------------------------------------------


def test_an_article_body_with_script_or_javascript_link_renders_harmless(world):
    article = public_article(
        world.desk,
        title="<script>alert('title')</script> Tips",
        body=(
            "<script>alert('body')</script>\n\n[Click me](javascript:alert('link'))\n\n"
            '<img src="x" onerror="alert(1)">\n\n<a href="javascript:alert(2)">raw</a>'
        ),
    )
    visitor = client_for()
    html = text_of(visitor.get(page_url(article)))
    assert "<script>alert" not in html
    assert not re.search(r"""<a\b[^>]*href\s*=\s*["']?\s*javascript:""", html, re.IGNORECASE)
    assert "&lt;a href=" in html  # raw HTML in the source is shown as text
    assert not re.search(r"<img[^>]+onerror", html, re.IGNORECASE)
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt; Tips" in html
    for page in ("/portal/kb/", "/portal/kb/?q=tips"):
        listed = text_of(visitor.get(page))
        assert "<script>alert" not in listed and "&lt;script&gt;" in listed
    suggested = text_of(visitor.get("/portal/kb/suggest", {"desk": "it", "q": "tips"}))
    assert "<script>alert" not in suggested and "&lt;script&gt;" in suggested


def test_the_reader_gets_their_language_else_the_other_with_a_switch(world):
    french = UserFactory(
        email="fr@acme.test", organisation=world.requester.organisation, locale="fr"
    )
    both = public_article(world.desk, title="Reset your password", body="Open settings.")
    kb_services.add_variant(
        actor=SYSTEM, article=both, language="fr", title="Changer son mot de passe", body="Ouvrir."
    )
    english_only = public_article(world.desk, title="Only in English", body="Words.")

    reader = client_for(french)
    page = text_of(reader.get(page_url_in(both, "en")))
    assert "Changer son mot de passe" in page and 'lang="fr"' in page
    assert 'hreflang="en"' in page and 'hreflang="fr"' in page
    english = text_of(reader.get(page_url_in(both, "en") + "?lang=en"))
    assert "Reset your password" in english and "Changer son mot de passe" not in english
    alone = text_of(reader.get(page_url(english_only)))
    assert "Only in English" in alone and 'hreflang="' not in alone
    assert "pas encore écrit dans votre langue" in alone
    assert "Base de connaissances" in alone


def page_url_in(article: Article, language: str) -> str:
    return f"/portal/kb/{article.pk}/{article.variants.get(language=language).slug}/"


def test_files_download_for_those_who_may_read_the_article(world, shelf):
    def attach(article: Article) -> int:
        data = b"%PDF-1.4 printer guide"
        upload = Upload(stream=io.BytesIO(data), name="guide.pdf", size=len(data))
        return kb_services.add_article_attachment(actor=SYSTEM, article=article, upload=upload).pk

    public_file, acme_file = attach(shelf.public), attach(shelf.acme)
    visitor = client_for()
    assert "guide.pdf" in text_of(visitor.get(page_url(shelf.public)))
    download = visitor.get(f"/portal/kb/{shelf.public.pk}/files/{public_file}")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == b"%PDF-1.4 printer guide"
    assert visitor.get(f"/portal/kb/{shelf.acme.pk}/files/{acme_file}").status_code == 404
    # A file of another article, named under a readable one.
    assert visitor.get(f"/portal/kb/{shelf.public.pk}/files/{acme_file}").status_code == 404
    requester = client_for(world.requester)
    assert requester.get(f"/portal/kb/{shelf.acme.pk}/files/{acme_file}").status_code == 200


def test_the_navigation_and_the_sign_in_page_lead_to_the_knowledge_base(world):
    signed_in = text_of(client_for(world.requester).get("/portal/"))
    assert '<a href="/portal/kb/">Knowledge base</a>' in signed_in
    on_kb = text_of(client_for(world.requester).get("/portal/kb/"))
    assert '<a href="/portal/kb/" aria-current="page">Knowledge base</a>' in on_kb
    assert '<a href="/portal/" aria-current="page">' not in on_kb
    sign_in = text_of(client_for().get("/login/"))
    assert '<a href="/portal/kb/">Knowledge base</a>' in sign_in


def test_the_list_query_count_does_not_grow_with_the_page_size(
    world, django_assert_max_num_queries
):
    acme = world.requester.organisation
    category = CategoryFactory(desk=world.desk, name="Network", slug="network")
    other = OrganisationFactory(name="Initech", slug="initech")

    def add(n: int) -> None:
        for i in range(n):
            article = restricted_article(
                world.desk, [acme, other], title=f"Network tip {i}", category=category
            )
            kb_services.add_variant(
                actor=SYSTEM, article=article, language="fr", title=f"Astuce {i}"
            )

    requester = client_for(world.requester)
    add(2)
    with CaptureQueriesContext(connection) as few:
        assert requester.get("/portal/kb/?sort=views").status_code == 200
    add(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = text_of(requester.get("/portal/kb/?sort=views"))
    assert html.count('class="kb-item"') == 20
