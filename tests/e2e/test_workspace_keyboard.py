"""The workspace in a real browser: keyboard shortcuts (and never while typing in a field),
"select all" and a bulk action, the Markdown preview, and a reply that appears without a reload.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Ticket
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db(transaction=True)


def test_shortcuts_move_open_and_write_but_never_fire_inside_a_field(people, window):
    first = make_ticket(desk=people.desk, requester=people.requester, title="Badge reader dead")
    second = make_ticket(desk=people.desk, requester=people.requester, title="Wifi in room 4")
    alex = window()
    alex.sign_in(people.agent.email)
    page = alex.page
    page.goto("/desk/?queue=open&sort=created")

    page.keyboard.press("j")
    expect(page.locator("tr.is-current")).to_contain_text(first.ref)
    page.keyboard.press("j")
    expect(page.locator("tr.is-current")).to_contain_text(second.ref)
    page.keyboard.press("k")
    expect(page.locator("tr.is-current")).to_contain_text(first.ref)

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    page.keyboard.press("o")
    page.wait_for_url(f"**/desk/t/{first.ref}/")

    # "n" chooses an internal note and puts the cursor in the message…
    page.keyboard.press("n")
    expect(page.locator("#id_body")).to_be_focused()
    expect(page.locator('input[name="visibility"][value="note"]')).to_be_checked()
    # …where every letter is text, not a shortcut.
    page.keyboard.type("ask j about a new badge?")
    expect(page.locator("#id_body")).to_have_value("ask j about a new badge?")
    expect(page.locator("#shortcuts")).to_be_hidden()
    assert page.url.endswith(f"/desk/t/{first.ref}/")
    assert Ticket.objects.get(pk=first.pk).assignee_id is None  # "a" typed, nothing assigned

    # Out of the field, "a" assigns the ticket to me.
    page.locator("h1").click()
    page.keyboard.press("a")
    expect(page.locator(".messages")).to_contain_text(f"{first.ref} is yours.")
    assert Ticket.objects.get(pk=first.pk).assignee_id == people.agent.pk

    # "g" then "d" goes back to the workspace.
    page.keyboard.press("g")
    page.keyboard.press("d")
    page.wait_for_url(re.compile(r"/desk/$"))


def test_select_all_then_assign_the_page_to_me(people, window):
    refs = [
        make_ticket(desk=people.desk, requester=people.requester, title=f"Desk {n}").ref
        for n in range(3)
    ]
    alex = window()
    alex.sign_in(people.agent.email)
    page = alex.page
    page.goto("/desk/?queue=unassigned")
    page.get_by_label("Select all on this page").check()
    for ref in refs:
        expect(page.locator(f"#pick-{ref}")).to_be_checked()
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator(".messages")).to_contain_text("Tickets changed (3)")
    assert set(Ticket.objects.filter(assignee=people.agent).values_list("ref", flat=True)) == set(
        refs
    )


def test_preview_then_a_reply_from_the_requester_appears_without_reload(people, window):
    ticket = make_ticket(desk=people.desk, requester=people.requester, title="Scanner offline")
    alex = window()
    alex.sign_in(people.agent.email)
    page = alex.page
    page.goto(f"/desk/t/{ticket.ref}/")
    page.locator("#id_body").fill("Try the **blue** cable")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview strong")).to_have_text("blue")

    page.evaluate("window.stillHere = true")
    services.add_comment(
        actor=Actor.for_user(people.requester), ticket=ticket, body="It is back *online*"
    )
    expect(page.locator("#timeline em", has_text="online")).to_be_visible(timeout=15_000)
    assert page.evaluate("window.stillHere") is True  # no reload
    expect(page.locator("#id_body")).to_have_value("Try the **blue** cable")  # draft kept
