"""The agents' workspace: who may open it, what each list shows, and what the buttons change.

The personas are the API's permission matrix (tests/api): a page refuses or hides what the API
refuses, and a refused change leaves every row, file and timeline event as it was.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Ticket
from tests.api.helpers import PERSONAS, db_state, person
from tests.factories import TeamFactory, make_ticket

pytestmark = pytest.mark.django_db

LOGIN = "login"
FOR_AGENTS = 403


def browser(world, persona: str) -> Client:
    client = Client()
    user = person(world, persona)
    if user is not None:
        client.force_login(user)
    return client


#: GET /desk/: agents of any desk open it; requesters get the 403 page; anonymous signs in.
QUEUE = {
    "anonymous": LOGIN,
    "requester": FOR_AGENTS,
    "colleague": FOR_AGENTS,
    "outsider": FOR_AGENTS,
    "other_agent": 200,
    "agent": 200,
    "manager": 200,
    "change_manager": 200,
    "admin": 200,
    "superuser": 200,
}
#: Which of the scene's tickets the "all open" queue lists: the desks one works, only.
QUEUE_SEES = {
    "other_agent": {"hr"},
    "agent": {"ticket", "sibling", "foreign"},
    "manager": {"ticket", "sibling", "foreign"},
    "change_manager": {"ticket", "sibling", "foreign"},
    "admin": {"ticket", "sibling", "foreign"},
    "superuser": {"ticket", "sibling", "foreign", "hr"},
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_workspace_lists_only_the_desks_a_person_works(world, scene, persona):
    response = browser(world, persona).get("/desk/", {"queue": "open"})
    expected = QUEUE[persona]
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
        return
    assert response.status_code == expected
    html = response.content.decode()
    if expected == FOR_AGENTS:
        assert "For agents only" in html
        assert scene.ticket.ref not in html
        return
    shown = {
        name for name in ("ticket", "sibling", "foreign", "hr") if getattr(scene, name).ref in html
    }
    assert shown == QUEUE_SEES[persona]


#: GET /desk/t/IT-000001/: the desk's staff see the ticket with its internal note; an agent of
#: another desk who may read it as a colleague of the requester is sent to the portal's page.
TICKET = {
    "anonymous": LOGIN,
    "requester": FOR_AGENTS,
    "colleague": FOR_AGENTS,
    "outsider": FOR_AGENTS,
    "other_agent": "portal",
    "agent": 200,
    "manager": 200,
    "change_manager": 200,
    "admin": 200,
    "superuser": 200,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_ticket_page_shows_notes_to_the_desks_staff_only(world, scene, persona):
    response = browser(world, persona).get(f"/desk/t/{scene.ticket.ref}/")
    expected = TICKET[persona]
    if expected == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    elif expected == "portal":
        assert response.status_code == 302
        assert response["Location"] == f"/portal/t/{scene.ticket.ref}/"
    else:
        assert response.status_code == expected
    html = response.content.decode()
    if expected == 200:
        assert scene.note.body in html
        assert "entry-note" in html  # the note is drawn apart from replies
        assert scene.reply.body in html
        assert scene.internal_file.filename in html
    else:
        assert scene.note.body not in html


def test_an_agent_of_another_desk_cannot_reach_a_ticket_outside_their_view(world, scene):
    response = browser(world, "other_agent").get(f"/desk/t/{scene.foreign.ref}/")
    missing = browser(world, "other_agent").get("/desk/t/IT-999999/")
    assert response.status_code == missing.status_code == 404
    assert scene.foreign.title not in response.content.decode()


@pytest.mark.parametrize("persona", ["other_agent", "requester", "outsider", "anonymous"])
def test_who_is_not_staff_of_the_desk_changes_nothing_with_the_buttons(world, scene, persona):
    client = browser(world, persona)
    before = db_state()
    ref = scene.ticket.ref
    client.post(f"/desk/t/{ref}/assign-me")
    client.post(f"/desk/t/{ref}/do/resolve", {"text": "done"})
    client.post(f"/desk/t/{ref}/comment", {"body": "sneaky note", "visibility": "note"})
    assert db_state() == before


def test_assign_to_me_then_reply_then_resolve_from_the_ticket_page(world, scene):
    client = browser(world, "agent")
    ref = scene.sibling.ref
    page = client.get(f"/desk/t/{ref}/").content.decode()
    assert "Assign to me" in page and f"/desk/t/{ref}/do/resolve" in page
    assert client.post(f"/desk/t/{ref}/assign-me").status_code == 302
    assert (
        client.post(
            f"/desk/t/{ref}/comment", {"body": "On **my** way", "visibility": "reply"}
        ).status_code
        == 302
    )
    assert (
        client.post(f"/desk/t/{ref}/do/resolve", {"text": "Replaced the cable"}).status_code == 302
    )
    ticket = Ticket.objects.get(ref=ref)
    assert (ticket.assignee, ticket.status, ticket.resolution) == (
        world.agent,
        "resolved",
        "Replaced the cable",
    )
    page = client.get(f"/desk/t/{ref}/").content.decode()
    assert "<strong>my</strong>" in page  # Markdown rendered by the service
    assert "changed the status from New to Resolved" in page
    assert "Assign to me" not in page


def test_resolving_without_a_resolution_is_refused_and_keeps_nothing_half_done(world, scene):
    client = browser(world, "agent")
    before = db_state()
    response = client.post(f"/desk/t/{scene.sibling.ref}/do/resolve", {"text": "  "})
    assert response.status_code in (409, 422)
    assert db_state() == before
    assert "alert" in response.content.decode() or "error" in response.content.decode()


def test_a_refused_note_comes_back_with_the_text_typed(world, scene, settings):
    settings.COMPTOIR_MAX_ATTACHMENT_SIZE = 10
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = browser(world, "agent")
    before = db_state()
    response = client.post(
        f"/desk/t/{scene.sibling.ref}/comment",
        {
            "body": "Long explanation I do not want to type again",
            "visibility": "note",
            "uploads": [SimpleUploadedFile("big.txt", b"x" * 100, content_type="text/plain")],
        },
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert "Long explanation I do not want to type again" in html
    assert "A file is larger than the limit." in html
    assert db_state() == before


def test_queues_mine_team_unassigned_and_breaching(world, scene):
    from datetime import timedelta

    from django.utils import timezone

    team = TeamFactory(desk=world.desk, name="Field", slug="field")
    team.members.add(world.agent)
    agent = Actor.for_user(world.agent)
    services.assign_ticket(actor=agent, ticket=scene.ticket, agent=world.agent)
    services.assign_ticket(actor=agent, ticket=scene.sibling, team=team)
    Ticket.objects.filter(pk=scene.foreign.pk).update(
        sla_due_at=timezone.now() + timedelta(hours=1)
    )
    client = browser(world, "agent")

    def refs(queue: str) -> set[str]:
        html = client.get("/desk/", {"queue": queue}).content.decode()
        return {t.ref for t in (scene.ticket, scene.sibling, scene.foreign) if t.ref in html}

    assert refs("mine") == {scene.ticket.ref}
    assert refs("team") == {scene.sibling.ref}
    assert refs("unassigned") == {scene.sibling.ref, scene.foreign.ref}
    assert refs("breaching") == {scene.foreign.ref}
    html = client.get("/desk/", {"queue": "breaching"}).content.decode()
    assert "sla-soon" in html and " left" in html


def test_htmx_asks_for_the_list_alone_and_filters_apply(world, scene):
    Ticket.objects.filter(pk=scene.foreign.pk).update(priority=1)
    client = browser(world, "agent")
    response = client.get(
        "/desk/",
        {"queue": "open", "priority": "1"},
        headers={"HX-Request": "true", "HX-Target": "ticket-list"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="ticket-list"')
    assert "<html" not in html
    assert scene.foreign.ref in html and scene.ticket.ref not in html


def test_a_broken_page_link_or_unknown_filter_shows_the_list_not_an_error(world, scene):
    client = browser(world, "agent")
    response = client.get("/desk/", {"queue": "nope", "sort": "evil", "cursor": "%%%"})
    assert response.status_code == 200
    assert "no longer fits" in response.content.decode()


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/desk/", {"queue": "open"})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_list_costs_the_same_queries_for_3_tickets_or_40(world, scene):
    client = browser(world, "agent")
    client.get("/desk/")  # warm the session and the per-process caches
    few = _queries(client)
    for n in range(37):
        make_ticket(desk=world.desk, requester=world.colleague, title=f"Printer {n}")
    many = _queries(client)
    html = client.get("/desk/", {"queue": "open"}).content.decode()
    assert html.count('class="ref"') == 40
    assert many == few


def test_the_list_pages_by_cursor(world, scene):
    for n in range(52):
        make_ticket(desk=world.desk, requester=world.colleague, title=f"Screen {n}")
    client = browser(world, "agent")
    first = client.get("/desk/", {"queue": "open"}).content.decode()
    assert first.count('class="ref"') == 50
    import re

    link = re.search(r'href="\?([^"]*cursor=[^"]*)"', first)
    assert link is not None
    second = client.get("/desk/?" + link.group(1).replace("&amp;", "&")).content.decode()
    assert second.count('class="ref"') == 5


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("Nobody", "Critical", "In progress", "Overdue by", 'data-label="Requester"')),
        ("fr", ("Personne", "Critique", "En cours", "En retard de", 'data-label="Demandeur"')),
    ],
)
def test_each_row_of_the_list_says_its_ticket_in_the_readers_language(
    world, scene, language, words
):
    from datetime import timedelta

    from django.utils import timezone

    agent = Actor.for_user(world.agent)
    services.assign_ticket(actor=agent, ticket=scene.ticket, agent=world.agent)
    services.transition_ticket(actor=agent, ticket=scene.sibling, action="start")
    Ticket.objects.filter(pk=scene.foreign.pk).update(
        priority=1, sla_due_at=timezone.now() - timedelta(hours=3)
    )
    world.agent.locale = language
    world.agent.save(update_fields=["locale"])
    html = browser(world, "agent").get("/desk/", {"queue": "open"}).content.decode()
    rows = {t.ref: _row(html, t.ref) for t in (scene.ticket, scene.sibling, scene.foreign)}
    nobody, critical, started, overdue, label = words
    assert world.agent.name in rows[scene.ticket.ref] and nobody not in rows[scene.ticket.ref]
    assert f'href="/desk/t/{scene.ticket.ref}/"' in rows[scene.ticket.ref]
    assert started in rows[scene.sibling.ref] and overdue not in rows[scene.sibling.ref]
    assert critical in rows[scene.foreign.ref] and nobody in rows[scene.foreign.ref]
    assert 'class="badge sla-breached" title="' in rows[scene.foreign.ref]
    assert overdue in rows[scene.foreign.ref] and label in rows[scene.foreign.ref]
    assert world.outsider.name in rows[scene.foreign.ref]


def test_a_title_or_a_name_with_markup_is_printed_as_text_in_the_list(world, scene):
    hostile = '<img src=x onerror="alert(1)">'
    Ticket.objects.filter(pk=scene.ticket.pk).update(title=f"Printer {hostile} & co")
    world.colleague.display_name = f"Eve {hostile}"
    world.colleague.save(update_fields=["display_name"])
    Ticket.objects.filter(pk=scene.ticket.pk).update(requester=world.colleague)
    html = browser(world, "agent").get("/desk/", {"queue": "open"}).content.decode()
    row = _row(html, scene.ticket.ref)
    assert "<img" not in row and 'onerror="' not in row
    assert "Printer &lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co" in row
    assert "Eve &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in row


def _row(html: str, ref: str) -> str:
    start = html.index(f'value="{ref}"')
    return html[start : html.index("</tr>", start)]
