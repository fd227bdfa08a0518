"""In a real browser: a requester types a title, sees a suggested article beside the form,
opens it and says it helped; the knowledge base's search answers as they type, on a phone too."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from comptoir.kb.models import Deflection, Feedback
from tests.kb.factories import internal_article, public_article

pytestmark = pytest.mark.django_db(transaction=True)


def htmx_errors(page) -> list[str]:
    """htmx's complaints (a trigger it cannot read, a swap that failed) as the page logs them."""
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if "htmx:" in message.text else None
    )
    return errors


def test_a_requester_sees_a_suggestion_opens_it_and_says_it_helped(people, window):
    article = public_article(
        people.desk,
        title="Printer shows offline",
        body="Restart the printer, then clear the queue.",
    )
    internal_article(people.desk, title="Printer admin password", body="The printer's secret.")

    rita = window()
    rita.sign_in(people.requester.email)
    page = rita.page
    errors = htmx_errors(page)
    page.goto("/portal/new/")
    page.get_by_label("Title", exact=True).press_sequentially("printer offline", delay=20)
    suggestions = page.locator("#kb-suggestions")
    suggested = suggestions.get_by_role("link", name="Printer shows offline")
    expect(suggested).to_be_visible()
    expect(suggestions.get_by_role("link")).to_have_count(1)  # never the internal article
    expect(page.locator("#kb-suggest-status")).to_have_text(re.compile("One article may answer"))

    suggested.click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text("Printer shows offline")
    expect(page.get_by_role("link", name="This solved my problem")).to_be_visible()
    expect(page.get_by_role("link", name="I still need help")).to_be_visible()
    address = page.url

    page.get_by_label("Anything to add?").fill("Restarting was enough.")
    page.get_by_role("button", name="Yes, it helped").click()
    expect(page.locator("#kb-feedback-status")).to_have_text("Thank you! Your answer: it helped.")
    expect(page.get_by_role("button", name="Yes, it helped")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.get_by_role("button", name="Yes, it helped")).to_be_focused()
    assert page.url == address  # answered in place
    feedback = Feedback.objects.get()
    assert (feedback.article_id, feedback.helpful, feedback.comment) == (
        article.pk,
        True,
        "Restarting was enough.",
    )
    candidate = Deflection.objects.get()
    assert (candidate.article_id, candidate.query, candidate.ticket_id) == (
        article.pk,
        "printer offline",
        None,
    )

    page.get_by_role("link", name="I still need help").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Title", exact=True)).to_have_value("printer offline")
    assert errors == []


def test_a_visitor_searches_as_they_type_on_a_phone(people, window):
    public_article(people.desk, title="Connect to the Wi-Fi", body="Choose the network Acme.")
    public_article(people.desk, title="Reset your password", body="Open the settings.")

    phone = window(viewport={"width": 375, "height": 740})
    page = phone.page
    errors = htmx_errors(page)
    page.goto("/login/")
    page.get_by_role("link", name="Knowledge base").click()
    page.wait_for_load_state()
    expect(page.locator(".kb-item")).to_have_count(2)
    page.get_by_label("Search the articles").press_sequentially("netw", delay=20)
    expect(page.locator(".kb-item")).to_have_count(1)
    expect(page.locator(".kb-item mark")).to_have_text("network")
    expect(page.locator("#kb-status")).to_have_text(re.compile("One article matches"))
    expect(page).to_have_url(re.compile(r"q=netw"))
    wider = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not wider, "the page scrolls sideways at 375 px"
    assert errors == []
