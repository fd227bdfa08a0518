"""A ticket with a long timeline opens as fast as a short one: its page shows the newest events
and offers the earlier ones, in the workspace and in the portal, and the live strip keeps what
the reader asked for.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.core.actor import Actor
from comptoir.portal import shared
from comptoir.tickets import services
from comptoir.tickets.models import TicketEvent
from tests.factories import make_ticket
from tests.workspace.test_pages import browser

pytestmark = pytest.mark.django_db

SHOWN = 5
WHOLE = "?timeline=all"


@pytest.fixture(autouse=True)
def _short_pages(monkeypatch):
    monkeypatch.setattr(shared, "SHOWN", SHOWN)


def _talk(world, ticket, count: int, *, start: int = 0, notes: bool = False) -> None:
    """``count`` public replies (and, with ``notes``, an internal note after each)."""
    agent = Actor.for_user(world.agent)
    for n in range(start, start + count):
        services.add_comment(actor=agent, ticket=ticket, body=f"Answer-{n:02d}-end")
        if notes:
            services.add_comment(
                actor=agent, ticket=ticket, body=f"Secret-{n:02d}-end", public=False
            )


def _answers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"Answer-(\d\d)-end", html)]


def _earlier(html: str) -> int | None:
    found = re.search(r'<a href="\?timeline=all">Show the (\d+) earlier events</a>', html)
    return int(found.group(1)) if found else None


def test_a_long_ticket_shows_its_newest_events_and_the_rest_on_demand(world):
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Flapping alert")
    _talk(world, ticket, 12)
    events = TicketEvent.objects.filter(ticket=ticket).count()
    client = browser(world, "agent")

    page = client.get(f"/desk/t/{ticket.ref}/").content.decode()
    assert _answers(page) == [7, 8, 9, 10, 11]  # the newest, oldest first
    assert _earlier(page) == events - SHOWN

    whole = client.get(f"/desk/t/{ticket.ref}/{WHOLE}").content.decode()
    assert _answers(whole) == list(range(12))
    assert _earlier(whole) is None and "earlier event" not in whole


def test_a_short_ticket_offers_nothing_more(world):
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Mouse")
    _talk(world, ticket, 2)
    page = browser(world, "agent").get(f"/desk/t/{ticket.ref}/").content.decode()
    assert _answers(page) == [0, 1] and "earlier event" not in page


def test_the_page_costs_the_same_queries_for_a_few_events_or_many(world):
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Mail loop")
    _talk(world, ticket, SHOWN + 1)
    client = browser(world, "agent")
    client.get(f"/desk/t/{ticket.ref}/")  # warm the session and the per-process caches

    def cost() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/desk/t/{ticket.ref}/")
        return len(ctx.captured_queries), len(response.content)

    few_queries, few_bytes = cost()
    _talk(world, ticket, 40, start=SHOWN + 1)
    many_queries, many_bytes = cost()
    assert many_queries == few_queries
    assert many_bytes < few_bytes * 1.1  # the same five messages, whatever came before


def test_the_portal_counts_and_shows_only_the_public_events(world):
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Badge reader")
    _talk(world, ticket, 8, notes=True)
    public = TicketEvent.objects.filter(ticket=ticket, public=True).count()
    client = browser(world, "requester")

    page = client.get(f"/portal/t/{ticket.ref}/").content.decode()
    assert _answers(page) == [3, 4, 5, 6, 7]
    assert _earlier(page) == public - SHOWN
    whole = client.get(f"/portal/t/{ticket.ref}/{WHOLE}").content.decode()
    assert _answers(whole) == list(range(8))
    assert "Secret-" not in page + whole

    agent_page = browser(world, "agent").get(f"/desk/t/{ticket.ref}/").content.decode()
    assert "Secret-07-end" in agent_page  # notes are events of the agents' timeline
    assert _earlier(agent_page) == TicketEvent.objects.filter(ticket=ticket).count() - SHOWN


def test_the_live_strip_keeps_the_whole_timeline_when_the_page_showed_it(world):
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Disk full")
    _talk(world, ticket, 9)
    client = browser(world, "agent")
    page = client.get(f"/desk/t/{ticket.ref}/").content.decode()
    poll = re.search(r'hx-get="(/desk/t/[^"]+/live\?after=\d+[^"]*)"', page)
    assert poll is not None
    url = poll.group(1).replace("&amp;", "&")
    services.add_comment(actor=Actor.for_user(world.requester), ticket=ticket, body="Answer-09-end")

    short = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert _answers(short) == [5, 6, 7, 8, 9]
    whole = client.get(
        url,
        headers={
            "HX-Request": "true",
            "HX-Current-URL": f"http://testserver/desk/t/{ticket.ref}/{WHOLE}",
        },
    ).content.decode()
    assert _answers(whole) == list(range(10))


@pytest.mark.parametrize(
    "current", ["http://[::1/desk/?timeline=all", "\x00", "?timeline=%ZZ", "x" * 5000, ""]
)
def test_a_garbled_page_address_from_htmx_shows_the_newest_events(world, current):
    ticket = make_ticket(desk=world.desk, requester=world.requester, title="Forged header")
    _talk(world, ticket, 7)
    client = browser(world, "agent")
    response = client.get(
        f"/desk/t/{ticket.ref}/live?after=0&shown=x",
        headers={"HX-Request": "true", "HX-Current-URL": current},
    )
    assert response.status_code == 200
    assert _answers(response.content.decode()) == [2, 3, 4, 5, 6]
