"""What people do in a real browser: a requester asks, an agent answers and resolves, the
requester reads the answer; another organisation cannot reach it; the same in French; the
workspace on a phone.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from comptoir.tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)

TEXTS = {
    "en": {
        "new": "New request",
        "send_request": "Send the request",
        "unassigned": "Unassigned",
        "assign_me": "Assign to me",
        "send": "Send",
        "resolve": "Resolve",
        "resolved": "Resolved",
        "confirm": "Confirm it is solved",
    },
    "fr": {
        "new": "Nouvelle demande",
        "send_request": "Envoyer la demande",
        "unassigned": "Non assignés",
        "assign_me": "M’assigner",
        "send": "Envoyer",
        "resolve": "Résoudre",
        "resolved": "Résolu",
        "confirm": "Confirmer que c’est résolu",
    },
}


def journey(people, window, tmp_path, language: str) -> None:
    words = TEXTS[language]
    for user in (people.requester, people.agent, people.outsider):
        user.locale = language
        user.save(update_fields=["locale"])
    photo = tmp_path / "error-screen.txt"
    photo.write_bytes(b"PAPER JAM IN TRAY 2")

    # The requester opens a request with a file.
    rita = window()
    rita.sign_in(people.requester.email)
    page = rita.page
    assert page.url.endswith("/portal/")
    page.get_by_role("link", name=words["new"]).first.click()
    page.locator("#id_desk").select_option("it")
    page.locator("#id_title").fill("Printer jams on every page")
    page.locator("#id_description").fill("Since **Monday** morning.")
    page.locator("#id_uploads").set_input_files(str(photo))
    page.get_by_role("button", name=words["send_request"]).click()
    page.wait_for_url(re.compile(r"/portal/t/IT-\d+/$"))
    ref = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.get_by_role("link", name="error-screen.txt")).to_be_visible()

    # The agent finds it unassigned, takes it, replies and resolves.
    alex = window()
    alex.sign_in(people.agent.email)
    page = alex.page
    assert page.url.endswith("/desk/")
    page.get_by_role("link", name=words["unassigned"]).click()
    page.get_by_role("link", name=ref).click()
    page.wait_for_url(f"**/desk/t/{ref}/")
    expect(page.get_by_text("Monday", exact=True)).to_be_visible()
    page.get_by_role("button", name=words["assign_me"]).click()
    page.locator("#id_body").fill("A new **fuser** is on its way.")
    page.get_by_role("button", name=words["send"], exact=True).click()
    page.locator("summary", has_text=words["resolve"]).click()
    page.locator("#text-resolve").fill("Fuser replaced")
    page.locator("form[action$='/do/resolve'] button").click()
    page.wait_for_load_state()
    assert page.locator(".page-head .badge").first.inner_text() == words["resolved"]
    ticket = Ticket.objects.get(ref=ref)
    assert (ticket.assignee_id, ticket.status) == (people.agent.pk, "resolved")

    # The requester reads the reply and confirms.
    page = rita.page
    page.reload()
    expect(page.locator(".entry-body strong", has_text="fuser")).to_be_visible()
    page.get_by_role("button", name=words["confirm"]).click()
    page.wait_for_load_state()
    assert Ticket.objects.get(ref=ref).status == "closed"

    # Another organisation's requester cannot reach it by its address.
    otto = window()
    otto.sign_in(people.outsider.email)
    response = otto.page.goto(f"/portal/t/{ref}/")
    assert response is not None and response.status == 404
    assert "Printer jams" not in otto.page.content()


def test_a_request_goes_from_the_requester_to_the_agent_and_back(people, window, tmp_path):
    journey(people, window, tmp_path, "en")


def test_the_same_journey_in_french(people, window, tmp_path):
    journey(people, window, tmp_path, "fr")


def test_filters_change_the_list_without_reloading_and_keep_the_url(people, window):
    from comptoir.core.actor import Actor
    from comptoir.tickets import services

    for title, urgency in (("Server down", "high"), ("New mouse", "low")):
        services.create_ticket(
            actor=Actor.for_user(people.requester),
            desk=people.desk,
            kind="incident",
            title=title,
            impact=urgency,
            urgency=urgency,
        )
    alex = window()
    alex.sign_in(people.agent.email)
    page = alex.page
    page.goto("/desk/?queue=open")
    page.evaluate("window.stillHere = true")
    critical = str(Ticket.objects.get(title="Server down").priority)
    with page.expect_response(lambda r: "priority=" in r.url):
        page.locator("#id_priority").select_option(critical)
    page.wait_for_function(
        "!document.querySelector('#ticket-list').textContent.includes('New mouse')"
    )
    assert page.evaluate("window.stillHere") is True  # no full page load
    assert f"priority={critical}" in page.url
    page.reload()
    expect(page.get_by_text("Server down")).to_be_visible()
    assert page.get_by_text("New mouse").count() == 0


def test_the_workspace_fits_a_375_pixel_phone(people, window):
    from comptoir.core.actor import Actor
    from comptoir.tickets import services

    services.create_ticket(
        actor=Actor.for_user(people.requester),
        desk=people.desk,
        kind="incident",
        title="A rather long title that must wrap on a phone screen without scrolling sideways",
    )
    alex = window(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    alex.sign_in(people.agent.email)
    page = alex.page
    page.goto("/desk/?queue=open")
    expect(page.get_by_text("A rather long title")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_role("link", name=re.compile(r"IT-\d+")).first.click()
    # The ticket page has come when its button shows (is_visible() alone would not wait).
    expect(page.get_by_role("button", name="Assign to me")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
