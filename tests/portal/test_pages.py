"""The requesters' portal: their requests, a new request, the public conversation, the steps a
requester may take; internal notes never reach it, and another organisation's ticket is a 404.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from comptoir.core.actor import Actor
from comptoir.desks.models import Desk
from comptoir.tickets import services
from comptoir.tickets.models import Attachment, Ticket
from tests.api.helpers import PERSONAS, db_state, person
from tests.factories import CategoryFactory, DeskFactory

pytestmark = pytest.mark.django_db


def browser(world, persona: str) -> Client:
    client = Client()
    user = person(world, persona)
    if user is not None:
        client.force_login(user)
    return client


#: GET /portal/t/IT-000001/ (the requester's ticket): the API's read matrix, as pages.
READ = {
    "anonymous": "login",
    "requester": 200,
    "colleague": 200,
    "outsider": 404,
    "other_agent": 200,
    "agent": 200,
    "manager": 200,
    "change_manager": 200,
    "admin": 200,
    "superuser": 200,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_portal_page_shows_the_public_conversation_and_never_a_note(world, scene, persona):
    response = browser(world, persona).get(f"/portal/t/{scene.ticket.ref}/")
    expected = READ[persona]
    html = response.content.decode()
    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        return
    assert response.status_code == expected
    assert scene.note.body not in html  # not even for the desk's staff
    assert scene.internal_file.filename not in html
    if expected == 200:
        assert scene.reply.body in html
        assert scene.public_file.filename in html
    else:
        missing = browser(world, persona).get("/portal/t/IT-999999/")
        assert missing.status_code == 404
        assert scene.ticket.title not in html


def test_an_internal_file_cannot_be_downloaded_from_the_portal_even_by_staff(world, scene):
    url = f"/portal/t/{scene.ticket.ref}/files/{scene.internal_file.pk}"
    assert browser(world, "agent").get(url).status_code == 404
    public = browser(world, "requester").get(
        f"/portal/t/{scene.ticket.ref}/files/{scene.public_file.pk}"
    )
    assert public.status_code == 200
    assert public["Content-Disposition"].startswith("attachment")
    assert b"".join(public.streaming_content) == b"a blurry photo"


def test_my_requests_and_my_organisations(world, scene):
    colleague = browser(world, "colleague")
    mine = colleague.get("/portal/").content.decode()
    assert scene.ticket.ref not in mine  # the requester's, not the colleague's
    shared = colleague.get("/portal/", {"scope": "organisation"}).content.decode()
    assert scene.ticket.ref in shared and scene.sibling.ref in shared
    assert scene.foreign.ref not in shared
    outsider = browser(world, "outsider").get("/portal/", {"scope": "organisation"})
    assert scene.ticket.ref not in outsider.content.decode()


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("New", "Status", "Last change")),
        ("fr", ("Nouveau", "Statut", "Dernière modification")),
    ],
)
def test_each_request_listed_says_its_state_in_the_readers_language_and_stays_text(
    world, scene, language, words
):
    hostile = '<img src=x onerror="alert(1)">'
    Ticket.objects.filter(pk=scene.ticket.pk).update(title=f"Printer {hostile} & co")
    world.requester.display_name = f"Eve {hostile}"
    world.requester.locale = language
    world.requester.save(update_fields=["display_name", "locale"])
    world.colleague.locale = language
    world.colleague.save(update_fields=["locale"])
    new, status, changed = words
    mine = browser(world, "requester").get("/portal/").content.decode()
    row = re.search(
        rf'<tr>\s*<td class="ref"><a href="/portal/t/{scene.ticket.ref}/">.*?</tr>', mine, re.S
    )
    assert row is not None
    row_html = row.group(0)
    assert "Printer &lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co" in row_html
    assert "<img" not in row_html and "Eve" not in row_html  # one's own list names no one
    assert f'data-label="{status}"' in row_html and f'data-label="{changed}"' in row_html
    assert f">{new}</span>" in row_html
    shared = browser(world, "colleague").get("/portal/", {"scope": "organisation"})
    row = re.search(
        rf'<a href="/portal/t/{scene.ticket.ref}/">Printer.*?</tr>', shared.content.decode(), re.S
    )
    assert row is not None
    assert "— Eve &lt;img src=x onerror=&quot;alert(1)&quot;&gt;</span>" in row.group(0)
    assert "<img" not in row.group(0)


def test_the_list_of_requests_reads_the_same_few_statements_for_two_or_twenty(world, scene):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import make_ticket

    client = browser(world, "colleague")
    client.get("/portal/", {"scope": "organisation"})  # the session and the per-process caches

    def statements() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/portal/", {"scope": "organisation"})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    few = statements()
    for n in range(18):
        make_ticket(desk=world.desk, requester=world.requester, title=f"Badge {n}")
    html = client.get("/portal/", {"scope": "organisation"}).content.decode()
    assert html.count('<td class="ref">') == 20
    assert statements() == few <= 4  # session, user, organisation, the page with its requesters


def test_a_requester_opens_a_request_with_a_file(world, scene):
    CategoryFactory(desk=world.desk, name="Printers", slug="printers")
    client = browser(world, "requester")
    form = client.get("/portal/new/").content.decode()
    assert 'name="desk"' in form and "Printers" in form
    category = world.desk.categories.get(slug="printers")
    response = client.post(
        "/portal/new/",
        {
            "desk": "it",
            "kind": "incident",
            "category": str(category.pk),
            "title": "Printer jams",
            "description": "Every **third** page",
            "uploads": [
                SimpleUploadedFile("jam.txt", b"paper everywhere", content_type="text/plain")
            ],
        },
    )
    ticket = Ticket.objects.get(title="Printer jams")
    assert response.status_code == 302 and response["Location"] == f"/portal/t/{ticket.ref}/"
    assert (ticket.requester, ticket.category, ticket.channel) == (
        world.requester,
        category,
        "portal",
    )
    assert list(ticket.attachments.values_list("filename", "public")) == [("jam.txt", True)]
    page = client.get(response["Location"]).content.decode()
    assert "<strong>third</strong>" in page and "jam.txt" in page


def test_the_new_request_form_starts_on_the_desk_asked_last(world, scene):
    """Among several desks, the form starts on the one the requester asked last time, not on
    the first by name; a desk given in the address still wins."""
    DeskFactory(name="Accounts", slug="accounts", serves_all_sites=True)
    client = browser(world, "requester")

    def chosen(query: str = "") -> str:
        """The option a browser shows: the one marked selected, else the first."""
        html = client.get("/portal/new/" + query).content.decode()
        start = html.index('name="desk"')
        options = re.findall(
            r'<option value="([^"]*)"([^>]*)>', html[start : html.index("</select>", start)]
        )
        marked = [value for value, attributes in options if "selected" in attributes]
        assert len(marked) <= 1, marked
        return marked[0] if marked else options[0][0]

    assert chosen() == "it"  # their requests are on the IT desk (the scene's)
    assert chosen("?desk=accounts") == "accounts"
    services.create_ticket(
        actor=Actor.for_user(world.requester),
        desk=Desk.objects.get(slug="accounts"),
        kind="incident",
        title="Invoice missing",
    )
    assert chosen() == "accounts"


def test_a_refused_request_keeps_what_was_typed_and_creates_nothing(world, scene, settings):
    settings.COMPTOIR_MAX_ATTACHMENT_SIZE = 5
    client = browser(world, "requester")
    before = db_state()
    response = client.post(
        "/portal/new/",
        {
            "desk": "it",
            "kind": "incident",
            "title": "Scanner broken",
            "description": "It beeps twice",
            "uploads": [
                SimpleUploadedFile("scan.txt", b"too many bytes", content_type="text/plain")
            ],
        },
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert "Scanner broken" in html and "It beeps twice" in html
    assert "A file is larger than the limit." in html
    assert db_state() == before


def test_a_desk_the_requester_cannot_use_is_refused(world, scene):
    before = db_state()
    response = browser(world, "requester").post(
        "/portal/new/", {"desk": "no-such-desk", "kind": "incident", "title": "x"}
    )
    assert response.status_code == 422
    assert db_state() == before


def test_the_requester_replies_then_confirms_the_resolution(world, scene):
    client = browser(world, "requester")
    ref = scene.ticket.ref
    assert client.post(f"/portal/t/{ref}/reply", {"body": "Still broken"}).status_code == 302
    page = client.get(f"/portal/t/{ref}/").content.decode()
    assert "Still broken" in page
    assert f"/portal/t/{ref}/do/close" not in page  # nothing to confirm yet
    services.resolve_ticket(
        actor=Actor.for_user(world.agent), ticket=scene.ticket, resolution="New battery"
    )
    page = client.get(f"/portal/t/{ref}/").content.decode()
    assert "Confirm it is solved" in page and "New battery" in page
    assert client.post(f"/portal/t/{ref}/do/close").status_code == 302
    assert Ticket.objects.get(pk=scene.ticket.pk).status == "closed"


def test_the_requester_reopens_with_a_reason(world, scene):
    services.resolve_ticket(
        actor=Actor.for_user(world.agent), ticket=scene.ticket, resolution="Done"
    )
    client = browser(world, "requester")
    ref = scene.ticket.ref
    assert client.post(f"/portal/t/{ref}/do/reopen", {"text": "It came back"}).status_code == 302
    assert Ticket.objects.get(pk=scene.ticket.pk).status == "in_progress"


@pytest.mark.parametrize("action", ["resolve", "start", "wait_for_vendor"])
def test_a_requester_cannot_take_the_agents_steps(world, scene, action):
    before = db_state()
    response = browser(world, "requester").post(
        f"/portal/t/{scene.ticket.ref}/do/{action}", {"text": "done"}
    )
    assert response.status_code == 404
    assert db_state() == before


@pytest.mark.parametrize("persona", ["outsider", "anonymous"])
def test_who_cannot_see_the_ticket_cannot_reply_to_it(world, scene, persona):
    before = db_state()
    response = browser(world, persona).post(
        f"/portal/t/{scene.ticket.ref}/reply", {"body": "hello"}
    )
    assert response.status_code in (302, 404)
    if persona == "anonymous":
        assert response["Location"].startswith("/login/")
    assert db_state() == before
    assert Attachment.objects.count() == 2
