"""The workspace's search and knowledge base in a real browser: an agent searches from the
workspace's bar (the results follow the typing), opens an article, inserts a link to it into
a reply on a ticket from the composer's picker, and sends the reply; the pages fit a phone.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from comptoir.tickets.models import Comment
from tests.factories import make_ticket
from tests.kb.factories import internal_article, public_article

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_searches_reads_an_article_and_sends_it_in_a_reply(people, window):
    ticket = make_ticket(
        desk=people.desk,
        requester=people.requester,
        title="Printer shows offline",
        description="The printer on floor 2 says offline since this morning.",
    )
    article = public_article(
        people.desk,
        title="Printer shows offline",
        body="1. Turn the printer **off** and on.\n2. Clear the queue.",
    )
    internal_article(people.desk, title="Printer admin password", body="Ask the desk lead.")
    alex = window()
    alex.sign_in(people.agent.email)
    page = alex.page
    page.goto("/desk/")

    # "/" goes to the search box; Enter opens the search page.
    page.keyboard.press("/")
    box = page.locator("#desk-q")
    expect(box).to_be_focused()
    box.fill("printer")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/desk/search/\?q=printer"))
    tickets = page.locator('[data-found="ticket"]')
    articles = page.locator('[data-found="article"]')
    expect(tickets.locator(f'[data-hit="{ticket.ref}"]')).to_be_visible()
    expect(articles.locator(".hit")).to_have_count(2)
    expect(articles.locator("mark").first).to_have_text(re.compile("printer", re.I))

    # On the search page the results follow the typing, without a reload, and the URL follows.
    page.evaluate("window.stillHere = true")
    expect(box).to_be_focused()  # the search page keeps the cursor in the box, at the end
    box.press_sequentially(" offline")
    expect(articles.locator(".hit")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=printer(\+|%20)offline"))
    page.locator("#id_state").select_option("resolved")
    expect(tickets).to_contain_text("No ticket matches these words and filters.")
    page.locator("#id_state").select_option("")
    expect(tickets.locator(f'[data-hit="{ticket.ref}"]')).to_be_visible()
    assert page.evaluate("window.stillHere") is True

    # The article opens in the workspace, with its status and text.
    articles.get_by_role("link", name=f"KB-{article.pk}").click()
    expect(page.locator("h1")).to_contain_text("Printer shows offline")
    expect(page.locator(".kb-body")).to_contain_text("Clear the queue.")
    expect(page.locator(".kb-badges")).to_contain_text("Published")

    # On the ticket, the composer's picker finds it and inserts a link where the cursor is.
    page.goto(f"/desk/t/{ticket.ref}/")
    body = page.locator("#id_body")
    body.fill("Hello Rita,\n\nThis should help: ")
    page.get_by_text("Articles", exact=True).click()
    page.get_by_label("Find an article").fill("offline")
    choice = page.locator(f'.article-choice[data-article="{article.pk}"]')
    expect(choice).to_be_visible()
    choice.get_by_role("button", name="Insert a link").click()
    link = f"[Printer shows offline](http://127.0.0.1:8000/portal/kb/{article.pk}/printer-shows-offline/)"
    expect(body).to_have_value(f"Hello Rita,\n\nThis should help: {link}")
    expect(page.locator(".article-panel")).to_be_hidden()
    expect(body).to_be_focused()

    page.get_by_role("button", name="Send").click()
    expect(page.locator(".messages")).to_contain_text("Reply sent.")
    expect(
        page.locator("#timeline").get_by_role("link", name="Printer shows offline")
    ).to_be_visible()
    reply = Comment.objects.get(ticket=ticket, public=True)
    assert link in reply.body

    # The same article, linked to the ticket from the "Knowledge" panel, without a reload.
    page.evaluate("window.stillHere = true")
    panel = page.locator("#knowledge")
    panel.get_by_label("Link an article").fill(f"KB-{article.pk}")
    panel.get_by_label("Link an article").press("Enter")
    expect(panel.get_by_role("status")).to_have_text(f"KB-{article.pk} is linked to this ticket.")
    expect(panel.locator(f'[data-article="{article.pk}"]')).to_contain_text("Printer shows offline")
    assert page.evaluate("window.stillHere") is True


def test_the_search_and_the_knowledge_base_fit_a_phone(people, window):
    make_ticket(desk=people.desk, requester=people.requester, title="VPN drops every hour")
    article = public_article(
        people.desk,
        title="VPN drops: a very long title that has to wrap on a narrow phone screen",
        body="A `very-long-command --with --many --options --that --do --not --wrap` line.",
    )
    phone = window(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    phone.sign_in(people.agent.email)
    page = phone.page
    for url in (
        "/desk/search/?q=vpn",
        "/desk/kb/",
        f"/desk/kb/{article.pk}/",
        f"/desk/kb/{article.pk}/history",
    ):
        page.goto(url)
        expect(page.locator("#desk-q")).to_be_visible()
        wider = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not wider, f"{url} scrolls sideways at 375 px"
