"""A ticket's page kept current: another person's reply appears on the next poll, the poll costs
one query when nothing changed, and the agents see who else has the ticket open.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.workspace import presence
from tests.workspace.test_pages import browser

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _no_marks(scene):
    """Only this test's marks: the cache may be a Redis shared with other runs."""
    keys = [presence._key(t.pk) for t in (scene.ticket, scene.sibling)]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def _poll_url(html: str) -> str:
    found = re.search(r'hx-get="(/desk/t/[^"]+/live\?after=\d+[^"]*)"', html)
    assert found is not None, "the page polls its live strip"
    return found.group(1).replace("&amp;", "&")


def test_a_reply_made_by_someone_else_appears_on_the_next_poll(world, scene):
    client = browser(world, "agent")
    page = client.get(f"/desk/t/{scene.ticket.ref}/").content.decode()
    assert 'hx-trigger="every 10s"' in page and 'id="timeline"' in page
    url = _poll_url(page)

    quiet = client.get(url, headers=HTMX).content.decode()
    assert "hx-swap-oob" not in quiet and "brought up to date" not in quiet

    requester = Actor.for_user(world.requester)
    services.add_comment(actor=requester, ticket=scene.ticket, body="It *beeps* three times")
    fresh = client.get(url, headers=HTMX).content.decode()
    assert '<div id="timeline" hx-swap-oob="true">' in fresh
    assert "It <em>beeps</em> three times" in fresh
    assert scene.note.body in fresh  # the agent's timeline, notes included
    assert "brought up to date" in fresh
    assert _poll_url(fresh) != url  # the next poll starts from the new event


def test_a_poll_that_finds_nothing_new_costs_one_query_of_its_own(world, scene):
    client = browser(world, "agent")
    url = _poll_url(client.get(f"/desk/t/{scene.ticket.ref}/").content.decode())
    client.get(url, headers=HTMX)  # warm the session and the per-process caches
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, headers=HTMX).status_code == 200
    ours = [q["sql"] for q in ctx.captured_queries if "tickets_ticket" in q["sql"]]
    others = [
        q["sql"]
        for q in ctx.captured_queries
        if "django_session" not in q["sql"] and "accounts_user" not in q["sql"]
    ]
    assert len(ours) == 1 and others == ours


def test_the_presence_list_shows_the_other_agent_then_drops_them(world, scene, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(presence, "_now", lambda: clock[0])
    world.manager.display_name = "Maya Manager"
    world.manager.save(update_fields=["display_name"])
    world.agent.display_name = "Alex Agent"
    world.agent.save(update_fields=["display_name"])
    alex, maya = browser(world, "agent"), browser(world, "manager")
    page = alex.get(f"/desk/t/{scene.ticket.ref}/").content.decode()
    assert "Also looking" not in page  # alone on it
    url = _poll_url(page)

    maya.get(f"/desk/t/{scene.ticket.ref}/")
    clock[0] += 10
    strip = alex.get(url, headers=HTMX).content.decode()
    assert "Also looking at this ticket: Maya Manager." in strip
    assert "Alex Agent" not in strip  # never oneself
    assert "Maya" not in alex.get(f"/desk/t/{scene.sibling.ref}/").content.decode()

    clock[0] += presence.PRESENCE_SECONDS + 1  # Maya closed the tab: no poll since
    strip = alex.get(url, headers=HTMX).content.decode()
    assert "Maya Manager" not in strip and "Also looking" not in strip


def _oob(html: str, element_id: str) -> str:
    """The out-of-band element ``element_id`` of a live answer ('' when it is not there)."""
    found = re.search(
        rf'<(div|section) [^>]*id="{element_id}"[^>]*hx-swap-oob="true".*?</\1>', html, re.S
    )
    return found.group(0) if found else ""


def test_a_status_changed_by_someone_else_redraws_the_badge_and_the_buttons(world, scene):
    client = browser(world, "agent")
    page = client.get(f"/desk/t/{scene.ticket.ref}/").content.decode()
    assert f"/desk/t/{scene.ticket.ref}/do/resolve" in page
    url = _poll_url(page)

    maya = Actor.for_user(world.manager)
    services.transition_ticket(actor=maya, ticket=scene.ticket, action="resolve", resolution="ok")
    fresh = client.get(url, headers=HTMX).content.decode()
    badges, actions = _oob(fresh, "ticket-badges"), _oob(fresh, "ticket-actions")
    assert 'data-status="resolved"' in badges and "Resolved" in badges
    assert "/do/resolve" not in actions and f"/desk/t/{scene.ticket.ref}/do/reopen" in actions
    assert f"{scene.ticket.ref} is now “Resolved”." in fresh
    assert "shown=resolved." in _poll_url(fresh)  # the next poll knows the buttons are new


def test_a_reply_refreshes_the_badges_but_keeps_the_buttons_and_what_is_typed_in_them(world, scene):
    client = browser(world, "agent")
    url = _poll_url(client.get(f"/desk/t/{scene.ticket.ref}/").content.decode())
    services.add_comment(
        actor=Actor.for_user(world.requester), ticket=scene.ticket, body="Still broken"
    )
    fresh = client.get(url, headers=HTMX).content.decode()
    assert _oob(fresh, "ticket-badges") and _oob(fresh, "ticket-details")
    assert _oob(fresh, "ticket-actions") == ""  # a half-typed resolution is not wiped
    assert "is now" not in fresh


def test_a_new_assignee_redraws_the_buttons(world, scene):
    client = browser(world, "agent")
    page = client.get(f"/desk/t/{scene.ticket.ref}/").content.decode()
    assert "Assign to me" in page
    url = _poll_url(page)
    services.assign_ticket(
        actor=Actor.for_user(world.manager), ticket=scene.ticket, agent=world.agent
    )
    fresh = client.get(url, headers=HTMX).content.decode()
    actions = _oob(fresh, "ticket-actions")
    assert actions and "Assign to me" not in actions
    assert world.agent.name in _oob(fresh, "ticket-details")


def test_a_hostile_shown_value_redraws_the_buttons_and_is_not_echoed(world, scene):
    client = browser(world, "agent")
    response = client.get(
        f"/desk/t/{scene.ticket.ref}/live", {"after": "0", "shown": '"><script>alert(1)</script>'}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>" not in html and "alert(1)" not in html
    assert _oob(html, "ticket-actions")


@pytest.mark.parametrize("persona", ["requester", "other_agent", "anonymous"])
def test_the_live_strip_is_for_the_desks_staff_only(world, scene, persona):
    response = browser(world, persona).get(f"/desk/t/{scene.ticket.ref}/live?after=0")
    assert response.status_code in (302, 403, 404)
    assert scene.note.body not in response.content.decode()
    assert cache.get(presence._key(scene.ticket.pk)) is None  # and leaves no mark


def test_a_hostile_after_value_is_read_as_zero(world, scene):
    client = browser(world, "agent")
    response = client.get(f"/desk/t/{scene.ticket.ref}/live", {"after": "1 OR 1=1"})
    assert response.status_code == 200
    assert "brought up to date" in response.content.decode()


def test_the_composer_previews_markdown_with_the_services_renderer(world, scene):
    client = browser(world, "agent")
    page = client.get(f"/desk/t/{scene.ticket.ref}/").content.decode()
    assert 'hx-post="/desk/preview"' in page
    html = client.post(
        "/desk/preview",
        {"body": "**Bold** <script>alert(1)</script> [x](javascript:alert(1))"},
        headers=HTMX,
    ).content.decode()
    assert "<strong>Bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html  # shown as text, never run
    assert 'href="javascript' not in html
    assert "Nothing to preview yet." in client.post("/desk/preview", {"body": " "}).content.decode()
    too_long = client.post("/desk/preview", {"body": "x" * 100_001}).content.decode()
    assert "too long" in too_long
    assert browser(world, "requester").post("/desk/preview", {"body": "hi"}).status_code == 403
