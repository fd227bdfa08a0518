"""Logging a phone call: the agent finds the caller by name, mail or phone number as they type,
then opens a ticket for them on the phone channel; a refusal keeps what was typed.
"""

from __future__ import annotations

import pytest

from comptoir.tickets.models import Ticket
from tests.api.helpers import db_state
from tests.factories import CategoryFactory, UserFactory
from tests.workspace.test_pages import browser

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def caller(world):
    return UserFactory(
        email="paula.caller@acme.test",
        display_name="Paula Caller",
        phone="+33 1 23 45 67 89",
        organisation=world.requester.organisation,
    )


@pytest.mark.parametrize("typed", ["paula", "CALLER@acme", "45 67"])
def test_the_caller_is_found_by_name_mail_or_phone_as_one_types(world, caller, typed):
    response = browser(world, "agent").get("/desk/call/people", {"q": typed}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="people"')
    assert "Paula Caller" in html and f'value="{caller.pk}"' in html
    assert "+33 1 23 45 67 89" in html


def test_one_letter_or_nobody_found_says_so(world, caller):
    client = browser(world, "agent")
    assert "Type at least two" in client.get("/desk/call/people", {"q": "p"}).content.decode()
    html = client.get("/desk/call/people", {"q": "<b>zzz</b>"}).content.decode()
    assert "Nobody matches" in html and "<b>zzz" not in html  # escaped, never markup


def test_requesters_cannot_search_people(world, caller):
    response = browser(world, "requester").get("/desk/call/people", {"q": "paula"})
    assert response.status_code == 403
    assert "Paula" not in response.content.decode()


def test_an_agent_logs_a_call_as_a_phone_ticket_for_the_caller(world, scene, caller):
    category = CategoryFactory(desk=world.desk, name="Printers", slug="printers")
    client = browser(world, "agent")
    page = client.get("/desk/call/").content.decode()
    assert 'hx-get="/desk/call/people"' in page
    response = client.post(
        "/desk/call/",
        {
            "caller": str(caller.pk),
            "desk": "it",
            "kind": "incident",
            "category": str(category.pk),
            "title": "Printer on floor 2 is offline",
            "notes": "Called at 9:05, **urgent** before the board meeting.",
        },
    )
    ticket = Ticket.objects.get(title="Printer on floor 2 is offline")
    assert response.status_code == 302 and response["Location"] == f"/desk/t/{ticket.ref}/"
    assert (ticket.channel, ticket.requester, ticket.category) == ("phone", caller, category)
    assert "<strong>urgent</strong>" in ticket.description_html
    page = client.get(f"/desk/t/{ticket.ref}/").content.decode()
    assert f"{ticket.ref} is open for Paula Caller." in page
    event = ticket.events.get(kind="created")
    assert (event.actor_user, event.channel) == (world.agent, "phone")


def test_a_call_without_a_chosen_caller_comes_back_with_what_was_typed(world, scene, caller):
    client = browser(world, "agent")
    before = db_state()
    response = client.post(
        "/desk/call/",
        {"desk": "it", "kind": "incident", "title": "VPN drops", "notes": "Since the update"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Find the caller and choose them in the list." in html
    assert "VPN drops" in html and "Since the update" in html
    assert db_state() == before


def test_a_call_on_a_desk_one_does_not_work_is_refused(world, scene, caller):
    client = browser(world, "agent")
    before = db_state()
    response = client.post(
        "/desk/call/",
        {"caller": str(caller.pk), "desk": "hr", "kind": "incident", "title": "Payslip"},
    )
    assert response.status_code == 422
    assert "Payslip" in response.content.decode()
    assert db_state() == before
