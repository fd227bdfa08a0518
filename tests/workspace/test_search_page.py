"""The workspace's search page: who may open it, what each agent finds, the queue's filters on
tickets, found words marked and hostile titles escaped, a reference that opens its ticket,
pages of 20, the bound of the ranking, and the notice of an empty index.

The personas are the API's permission matrix (tests/api); the index is the real one (FTS5 on
SQLite, tsvector on PostgreSQL), kept by the services as in production.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import translation

from comptoir.core.actor import Actor
from comptoir.search import selectors as search_selectors
from comptoir.search.models import TicketDocument
from comptoir.tickets import services
from comptoir.tickets.models import Ticket
from tests.api.helpers import PERSONAS, person
from tests.factories import make_ticket
from tests.kb.factories import internal_article, make_article, public_article

pytestmark = pytest.mark.django_db

SEARCH = "/desk/search/"
HTMX = {"HX-Request": "true", "HX-Target": "search-results"}


def browser(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def html_of(response) -> str:
    return response.content.decode()


def found(html: str, kind: str) -> list[str]:
    """The references listed in one section of the results, in their order."""
    section = re.search(rf'data-found="{kind}".*?</section>', html, re.S)
    return re.findall(r'data-hit="([^"]+)"', section.group(0)) if section else []


#: GET /desk/search/?q=…: agents of any desk; requesters get the 403 page; anonymous signs in.
OPENS = {
    "anonymous": "login",
    "requester": 403,
    "colleague": 403,
    "outsider": 403,
    "other_agent": 200,
    "agent": 200,
    "manager": 200,
    "change_manager": 200,
    "admin": 200,
    "superuser": 200,
}
#: Which of the scene's tickets each word finds, per persona: the desks one works, and what one
#: may read as a requester (the HR agent is a colleague of IT-000001's requester, whose
#: organisation shares its tickets: the portal shows it to them, and so does the search).
FINDS = {
    "other_agent": {"laptop": {"IT-000001"}, "vpn": set(), "payslip": {"HR-000001"}},
    "agent": {"laptop": {"IT-000001"}, "vpn": {"IT-000003"}, "payslip": set()},
    "superuser": {"laptop": {"IT-000001"}, "vpn": {"IT-000003"}, "payslip": {"HR-000001"}},
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_search_page_is_for_agents_only(world, scene, persona):
    response = browser(person(world, persona)).get(SEARCH, {"q": "laptop"})
    expected = OPENS[persona]
    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        return
    assert response.status_code == expected
    html = html_of(response)
    if expected == 403:
        assert "For agents only" in html and scene.ticket.title not in html
        return
    assert 'role="search"' in html and 'id="desk-q"' in html


@pytest.mark.parametrize("persona", sorted(FINDS))
def test_an_agent_finds_only_the_tickets_they_may_see(world, scene, persona):
    client = browser(person(world, persona))
    for words, expected in FINDS[persona].items():
        html = html_of(client.get(SEARCH, {"q": words, "kind": "ticket"}))
        assert set(found(html, "ticket")) == expected, words


def test_internal_notes_are_found_by_the_desks_staff_and_never_shown_to_others(world, scene):
    # "swollen" is only in the internal note of IT-000001.
    agent_html = html_of(browser(world.agent).get(SEARCH, {"q": "swollen"}))
    assert found(agent_html, "ticket") == [scene.ticket.ref]
    assert "<mark>swollen</mark>" in agent_html.lower()
    other = html_of(browser(world.other_agent).get(SEARCH, {"q": "swollen"}))
    assert found(other, "ticket") == []
    assert scene.note.body not in other and "<mark>swollen" not in other.lower()


def test_articles_and_people_are_found_as_the_agent_may_see_them(world):
    internal_article(world.desk, title="Printer toner codes", body="Toner refill steps.")
    internal_article(world.other_desk, title="Payroll toner budget", body="Toner for HR.")
    public_article(world.other_desk, title="Toner for the HR printer", body="Ask the desk.")
    html = html_of(browser(world.agent).get(SEARCH, {"q": "toner"}))
    titles = re.sub(r"<[^>]+>", "", html)
    assert "Printer toner codes" in titles  # an internal article of the agent's desk
    assert "Toner for the HR printer" in titles  # another desk's public article
    assert "Payroll toner budget" not in titles  # another desk's internal article
    people = html_of(browser(world.agent).get(SEARCH, {"q": "outsider@globex.test"}))
    assert found(people, "person") == ["outsider@globex.test"]


def test_the_queue_filters_apply_to_the_tickets_found(world, scene):
    agent = Actor.for_user(world.agent)
    urgent = make_ticket(desk=world.desk, requester=world.requester, title="Laptop battery swap")
    services.assign_ticket(actor=agent, ticket=urgent, agent=world.agent)
    resolved = make_ticket(desk=world.desk, requester=world.requester, title="Laptop bag strap")
    services.resolve_ticket(actor=agent, ticket=resolved, resolution="New strap.")
    client = browser(world.agent)

    def refs(**params) -> set[str]:
        return set(found(html_of(client.get(SEARCH, {"q": "laptop", **params})), "ticket"))

    assert refs() == {scene.ticket.ref, urgent.ref, resolved.ref}  # any state by default
    assert refs(state="resolved") == {resolved.ref}
    assert refs(state="open") == {scene.ticket.ref, urgent.ref}
    assert refs(queue="mine") == {urgent.ref}
    assert refs(queue="unassigned", state="open") == {scene.ticket.ref}
    assert refs(desk="hr") == refs()  # a desk the agent does not work is dropped, not trusted
    # The filters are the page's own fields, tied to the bar's search form.
    html = html_of(client.get(SEARCH, {"q": "laptop", "state": "resolved"}))
    assert re.search(r'<select name="state"[^>]*form="desk-search"', html)
    assert '<option value="resolved" selected>' in html


def test_found_words_are_marked_and_hostile_titles_escaped(world):
    make_ticket(
        desk=world.desk,
        requester=world.requester,
        title='<img src=x onerror="alert(1)"> Printer <b>jam</b>',
        description="<script>alert('x')</script> the printer jams on page two",
    )
    html = html_of(browser(world.agent).get(SEARCH, {"q": "printer"}))
    results = html.split('id="search-results"')[1]
    assert "<mark>Printer</mark>" in results and "<mark>printer</mark>" in results
    assert "&lt;img src=x" in results and "<img src" not in results
    assert "&lt;b&gt;jam&lt;/b&gt;" in results and "<b>jam" not in results
    assert "<script>alert" not in html


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", ("Nobody", "Critical", "New")), ("fr", ("Personne", "Critique", "Nouveau"))],
)
def test_each_ticket_found_says_its_state_people_and_last_change(world, language, words):
    world.requester.display_name = 'Eve <img src=x onerror="alert(1)">'
    world.requester.save(update_fields=["display_name"])
    found_by_body = make_ticket(
        desk=world.desk,
        requester=world.requester,
        title="Screen <flickers> & hums",
        description="the toner smells of burning",
        impact="high",
        urgency="high",
    )
    assigned = make_ticket(desk=world.desk, requester=world.requester, title="Toner empty")
    services.assign_ticket(actor=Actor.for_user(world.agent), ticket=assigned, agent=world.agent)
    world.agent.locale = language
    world.agent.save(update_fields=["locale"])
    html = html_of(browser(world.agent).get(SEARCH, {"q": "toner"}))
    hits = {
        ref: re.search(rf'<li class="hit" data-hit="{ref}">.*?</li>', html, re.S).group(0)
        for ref in (found_by_body.ref, assigned.ref)
    }
    nobody, critical, new = words
    first = hits[found_by_body.ref]
    assert "Screen &lt;flickers&gt; &amp; hums" in first and "<flickers>" not in first
    assert "Eve &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in first and "<img" not in first
    assert f'href="/desk/t/{found_by_body.ref}/"' in first
    assert f"{critical}</span>" in first and f">{new}</span>" in first and nobody in first
    assert "IT · " in first and '<time datetime="' in first
    assert "<mark>toner</mark>" in first
    second = hits[assigned.ref]
    assert world.agent.name in second and nobody not in second
    assert "<mark>Toner</mark> empty" in second


def test_a_reference_typed_alone_opens_the_ticket(world, scene):
    client = browser(world.agent)
    response = client.get(SEARCH, {"q": f"  {scene.ticket.ref.lower()} "})
    assert response.status_code == 302
    assert response["Location"] == f"/desk/t/{scene.ticket.ref}/"
    # As the agent types (htmx), the ticket comes first in the results instead.
    typed = client.get(SEARCH, {"q": scene.ticket.ref}, headers=HTMX)
    assert typed.status_code == 200 and found(html_of(typed), "ticket")[0] == scene.ticket.ref
    # A reference the agent may not see opens nothing and finds nothing.
    hidden = client.get(SEARCH, {"q": scene.hr.ref})
    assert hidden.status_code == 200 and found(html_of(hidden), "ticket") == []


def test_an_article_number_typed_alone_opens_the_article(world):
    article = make_article(desk=world.desk, title="Badge reader reset")
    response = browser(world.agent).get(SEARCH, {"q": f"KB-{article.pk}"})
    assert response.status_code == 302
    assert response["Location"] == f"/desk/kb/{article.pk}/"


def test_results_come_in_pages_of_twenty_per_kind(world):
    for n in range(23):
        make_ticket(desk=world.desk, requester=world.requester, title=f"Docking station {n}")
    client = browser(world.agent)
    everything = html_of(client.get(SEARCH, {"q": "docking"}))
    assert len(found(everything, "ticket")) == 5  # the first few of each kind
    assert "All 23 tickets" in everything
    first = html_of(client.get(SEARCH, {"q": "docking", "kind": "ticket"}))
    assert len(found(first, "ticket")) == 20
    assert "page=2" in first and found(first, "article") == []
    second = html_of(client.get(SEARCH, {"q": "docking", "kind": "ticket", "page": 2}))
    shown = found(first, "ticket") + found(second, "ticket")
    assert len(found(second, "ticket")) == 3 and len(set(shown)) == 23
    assert "page=3" not in second


def test_more_matches_than_were_ranked_ask_to_refine(world, monkeypatch):
    # Only the newest RANKED matches are ranked (500); three here, so that five tickets pass it.
    monkeypatch.setattr(search_selectors, "RANKED", 3)
    for n in range(5):
        make_ticket(desk=world.desk, requester=world.requester, title=f"Monitor flicker {n}")
    html = html_of(browser(world.agent).get(SEARCH, {"q": "monitor"}))
    assert "data-bounded" in html
    assert "add words or filters to narrow the search" in html


def test_results_follow_the_typing_without_the_page_around_them(world, scene):
    response = browser(world.agent).get(SEARCH, {"q": "laptop"}, headers=HTMX)
    html = html_of(response)
    assert html.startswith('<div id="search-results"') and "<html" not in html
    assert found(html, "ticket") == [scene.ticket.ref]
    assert "HX-Request" in response["Vary"]
    page = html_of(browser(world.agent).get(SEARCH, {"q": "laptop"}))
    # On the search page the bar's box asks for the results as one types, and pushes the URL.
    box = re.search(r'<input type="search" id="desk-q"[^>]*>', page, re.S).group(0)
    assert 'hx-trigger="keyup changed delay:300ms' in box and 'hx-push-url="true"' in box
    assert 'value="laptop"' in box


def test_the_box_elsewhere_sends_to_the_search_page_without_replacing_the_page(world, scene):
    html = html_of(browser(world.agent).get(f"/desk/t/{scene.ticket.ref}/"))
    box = re.search(r'<input type="search" id="desk-q"[^>]*>', html, re.S).group(0)
    assert "hx-get" not in box  # a half-written reply is never swapped away
    assert re.search(r'<form id="desk-search"[^>]*action="/desk/search/"', html)


@pytest.mark.parametrize("persona", ["admin", "superuser", "agent"])
def test_an_empty_index_is_announced_to_administrators_with_the_command(world, scene, persona):
    TicketDocument.objects.all().delete()
    assert Ticket.objects.exists()
    html = html_of(browser(person(world, persona)).get(SEARCH, {"q": "laptop"}))
    assert "data-index-empty" in html
    if persona == "agent":
        assert "comptoir search rebuild" not in html and "tell an administrator" in html
    else:
        assert "<code>comptoir search rebuild</code>" in html


def test_a_full_index_says_nothing_of_rebuilding(world, scene):
    html = html_of(browser(world.admin).get(SEARCH, {"q": "nothingmatchesthis"}))
    assert "data-index-empty" not in html and "No ticket matches" in html


def test_the_page_reads_in_french(world, scene):
    world.agent.locale = "fr"
    world.agent.save()
    with translation.override("fr"):
        html = html_of(browser(world.agent).get(SEARCH, {"q": "laptop"}))
    assert "Rechercher" in html and "Tickets" in html and "Aucun article" in html
