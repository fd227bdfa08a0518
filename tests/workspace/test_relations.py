"""A ticket's links, parent and children on its page: shown with the other ticket's reference,
title and status, added and removed without a reload through the tickets' services, refused
in words (a ticket one may not see is "not found"), and for the desk's staff only.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Ticket, TicketEvent, TicketLink
from tests.api.helpers import db_state
from tests.factories import make_ticket
from tests.workspace.test_pages import browser

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _link(world, ticket, target, kind):
    services.link_tickets(
        actor=Actor.for_user(world.agent), ticket=ticket, target=target, kind=kind
    )


def _panel(html: str) -> str:
    start = html.index('id="relations"')
    return html[start : html.index("</section>", start)]


def test_the_page_shows_parent_children_and_links_with_their_direction(world, scene):
    problem = make_ticket(desk=world.desk, requester=world.requester, title="Boot loop on fleet")
    _link(world, scene.ticket, problem, "parent")
    _link(world, scene.ticket, scene.sibling, "duplicate_of")
    _link(world, scene.foreign, scene.ticket, "caused_by")
    services.transition_ticket(
        actor=Actor.for_user(world.agent), ticket=scene.sibling, action="resolve", resolution="ok"
    )
    panel = _panel(browser(world, "agent").get(f"/desk/t/{scene.ticket.ref}/").content.decode())
    assert problem.ref in panel and "Boot loop on fleet" in panel
    assert "Duplicate of" in panel and scene.sibling.ref in panel and "Screen flickers" in panel
    assert "Resolved" in panel  # the other ticket's status
    assert "Causes" in panel and scene.foreign.ref in panel  # the foreign one points here

    parent_page = browser(world, "agent").get(f"/desk/t/{problem.ref}/").content.decode()
    panel = _panel(parent_page)
    assert "Children" in panel and scene.ticket.ref in panel and "Laptop will not boot" in panel
    sibling_panel = _panel(
        browser(world, "agent").get(f"/desk/t/{scene.sibling.ref}/").content.decode()
    )
    assert "Duplicated by" in sibling_panel and scene.ticket.ref in sibling_panel


def test_an_agent_links_two_tickets_without_a_reload(world, scene):
    client = browser(world, "agent")
    response = client.post(
        f"/desk/t/{scene.ticket.ref}/links/add",
        {"kind": "related", "target": scene.sibling.ref.lower()},
        headers=HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel relations" id="relations"')
    assert "<html" not in html
    assert f"Linked to {scene.sibling.ref}." in html
    assert "Related to" in _panel(html) and "Screen flickers" in _panel(html)
    # The timeline and the live strip come along, out of band, with the new event.
    assert '<div id="timeline" hx-swap-oob="true">' in html
    assert f"linked it to {scene.sibling.ref}" in html
    last = TicketEvent.objects.filter(ticket=scene.ticket).order_by("-id").first()
    assert last is not None and f"after={last.pk}" in html and 'id="live"' in html
    assert TicketLink.objects.filter(
        source=scene.ticket, target=scene.sibling, kind="related"
    ).exists()


def test_without_script_the_form_posts_and_the_page_comes_back(world, scene):
    client = browser(world, "agent")
    response = client.post(
        f"/desk/t/{scene.ticket.ref}/links/add", {"kind": "caused_by", "target": scene.sibling.ref}
    )
    assert response.status_code == 302 and response["Location"] == f"/desk/t/{scene.ticket.ref}/"
    page = client.get(response["Location"]).content.decode()
    assert f"Linked to {scene.sibling.ref}." in page
    assert "Caused by" in _panel(page)


def test_set_then_clear_the_parent_and_add_then_remove_a_child(world, scene):
    client = browser(world, "agent")
    url = f"/desk/t/{scene.ticket.ref}/links/"
    client.post(url + "add", {"kind": "parent", "target": scene.sibling.ref}, headers=HTMX)
    assert Ticket.objects.get(pk=scene.ticket.pk).parent_id == scene.sibling.pk
    html = client.post(
        url + "remove",
        {"kind": "parent", "other": scene.sibling.ref, "direction": "out"},
        headers=HTMX,
    ).content.decode()
    assert Ticket.objects.get(pk=scene.ticket.pk).parent_id is None
    assert f"The link to {scene.sibling.ref} is removed." in html

    client.post(url + "add", {"kind": "child", "target": scene.foreign.ref}, headers=HTMX)
    assert Ticket.objects.get(pk=scene.foreign.pk).parent_id == scene.ticket.pk
    assert "Children" in _panel(client.get(f"/desk/t/{scene.ticket.ref}/").content.decode())
    client.post(
        url + "remove",
        {"kind": "child", "other": scene.foreign.ref, "direction": "out"},
        headers=HTMX,
    )
    assert Ticket.objects.get(pk=scene.foreign.pk).parent_id is None


def test_a_link_made_from_the_other_ticket_is_removed_from_this_one(world, scene):
    _link(world, scene.foreign, scene.ticket, "duplicate_of")
    html = (
        browser(world, "agent")
        .post(
            f"/desk/t/{scene.ticket.ref}/links/remove",
            {"kind": "duplicate_of", "other": scene.foreign.ref, "direction": "in"},
            headers=HTMX,
        )
        .content.decode()
    )
    assert f"The link to {scene.foreign.ref} is removed." in html
    assert not TicketLink.objects.exists()


def test_a_ticket_the_agent_may_not_see_reads_as_missing(world, scene):
    client = browser(world, "agent")
    before = db_state()
    hidden = client.post(
        f"/desk/t/{scene.ticket.ref}/links/add",
        {"kind": "related", "target": scene.hr.ref},
        headers=HTMX,
    ).content.decode()
    missing = client.post(
        f"/desk/t/{scene.ticket.ref}/links/add",
        {"kind": "related", "target": "HR-999999"},
        headers=HTMX,
    ).content.decode()
    assert f"No ticket {scene.hr.ref} was found." in hidden
    assert "No ticket HR-999999 was found." in missing
    assert "Payslip missing" not in hidden
    assert db_state() == before


def test_a_link_the_hidden_side_made_is_not_shown(world, scene):
    """A superuser linked an IT ticket to an HR one: the IT agent sees no trace of the HR one."""
    services.link_tickets(
        actor=Actor.for_user(world.superuser), ticket=scene.ticket, target=scene.hr, kind="related"
    )
    panel = _panel(browser(world, "agent").get(f"/desk/t/{scene.ticket.ref}/").content.decode())
    assert scene.hr.ref not in panel and "Payslip missing" not in panel


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"kind": "related", "target": "IT-000001"}, "That link is not possible"),  # itself
        ({"kind": "related", "target": "<script>"}, "This is not a ticket reference."),
        ({"kind": "sideways", "target": "IT-000002"}, "Select a valid choice"),
        ({"kind": "related", "target": ""}, "Give the reference of the other ticket."),
    ],
)
def test_a_refused_link_says_why_and_changes_nothing(world, scene, data, words):
    client = browser(world, "agent")
    before = db_state()
    response = client.post(f"/desk/t/{scene.ticket.ref}/links/add", data, headers=HTMX)
    assert response.status_code == 200  # htmx swaps only what succeeds: the panel says why
    html = response.content.decode()
    assert words in html and 'role="alert"' in html
    assert "<script>" not in html
    assert db_state() == before


def test_a_loop_of_parents_is_refused(world, scene):
    _link(world, scene.ticket, scene.sibling, "parent")  # the sibling is the ticket's parent
    before = db_state()
    html = (
        browser(world, "agent")
        .post(
            f"/desk/t/{scene.sibling.ref}/links/add",
            {"kind": "parent", "target": scene.ticket.ref},
            headers=HTMX,
        )
        .content.decode()
    )
    assert "That link is not possible" in html
    assert db_state() == before


def test_removing_a_link_that_is_not_there_is_refused(world, scene):
    before = db_state()
    html = (
        browser(world, "agent")
        .post(
            f"/desk/t/{scene.ticket.ref}/links/remove",
            {"kind": "related", "other": scene.sibling.ref, "direction": "out"},
            headers=HTMX,
        )
        .content.decode()
    )
    assert "That link is not possible" in html
    assert db_state() == before


def test_refusals_read_in_french(world, scene):
    world.agent.locale = "fr"
    world.agent.save(update_fields=["locale"])
    html = (
        browser(world, "agent")
        .post(
            f"/desk/t/{scene.ticket.ref}/links/add",
            {"kind": "related", "target": scene.ticket.ref},
            headers=HTMX,
        )
        .content.decode()
    )
    assert "Ce lien n’est pas possible" in html
    assert "Liens" in html


#: POST …/links/add by persona: requesters get the agents-only page, an agent of another desk
#: finds no such ticket, anonymous signs in; none changes anything.
REFUSED = {
    "anonymous": 302,
    "requester": 403,
    "colleague": 403,
    "outsider": 403,
    "other_agent": 404,
}


@pytest.mark.parametrize("persona", list(REFUSED))
def test_who_is_not_staff_of_the_desk_links_nothing(world, scene, persona):
    client = browser(world, persona)
    _link(world, scene.ticket, scene.sibling, "related")
    before = db_state()
    added = client.post(
        f"/desk/t/{scene.ticket.ref}/links/add",
        {"kind": "duplicate_of", "target": scene.sibling.ref},
        headers=HTMX,
    )
    removed = client.post(
        f"/desk/t/{scene.ticket.ref}/links/remove",
        {"kind": "related", "other": scene.sibling.ref, "direction": "out"},
        headers=HTMX,
    )
    assert added.status_code == removed.status_code == REFUSED[persona]
    assert "Screen flickers" not in added.content.decode()
    assert db_state() == before


def _page_queries(client, ref: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/desk/t/{ref}/").status_code == 200
    return len(ctx.captured_queries)


def test_the_page_costs_the_same_queries_for_2_links_or_30(world, scene):
    client = browser(world, "agent")
    agent = Actor.for_user(world.agent)
    others = [
        make_ticket(desk=world.desk, requester=world.colleague, title=f"Other {n}")
        for n in range(30)
    ]
    for other in others[:1]:
        services.link_tickets(actor=agent, ticket=scene.ticket, target=other, kind="related")
        services.link_tickets(actor=agent, ticket=other, target=scene.ticket, kind="caused_by")
        services.link_tickets(actor=agent, ticket=scene.ticket, target=other, kind="child")
    client.get(f"/desk/t/{scene.ticket.ref}/")  # warm the session and the per-process caches
    few = _page_queries(client, scene.ticket.ref)
    for other in others[1:]:
        services.link_tickets(actor=agent, ticket=scene.ticket, target=other, kind="related")
        services.link_tickets(actor=agent, ticket=other, target=scene.ticket, kind="caused_by")
        services.link_tickets(actor=agent, ticket=scene.ticket, target=other, kind="child")
    many = _page_queries(client, scene.ticket.ref)
    page = client.get(f"/desk/t/{scene.ticket.ref}/").content.decode()
    assert _panel(page).count("data-related=") == 90
    assert many == few


def test_another_desks_parent_child_and_link_show_only_once_the_agent_watches_them(world, scene):
    """The related tickets are checked in hand: another desk's stay hidden, a watched one shows."""
    root = Actor.for_user(world.superuser)
    payroll = make_ticket(desk=world.other_desk, requester=world.outsider, title="Payroll run")
    services.link_tickets(actor=root, ticket=scene.ticket, target=scene.hr, kind="parent")
    services.link_tickets(actor=root, ticket=scene.ticket, target=payroll, kind="child")
    services.link_tickets(actor=root, ticket=payroll, target=scene.ticket, kind="caused_by")
    client = browser(world, "agent")
    panel = _panel(client.get(f"/desk/t/{scene.ticket.ref}/").content.decode())
    assert "A ticket of a desk you do not work." in panel
    assert scene.hr.ref not in panel and payroll.ref not in panel and "Payroll run" not in panel

    scene.hr.watchers.add(world.agent)
    payroll.watchers.add(world.agent)
    panel = _panel(client.get(f"/desk/t/{scene.ticket.ref}/").content.decode())
    assert "A ticket of a desk you do not work." not in panel
    assert scene.hr.ref in panel and "Payslip missing" in panel
    assert panel.count("Payroll run") == 2  # as a child, and as the cause of this one


def test_past_the_shown_children_the_visible_ones_fill_the_page_and_the_rest_are_counted(
    world, scene
):
    from comptoir.workspace.selectors import CHILDREN_SHOWN, relations_of

    hidden = [
        make_ticket(desk=world.other_desk, requester=world.outsider, title=f"HR {n}")
        for n in range(3)
    ]
    shown = [
        make_ticket(desk=world.desk, requester=world.requester, title=f"IT {n}")
        for n in range(CHILDREN_SHOWN + 2)
    ]
    Ticket.objects.filter(pk__in=[t.pk for t in hidden + shown]).update(parent=scene.ticket)

    seen = relations_of(Actor.for_user(world.agent), scene.ticket)
    assert [child.pk for child in seen.children] == [t.pk for t in shown[:CHILDREN_SHOWN]]
    assert seen.more_children == 2  # the HR ones are neither listed nor counted
    everything = relations_of(Actor.for_user(world.superuser), scene.ticket)
    assert everything.children[:3] == hidden and everything.more_children == 5


def test_past_the_shown_links_each_way_lists_the_visible_ones(world, scene, monkeypatch):
    from comptoir.workspace import selectors

    monkeypatch.setattr(selectors, "LINKS_SHOWN", 2)
    root = Actor.for_user(world.superuser)
    hr = [
        make_ticket(desk=world.other_desk, requester=world.outsider, title=f"HR {n}")
        for n in range(3)
    ]
    it = [
        make_ticket(desk=world.desk, requester=world.requester, title=f"IT {n}") for n in range(3)
    ]
    for other in hr + it:
        services.link_tickets(actor=root, ticket=scene.ticket, target=other, kind="related")
    services.link_tickets(actor=root, ticket=it[0], target=scene.ticket, kind="caused_by")

    links = selectors.relations_of(Actor.for_user(world.agent), scene.ticket).links
    assert [(r.other.pk, r.outgoing) for r in links] == [
        (it[0].pk, False),  # caused_by sorts before related
        (it[0].pk, True),
        (it[1].pk, True),
    ]
