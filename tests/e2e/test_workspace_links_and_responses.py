"""The workspace in a real browser: linking tickets and choosing a parent from the ticket's page
without a reload, and a canned response inserted into the reply with its placeholders filled.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from comptoir.tickets.models import Ticket, TicketLink
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db(transaction=True)


def test_link_tickets_and_set_the_parent_without_a_reload(people, window):
    ticket = make_ticket(desk=people.desk, requester=people.requester, title="Printer jams")
    other = make_ticket(desk=people.desk, requester=people.requester, title="Printer offline")
    problem = make_ticket(desk=people.desk, requester=people.requester, title="Old printer fleet")
    alex = window()
    alex.sign_in(people.agent.email)
    page = alex.page
    page.goto(f"/desk/t/{ticket.ref}/")
    page.evaluate("window.stillHere = true")
    panel = page.locator("#relations")

    panel.get_by_label("This ticket is").select_option("duplicate_of")
    panel.get_by_label("Ticket reference").fill(other.ref.lower())
    panel.get_by_role("button", name="Add the link").click()
    expect(panel.get_by_role("status")).to_have_text(f"Linked to {other.ref}.")
    link_line = panel.locator(f'[data-links] [data-related="{other.ref}"]')
    expect(link_line).to_contain_text("Duplicate of")
    expect(link_line).to_contain_text("Printer offline")
    expect(link_line).to_contain_text("New")
    expect(page.locator("#timeline")).to_contain_text(f"linked it to {other.ref}")

    panel.get_by_label("This ticket is").select_option("parent")
    panel.get_by_label("Ticket reference").fill(problem.ref)
    panel.get_by_role("button", name="Add the link").click()
    expect(panel.locator(f'[data-related="{problem.ref}"]')).to_contain_text("Old printer fleet")
    assert Ticket.objects.get(pk=ticket.pk).parent_id == problem.pk

    # A reference that does not exist is refused in words, and what was typed stays.
    panel.get_by_label("Ticket reference").fill("IT-999999")
    panel.get_by_role("button", name="Add the link").click()
    expect(panel.get_by_role("alert")).to_have_text("No ticket IT-999999 was found.")
    expect(panel.get_by_label("Ticket reference")).to_have_value("IT-999999")

    panel.get_by_role("button", name=f"Remove the link to {other.ref}").click()
    expect(panel.get_by_role("status")).to_have_text(f"The link to {other.ref} is removed.")
    expect(panel.locator("[data-links]")).to_have_count(0)
    assert not TicketLink.objects.exists()
    assert page.evaluate("window.stillHere") is True  # never a reload


def test_a_canned_response_goes_into_the_reply_filled_in_for_the_ticket(people, window):
    from comptoir.core.actor import Actor
    from comptoir.workspace import services as workspace_services

    ticket = make_ticket(desk=people.desk, requester=people.requester, title="VPN *drops*")
    workspace_services.create_canned_response(
        actor=Actor.for_user(people.agent),
        title="Reboot the router",
        body="Hello {requester.name},\n\nabout {ticket.ref} ({ticket.title}): please reboot.",
    )
    workspace_services.create_canned_response(
        actor=Actor.for_user(people.agent), title="Sign-off", body="Cheers, {agent.name}"
    )
    alex = window()
    alex.sign_in(people.agent.email)
    page = alex.page
    page.goto(f"/desk/t/{ticket.ref}/")
    body = page.locator("#id_body")
    body.fill("Thanks for the report.\n\n")

    page.get_by_text("Canned responses", exact=True).click()
    expect(page.locator(".canned-choice")).to_have_count(2)
    page.get_by_label("Find a response").fill("router")
    expect(page.locator(".canned-choice")).to_have_count(1)
    page.locator(".canned-choice", has_text="Reboot the router").click()
    expect(body).to_have_value(
        "Thanks for the report.\n\n"
        f"Hello Rita Requester,\n\nabout {ticket.ref} (VPN \\*drops\\*): please reboot."
    )
    expect(page.locator(".canned-panel")).to_be_hidden()
    expect(body).to_be_focused()

    page.get_by_role("button", name="Send").click()
    expect(page.locator("#timeline")).to_contain_text("VPN *drops*")  # the title as typed
