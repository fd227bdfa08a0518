"""The managers' dashboard: the right numbers, each linking to the queue that lists those
tickets, for a constant number of queries; for the desks' managers and administrators only.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Ticket
from tests.factories import TeamFactory, make_ticket
from tests.workspace.test_pages import browser

pytestmark = pytest.mark.django_db


def figures(html: str, name: str) -> list[tuple[str, str]]:
    """(link, number) of every figure called ``name`` on the page."""
    return re.findall(rf'<a href="([^"]*)" data-figure="{name}">(\d+)</a>', html)


@pytest.mark.parametrize(
    "persona,status",
    [
        ("agent", 403),
        ("change_manager", 403),
        ("requester", 403),
        ("manager", 200),
        ("admin", 200),
        ("superuser", 200),
    ],
)
def test_the_dashboard_is_for_managers_and_admins(world, scene, persona, status):
    response = browser(world, persona).get("/desk/dashboard/")
    assert response.status_code == status
    if status == 403:
        assert 'data-figure="open"' not in response.content.decode()


def test_the_numbers_and_their_links(world, scene):
    team = TeamFactory(desk=world.desk, name="Field", slug="field")
    agent = Actor.for_user(world.agent)
    services.assign_ticket(actor=agent, ticket=scene.ticket, team=team, agent=world.agent)
    services.update_ticket(
        actor=agent, ticket=scene.sibling, changes={"priority": 1, "priority_reason": "VIP"}
    )
    services.resolve_ticket(actor=agent, ticket=scene.foreign, resolution="Fixed")
    Ticket.objects.filter(pk=scene.sibling.pk).update(
        created_at=timezone.now() - timedelta(days=3), sla_due_at=timezone.now()
    )
    client = browser(world, "manager")
    html = client.get("/desk/dashboard/").content.decode()
    assert re.search(r'data-figure="open">2<', html)  # IT's two live tickets; HR is not theirs
    assert figures(html, "desk") == [("/desk/?queue=open&amp;desk=it", "2")]
    assert figures(html, "unassigned") == [("/desk/?queue=unassigned&amp;desk=it", "1")]
    assert figures(html, "due-today") == [("/desk/?queue=open&amp;due=today&amp;desk=it", "1")]
    assert (f"/desk/?queue=open&amp;team={team.pk}", "1") in figures(html, "team")
    assert ("/desk/?queue=open&amp;priority=1&amp;desk=it", "1") in figures(html, "priority")
    ages = figures(html, "age")
    assert ("/desk/?queue=open&amp;age=day&amp;desk=it", "1") in ages
    assert ("/desk/?queue=open&amp;age=week&amp;desk=it", "1") in ages
    today = timezone.localdate().isoformat()
    row = re.search(rf'<tr data-day="{today}">.*?<td>(\d+)</td><td>(\d+)</td>', html)
    # Opened today: IT-1 and IT-3 (IT-2 was moved back three days); resolved today: IT-3.
    assert row is not None and row.groups() == ("2", "1")

    # Each number leads to a queue listing exactly those tickets.
    def listed(link: str) -> set[str]:
        page = client.get(link.replace("&amp;", "&")).content.decode()
        return {t.ref for t in (scene.ticket, scene.sibling, scene.foreign) if t.ref in page}

    assert listed(figures(html, "due-today")[0][0]) == {scene.sibling.ref}
    assert listed(f"/desk/?queue=open&team={team.pk}") == {scene.ticket.ref}
    assert listed("/desk/?queue=open&age=week&desk=it") == {scene.sibling.ref}
    assert listed("/desk/?queue=open&age=day&desk=it") == {scene.ticket.ref}


def test_the_no_team_row_leads_to_the_desks_tickets_without_a_team(world, scene):
    team = TeamFactory(desk=world.desk, name="Field", slug="field")
    services.assign_ticket(actor=Actor.for_user(world.agent), ticket=scene.ticket, team=team)
    admin = browser(world, "superuser")  # two desks: each has its own "No team" row
    html = admin.get("/desk/dashboard/").content.decode()
    team_links = dict(figures(html, "team"))
    assert team_links["/desk/?queue=open&amp;team=none&amp;desk=it"] == "2"  # sibling, foreign
    assert team_links["/desk/?queue=open&amp;team=none&amp;desk=hr"] == "1"
    page = admin.get("/desk/", {"queue": "open", "team": "none", "desk": "it"}).content.decode()
    shown = {t.ref for t in (scene.ticket, scene.sibling, scene.foreign, scene.hr) if t.ref in page}
    assert shown == {scene.sibling.ref, scene.foreign.ref}
    assert "Only the tickets without a team." in page
    assert 'href="/desk/?queue=open&amp;desk=it">Show every team' in page


@pytest.mark.parametrize("team", ["nobody", "-1", "0", "99999999999", "1 OR 1=1"])
def test_a_team_filter_that_is_no_team_is_dropped(world, scene, team):
    page = browser(world, "agent").get("/desk/", {"queue": "open", "team": team})
    html = page.content.decode()
    assert page.status_code == 200 and "Only the tickets" not in html
    assert scene.ticket.ref in html and scene.sibling.ref in html


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/desk/dashboard/").status_code == 200
    return len(ctx.captured_queries)


def test_the_dashboard_costs_the_same_queries_for_3_tickets_or_60(world, scene):
    client = browser(world, "manager")
    client.get("/desk/dashboard/")  # warm the session and the per-process caches
    few = _queries(client)
    team = TeamFactory(desk=world.desk, name="Night", slug="night")
    for n in range(57):
        ticket = make_ticket(desk=world.desk, requester=world.colleague, title=f"Dock {n}")
        if n % 3 == 0:
            services.assign_ticket(actor=Actor.system(), ticket=ticket, team=team)
    many = _queries(client)
    assert many == few
    assert re.search(r'data-figure="open">60<', client.get("/desk/dashboard/").content.decode())
