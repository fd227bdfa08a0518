"""Saved filters: an agent keeps the queue's filters under a name, finds them in the sidebar,
opens, renames and deletes them; they are theirs alone, named 1 to 80 characters, 50 at most,
and keep only the queue's known filter parameters.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.tickets.models import Ticket
from comptoir.workspace import services
from comptoir.workspace.models import SavedFilter
from tests.workspace.test_pages import browser

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _save(world, name: str, **params) -> SavedFilter:
    return services.save_filter(actor=Actor.for_user(world.agent), name=name, params=params)


def _sidebar(html: str) -> str:
    start = html.index('id="saved-filters"')
    return html[start : html.index("</section>", start)]


def test_an_agent_saves_the_filters_of_the_page_and_opens_them_again(world, scene):
    Ticket.objects.filter(pk=scene.foreign.pk).update(priority=1)
    client = browser(world, "agent")
    response = client.post(
        "/desk/filters/save",
        {
            "name": "Urgent, all open",
            "query": "queue=open&priority=1&cursor=abc&evil=1",
            "next": "/desk/?queue=open&priority=1",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/desk/?queue=open&priority=1"
    saved = SavedFilter.objects.get()
    assert (saved.owner, saved.name, saved.params) == (
        world.agent,
        "Urgent, all open",
        {"queue": "open", "priority": "1"},
    )
    page = client.get(response["Location"]).content.decode()
    assert "Filters saved as “Urgent, all open”." in page
    sidebar = _sidebar(page)
    assert 'href="/desk/?queue=open&amp;priority=1"' in sidebar and "Urgent, all open" in sidebar
    assert scene.foreign.ref in page and scene.sibling.ref not in page


def test_htmx_saves_the_filter_form_as_it_is_now_not_the_address_it_loaded_with(world, scene):
    client = browser(world, "agent")
    response = client.post(
        "/desk/filters/save",
        # the address is the page's load; the form's fields (sent by hx-include) are newer
        {
            "name": "Pending by age",
            "query": "queue=mine&priority=1",
            "queue": "open",
            "priority": "",
            "state": "pending",
            "sort": "created",
            "cursor": "xyz",
        },
        headers=HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="saved-filters" id="saved-filters"')
    assert "<html" not in html and "Filters saved as “Pending by age”." in html
    assert SavedFilter.objects.get().params == {
        "queue": "open",
        "state": "pending",
        "sort": "created",
    }


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("x" * 80, "x" * 80),
        ("  Mine \t\n at  night\x00\u200b ", "Mine at night"),
    ],
)
def test_a_name_is_kept_as_one_clean_line(world, name, kept):
    assert _save(world, name, queue="open").name == kept


@pytest.mark.parametrize("name", ["", "   ", "\x00\x01", "x" * 81])
def test_an_empty_or_long_name_is_refused_and_nothing_is_saved(world, scene, name):
    client = browser(world, "agent")
    html = client.post(
        "/desk/filters/save", {"name": name, "query": "queue=open"}, headers=HTMX
    ).content.decode()
    assert "A name is 1 to 80 characters." in html
    assert 'role="alert"' in html
    assert not SavedFilter.objects.exists()


def test_the_same_name_twice_is_refused_whatever_its_case(world, scene):
    _save(world, "Printers", queue="open")
    html = (
        browser(world, "agent")
        .post("/desk/filters/save", {"name": "PRINTERS", "query": "queue=mine"}, headers=HTMX)
        .content.decode()
    )
    assert "You have a saved filter of that name already." in html
    assert SavedFilter.objects.count() == 1
    assert 'value="PRINTERS"' in html  # what was typed stays


def test_another_person_may_use_the_same_name(world):
    _save(world, "Printers", queue="open")
    services.save_filter(actor=Actor.for_user(world.manager), name="Printers", params={})
    assert SavedFilter.objects.count() == 2


def test_fifty_filters_at_most(world, scene):
    for n in range(services.MAX_FILTERS):
        _save(world, f"Filter {n}", queue="open")
    html = (
        browser(world, "agent")
        .post("/desk/filters/save", {"name": "One more", "query": "queue=open"}, headers=HTMX)
        .content.decode()
    )
    assert "You keep the most saved filters there may be: delete one first." in html
    assert SavedFilter.objects.count() == services.MAX_FILTERS


def test_rename_then_delete_without_a_reload(world, scene):
    saved = _save(world, "Old name", queue="open")
    client = browser(world, "agent")
    html = client.post(
        f"/desk/filters/{saved.pk}/rename", {"name": "New name"}, headers=HTMX
    ).content.decode()
    assert "The filter is now named “New name”." in html and "Old name" not in html
    assert SavedFilter.objects.get().name == "New name"
    html = client.post(f"/desk/filters/{saved.pk}/delete", headers=HTMX).content.decode()
    assert "“New name” is deleted." in html and "No saved filter yet." in html
    assert not SavedFilter.objects.exists()


def test_renaming_onto_another_filters_name_is_refused(world, scene):
    _save(world, "Mine", queue="mine")
    other = _save(world, "Theirs", queue="team")
    html = (
        browser(world, "agent")
        .post(f"/desk/filters/{other.pk}/rename", {"name": "mine"}, headers=HTMX)
        .content.decode()
    )
    assert "You have a saved filter of that name already." in html
    assert SavedFilter.objects.get(pk=other.pk).name == "Theirs"


def test_without_script_rename_and_delete_come_back_to_the_list(world, scene):
    saved = _save(world, "Old name", queue="open")
    client = browser(world, "agent")
    response = client.post(
        f"/desk/filters/{saved.pk}/rename", {"name": "Renamed", "next": "/desk/?queue=team"}
    )
    assert response.status_code == 302 and response["Location"] == "/desk/?queue=team"
    response = client.post(f"/desk/filters/{saved.pk}/delete", {"next": "https://evil.test/"})
    assert response.status_code == 302 and response["Location"] == "/desk/"


def test_filters_are_personal(world, scene):
    mine = _save(world, "Alex's queue", queue="open")
    client = browser(world, "manager")
    assert "Alex" not in _sidebar(client.get("/desk/").content.decode())
    renamed = client.post(f"/desk/filters/{mine.pk}/rename", {"name": "Taken"}, headers=HTMX)
    deleted = client.post(f"/desk/filters/{mine.pk}/delete", headers=HTMX)
    assert renamed.status_code == deleted.status_code == 404
    assert SavedFilter.objects.get().name == "Alex's queue"


#: Who may not keep saved filters: requesters get the agents-only page, anonymous signs in.
REFUSED = {"anonymous": 302, "requester": 403, "outsider": 403}


@pytest.mark.parametrize("persona", list(REFUSED))
def test_who_is_not_an_agent_saves_nothing(world, scene, persona):
    mine = _save(world, "Alex's queue", queue="open")
    client = browser(world, persona)
    saved = client.post("/desk/filters/save", {"name": "Mine", "query": "queue=open"})
    renamed = client.post(f"/desk/filters/{mine.pk}/rename", {"name": "Taken"})
    deleted = client.post(f"/desk/filters/{mine.pk}/delete")
    assert saved.status_code == renamed.status_code == deleted.status_code == REFUSED[persona]
    assert list(SavedFilter.objects.values_list("name", flat=True)) == ["Alex's queue"]


def test_a_requester_may_not_keep_filters_through_the_service_either(world):
    with pytest.raises(DomainError) as refused:
        services.save_filter(actor=Actor.for_user(world.requester), name="Mine", params={})
    assert refused.value.code == "permission_denied"
    assert not SavedFilter.objects.exists()


def test_a_hostile_name_is_shown_as_text(world, scene):
    _save(world, "<script>alert(1)</script>", queue="open")
    html = _sidebar(browser(world, "agent").get("/desk/").content.decode())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_only_short_printable_known_values_are_kept():
    assert services.filter_params(
        {
            "queue": "open",
            "priority": 2,
            "desk": "it\nhr",
            "sort": "x" * 101,
            "team": ["1"],
            "cursor": "abc",
            "password": "hunter2",
            "age": " week ",
        }
    ) == {"queue": "open", "priority": "2", "age": "week"}


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/desk/", {"queue": "open"}).status_code == 200
    return len(ctx.captured_queries)


def test_the_list_costs_the_same_queries_for_1_saved_filter_or_30(world, scene):
    client = browser(world, "agent")
    _save(world, "First", queue="open")
    client.get("/desk/")  # warm the session and the per-process caches
    few = _queries(client)
    for n in range(29):
        _save(world, f"Filter {n}", queue="open", priority=str(n % 4 + 1))
    many = _queries(client)
    assert _sidebar(client.get("/desk/").content.decode()).count("data-saved=") == 30
    assert many == few


def test_the_sidebar_and_its_refusals_read_in_french(world, scene):
    world.agent.locale = "fr"
    world.agent.save(update_fields=["locale"])
    client = browser(world, "agent")
    assert "Filtres enregistrés" in client.get("/desk/").content.decode()
    html = client.post(
        "/desk/filters/save", {"name": "x" * 81, "query": "queue=open"}, headers=HTMX
    ).content.decode()
    assert "Un nom compte de 1 à 80 caractères." in html
