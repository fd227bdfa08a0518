"""In a real browser: the requester confirms the resolution, then rates it; the agent reads the
rating on the ticket's timeline."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Rating

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_requester_confirms_then_rates_and_the_agent_reads_it(people, window):
    ticket = services.create_ticket(
        actor=Actor.for_user(people.requester),
        desk=people.desk,
        kind="incident",
        title="Printer jams on every page",
    )
    services.resolve_ticket(
        actor=Actor.for_user(people.agent), ticket=ticket, resolution="Fuser replaced"
    )

    rita = window()
    rita.sign_in(people.requester.email)
    page = rita.page
    page.goto(f"/portal/t/{ticket.ref}/")
    page.get_by_role("button", name="Confirm it is solved").click()
    page.wait_for_load_state()
    page.get_by_label("Yes, satisfied").check()
    page.get_by_label("Anything to add?").fill("Quick and kind, thanks.")
    page.get_by_role("button", name="Send my rating").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Thank you: your rating was recorded.")).to_be_visible()
    expect(page.locator(".rating")).to_have_text("Satisfied")
    expect(page.get_by_role("button", name="Send my rating")).to_have_count(0)
    rating = Rating.objects.get(ticket=ticket)
    assert (rating.satisfied, rating.comment) == (True, "Quick and kind, thanks.")

    alex = window()
    alex.sign_in(people.agent.email)
    alex.page.goto(f"/desk/t/{ticket.ref}/")
    expect(alex.page.get_by_text("rated the resolution: satisfied")).to_be_visible()
    expect(alex.page.get_by_text("Quick and kind, thanks.")).to_be_visible()
