"""Canned responses: the composer's picker offers the ticket desk's shared responses and the
agent's own, filled in for the ticket by plain substitution; the management page lets a desk's
managers keep its shared ones and every agent their own; every change is audited.
"""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.core.models import AuditEntry
from comptoir.workspace import placeholders, services
from comptoir.workspace.models import CannedResponse
from tests.workspace.test_pages import browser

HTMX = {"HX-Request": "true"}
VALUES = {
    "ticket.ref": "IT-000001",
    "ticket.title": "Laptop will not boot",
    "requester.name": "Rita Requester",
    "agent.name": "Alex Agent",
}


# --- the substitution, without a database ----------------------------------------------------


def test_the_four_placeholders_are_filled_and_anything_else_is_left_as_written():
    text = (
        "Hello {requester.name}, about {ticket.ref} ({ticket.title}): done. — {agent.name}\n"
        "{ticket.desk} {{ ticket.ref }} {% load evil %} {{request.user.password}} {ticket.ref"
    )
    assert placeholders.fill(text, VALUES) == (
        "Hello Rita Requester, about IT-000001 (Laptop will not boot): done. — Alex Agent\n"
        "{ticket.desk} {{ ticket.ref }} {% load evil %} {{request.user.password}} {ticket.ref"
    )


def test_a_value_cannot_format_the_reply_nor_break_its_lines():
    hostile = {
        "requester.name": "[click](https://evil.test) **Boss**\n# Title <b>x</b>\x00",
        "ticket.title": "`rm -rf` _now_ | ~~x~~ \\",
    }
    filled = placeholders.fill("{requester.name} / {ticket.title}", hostile)
    assert filled == (
        "\\[click\\](https://evil.test) \\*\\*Boss\\*\\* # Title \\<b\\>x\\</b\\> / "
        "\\`rm -rf\\` \\_now\\_ \\| \\~\\~x\\~\\~ \\\\"
    )


def test_a_placeholder_without_a_value_is_emptied():
    assert placeholders.fill("Dear {requester.name}.", {}) == "Dear ."


@given(st.text(alphabet=st.characters(blacklist_characters="{")))
def test_a_text_without_braces_is_kept_exactly(text):
    assert placeholders.fill(text, VALUES) == text


@given(st.text(), st.text())
def test_a_filled_value_is_always_one_line_without_markdown_left_unescaped(name, text):
    filled = placeholders.fill("{requester.name}", {"requester.name": name})
    assert "\n" not in filled and "\r" not in filled
    assert not re.search(r"(?<!\\)(?:\\\\)*[`*_\[\]<>|~]", filled)
    assert placeholders.fill(text.replace("{", "("), VALUES) == text.replace("{", "(")


# --- the composer's picker -------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


def _shared(world, desk, title: str, body: str) -> CannedResponse:
    return services.create_canned_response(
        actor=Actor.for_user(world.superuser), title=title, body=body, desk=desk
    )


def _own(user, title: str, body: str) -> CannedResponse:
    return services.create_canned_response(actor=Actor.for_user(user), title=title, body=body)


def _choices(html: str) -> dict[str, str]:
    """Title → the text a choice inserts."""
    found = re.findall(r'data-canned-text="([^"]*)">\s*<strong>([^<]*)</strong>', html)
    return {html_lib.unescape(title): html_lib.unescape(text) for text, title in found}


@pytestmark_db
def test_the_picker_offers_the_desks_shared_responses_and_ones_own_filled_in(world, scene):
    world.agent.display_name = "Alex Agent"
    world.agent.save(update_fields=["display_name"])
    world.requester.display_name = "Rita <Requester>"
    world.requester.save(update_fields=["display_name"])
    _shared(world, world.desk, "Reboot", "Hi {requester.name}, {ticket.ref} is fixed. {agent.name}")
    _shared(world, world.other_desk, "Payslip", "HR only")
    _own(world.agent, "My sign-off", "Cheers, {agent.name}")
    _own(world.manager, "Maya's", "Not Alex's")
    html = (
        browser(world, "agent")
        .get(f"/desk/t/{scene.ticket.ref}/responses", headers=HTMX)
        .content.decode()
    )
    assert html.lstrip().startswith('<div id="canned-list"')
    assert _choices(html) == {
        "My sign-off": "Cheers, Alex Agent",
        "Reboot": f"Hi Rita \\<Requester\\>, {scene.ticket.ref} is fixed. Alex Agent",
    }
    assert "<Requester>" not in html  # escaped in the page too


@pytestmark_db
def test_the_filter_box_finds_by_title_or_text(world, scene):
    _shared(world, world.desk, "Reboot", "Turn it off and on")
    _shared(world, world.desk, "Password", "Use the reset link")
    client = browser(world, "agent")
    url = f"/desk/t/{scene.ticket.ref}/responses"
    assert set(_choices(client.get(url, {"canned_q": "reset"}).content.decode())) == {"Password"}
    assert set(_choices(client.get(url, {"canned_q": "REBOOT"}).content.decode())) == {"Reboot"}
    nothing = client.get(url, {"canned_q": "<b>zzz</b>"}).content.decode()
    assert "No canned response holds “&lt;b&gt;zzz&lt;/b&gt;”." in nothing


@pytestmark_db
@pytest.mark.parametrize(
    ("persona", "status"), [("anonymous", 302), ("requester", 403), ("other_agent", 404)]
)
def test_the_picker_is_for_the_desks_staff(world, scene, persona, status):
    _shared(world, world.desk, "Reboot", "Secret words of the desk")
    response = browser(world, persona).get(f"/desk/t/{scene.ticket.ref}/responses")
    assert response.status_code == status
    assert "Secret words" not in response.content.decode()


@pytestmark_db
def test_the_picker_costs_the_same_queries_for_2_responses_or_20(world, scene):
    client = browser(world, "agent")
    url = f"/desk/t/{scene.ticket.ref}/responses"
    for n in range(2):
        _shared(world, world.desk, f"Shared {n}", "Hello {requester.name}")
    client.get(url)  # warm the session and the per-process caches
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(2, 10):
        _shared(world, world.desk, f"Shared {n}", "Hello {requester.name}")
        _own(world.agent, f"Own {n}", "Bye {agent.name}")
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert len(_choices(html)) == 18
    assert len(many.captured_queries) == len(few.captured_queries)


@pytestmark_db
def test_the_composer_holds_the_picker(world, scene):
    page = browser(world, "agent").get(f"/desk/t/{scene.ticket.ref}/").content.decode()
    assert f'hx-get="/desk/t/{scene.ticket.ref}/responses"' in page
    assert 'name="canned_q"' in page and "data-no-submit" in page


# --- the management page ---------------------------------------------------------------------


@pytestmark_db
def test_a_manager_shares_a_response_with_the_desk_and_it_is_audited(world, scene):
    client = browser(world, "manager")
    form = client.get("/desk/responses/new").content.decode()
    assert 'value="it"' in form and 'value="hr"' not in form  # only desks they manage
    response = client.post(
        "/desk/responses/new",
        {"title": "Reboot", "body": "Hi {requester.name},\r\nturn it off.", "scope": "it"},
    )
    assert response.status_code == 302 and response["Location"] == "/desk/responses/"
    created = CannedResponse.objects.get()
    assert (created.desk, created.owner, created.body) == (
        world.desk,
        None,
        "Hi {requester.name},\nturn it off.",
    )
    entry = AuditEntry.objects.get(action="canned_response_created")
    assert entry.actor_user == world.manager and entry.after["title"] == "Reboot"
    listing = browser(world, "agent").get("/desk/responses/").content.decode()
    assert "Reboot" in listing and f"/desk/responses/{created.pk}/edit" not in listing


@pytestmark_db
def test_an_agent_keeps_their_own_but_cannot_share(world, scene):
    client = browser(world, "agent")
    form = client.get("/desk/responses/new").content.decode()
    assert 'value="it"' not in form
    refused = client.post("/desk/responses/new", {"title": "X", "body": "Y", "scope": "it"})
    assert refused.status_code == 422 and not CannedResponse.objects.exists()
    client.post("/desk/responses/new", {"title": "Alex's sign-off", "body": "Cheers", "scope": ""})
    own = CannedResponse.objects.get()
    assert (own.owner, own.desk) == (world.agent, None)
    assert "sign-off" not in browser(world, "manager").get("/desk/responses/").content.decode()
    with pytest.raises(DomainError) as denied:
        services.create_canned_response(
            actor=Actor.for_user(world.agent), title="Sneaky", body="x", desk=world.desk
        )
    assert denied.value.code == "permission_denied"


@pytestmark_db
def test_edit_and_delete_by_who_may(world, scene):
    shared = _shared(world, world.desk, "Reboot", "Turn it off")
    own = _own(world.agent, "Mine", "Cheers")
    agent, manager = browser(world, "agent"), browser(world, "manager")

    assert agent.get(f"/desk/responses/{shared.pk}/edit").status_code == 403
    assert agent.post(f"/desk/responses/{shared.pk}/delete").status_code == 403
    assert manager.get(f"/desk/responses/{own.pk}/edit").status_code == 404  # another's own
    assert manager.post(f"/desk/responses/{own.pk}/delete").status_code == 404
    assert CannedResponse.objects.count() == 2

    response = manager.post(
        f"/desk/responses/{shared.pk}/edit", {"title": "Reboot it", "body": "Off, then on"}
    )
    assert response.status_code == 302
    shared.refresh_from_db()
    assert (shared.title, shared.body) == ("Reboot it", "Off, then on")
    changed = AuditEntry.objects.get(action="canned_response_changed")
    assert changed.before == {"title": "Reboot", "body": "Turn it off"}
    assert agent.post(f"/desk/responses/{own.pk}/delete").status_code == 302
    assert list(CannedResponse.objects.values_list("title", flat=True)) == ["Reboot it"]
    assert AuditEntry.objects.filter(action="canned_response_deleted").count() == 1


@pytestmark_db
@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"title": "", "body": "x"}, "This field is required."),
        ({"title": "x" * 101, "body": "x"}, "at most 100 characters"),
        ({"title": "\x00", "body": "x"}, "Null characters are not allowed."),
        ({"title": "\x01\x02", "body": "x"}, "A title is 1 to 100 characters."),
        ({"title": "Hello", "body": " \x01\u200b "}, "The text is 1 to 20,000 characters."),
        ({"title": "REBOOT", "body": "x"}, "There is a canned response of that title already."),
    ],
)
def test_a_bad_response_is_refused_with_what_was_typed_kept(world, scene, data, words):
    _own(world.agent, "Reboot", "Turn it off")
    response = browser(world, "agent").post("/desk/responses/new", {**data, "scope": ""})
    assert response.status_code == 422
    page = response.content.decode()
    assert words in html_lib.unescape(page)
    assert CannedResponse.objects.count() == 1


@pytestmark_db
@pytest.mark.parametrize(
    ("persona", "status"), [("anonymous", 302), ("requester", 403), ("outsider", 403)]
)
def test_the_management_page_is_for_agents(world, scene, persona, status):
    _shared(world, world.desk, "Reboot", "Secret words")
    client = browser(world, persona)
    assert client.get("/desk/responses/").status_code == status
    assert client.post("/desk/responses/new", {"title": "x", "body": "y"}).status_code == status
    assert CannedResponse.objects.count() == 1


@pytestmark_db
def test_an_agent_of_another_desk_sees_none_of_its_shared_responses(world, scene):
    shared = _shared(world, world.desk, "Reboot", "IT words")
    client = browser(world, "other_agent")
    assert "IT words" not in client.get("/desk/responses/").content.decode()
    assert client.get(f"/desk/responses/{shared.pk}/edit").status_code == 404


@pytestmark_db
def test_the_list_filters_by_words_and_whose(world, scene):
    _shared(world, world.desk, "Reboot", "Turn it off")
    _own(world.manager, "Sign-off", "Cheers")
    client = browser(world, "manager")
    mine = client.get("/desk/responses/", {"scope": "mine"}).content.decode()
    assert "Sign-off" in mine and "Reboot" not in mine
    words = client.get("/desk/responses/", {"q": "turn"}).content.decode()
    assert "Reboot" in words and "Sign-off" not in words


@pytestmark_db
def test_the_list_costs_the_same_queries_for_3_responses_or_40(world, scene):
    client = browser(world, "manager")
    for n in range(3):
        _shared(world, world.desk, f"Shared {n}", "x")
    client.get("/desk/responses/")  # warm the session and the per-process caches
    with CaptureQueriesContext(connection) as few:
        client.get("/desk/responses/")
    for n in range(3, 40):
        _shared(world, world.desk, f"Shared {n}", "x")
    with CaptureQueriesContext(connection) as many:
        page = client.get("/desk/responses/").content.decode()
    assert page.count("data-response=") == 40
    assert len(many.captured_queries) == len(few.captured_queries)


@pytestmark_db
def test_the_list_pages_by_cursor(world, scene):
    for n in range(53):
        _own(world.agent, f"Own {n}", "x")
    client = browser(world, "agent")
    first = client.get("/desk/responses/").content.decode()
    assert first.count("data-response=") == 50
    link = re.search(r'href="\?([^"]*cursor=[^"]*)"', first)
    assert link is not None
    second = client.get("/desk/responses/?" + html_lib.unescape(link.group(1))).content.decode()
    assert second.count("data-response=") == 3


@pytestmark_db
def test_the_pages_read_in_french(world, scene):
    world.manager.locale = "fr"
    world.manager.save(update_fields=["locale"])
    client = browser(world, "manager")
    assert "Réponses types" in client.get("/desk/responses/").content.decode()
    page = client.post("/desk/responses/new", {"title": "\x01", "body": "x", "scope": ""})
    assert "Un titre compte de 1 à 100 caractères." in page.content.decode()


@pytestmark_db
def test_the_admin_lists_them_but_changes_go_through_the_page(world, scene):
    _shared(world, world.desk, "Reboot", "Turn it off")
    client = browser(world, "superuser")
    listing = client.get("/admin/workspace/cannedresponse/")
    assert listing.status_code == 200 and "Reboot" in listing.content.decode()
    assert client.get("/admin/workspace/cannedresponse/add/").status_code == 403
