"""``GET /api/v1/tickets``: filters, sorts, cursor pagination, page size, and a query count that
does not grow with the page."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Tag, Ticket
from tests.api.helpers import error, expect
from tests.factories import CategoryFactory, TeamFactory, make_ticket

pytestmark = pytest.mark.django_db

DAY = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def at(day: int) -> datetime:
    return DAY + timedelta(days=day - 1)


@pytest.fixture
def five(world):
    """Five tickets that differ in every filtered field; created on days 1–5, updated in reverse."""
    agent = Actor.for_user(world.agent)
    support = TeamFactory(desk=world.desk, name="Support", slug="support")
    t1 = make_ticket(
        desk=world.desk,
        requester=world.requester,
        impact="high",
        urgency="high",
        tags=["VPN"],
        title="one",
    )
    services.assign_ticket(actor=agent, ticket=t1, team=support, agent=world.agent)
    t2 = make_ticket(
        desk=world.desk, requester=world.colleague, kind="service_request", title="two"
    )
    services.transition_ticket(actor=agent, ticket=t2, action="start")
    t3 = make_ticket(
        desk=world.desk, requester=world.outsider, impact="low", urgency="low", title="three"
    )
    services.assign_ticket(actor=agent, ticket=t3, agent=world.manager)
    services.transition_ticket(actor=agent, ticket=t3, action="wait_for_customer")
    t4 = make_ticket(
        desk=world.desk,
        requester=world.agent,
        kind="problem",
        impact="high",
        urgency="medium",
        title="four",
    )
    services.resolve_ticket(actor=agent, ticket=t4, resolution="Root cause found")
    t5 = make_ticket(
        desk=world.other_desk,
        requester=world.colleague,
        impact="medium",
        urgency="low",
        title="five",
    )
    services.cancel_ticket(actor=Actor.for_user(world.colleague), ticket=t5, reason="Not needed")
    tickets = [t1, t2, t3, t4, t5]
    for day, ticket in enumerate(tickets, start=1):
        Ticket.objects.filter(pk=ticket.pk).update(created_at=at(day), updated_at=at(10 - day))
    return {t.title: t.ref for t in tickets}


def refs(response) -> list[str]:
    return [item["ref"] for item in expect(response, 200)["items"]]


def titles(response, five) -> set[str]:
    by_ref = {ref: title for title, ref in five.items()}
    return {by_ref[ref] for ref in refs(response)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"one", "two", "three", "four", "five"}),
        ({"desk": "it"}, {"one", "two", "three", "four"}),
        ({"desk": "HR"}, {"five"}),
        ({"desk": ["it", "hr"]}, {"one", "two", "three", "four", "five"}),
        ({"kind": "incident"}, {"one", "three", "five"}),
        ({"kind": ["service_request", "problem"]}, {"two", "four"}),
        ({"status": "in_progress"}, {"two"}),
        ({"status": ["waiting_customer", "cancelled"]}, {"three", "five"}),
        ({"status_category": "open"}, {"one", "two"}),
        ({"status_category": "pending"}, {"three"}),
        ({"status_category": ["resolved", "closed"]}, {"four", "five"}),
        ({"priority": 1}, {"one"}),
        ({"priority": [2, 5]}, {"four", "three"}),
        ({"assignee": "me"}, {"one"}),
        ({"assignee": "none"}, {"two", "four", "five"}),
        ({"assignee": "manager@acme.test"}, {"three"}),
        ({"assignee": "nobody@acme.test"}, set()),
        ({"team": "support"}, {"one"}),
        ({"desk": "it", "team": "support"}, {"one"}),
        ({"requester": "colleague@acme.test"}, {"two", "five"}),
        ({"organisation": "globex"}, {"three"}),
        ({"organisation": "acme"}, {"one", "two", "four", "five"}),
        ({"tag": "vpn"}, {"one"}),
        ({"tag": "VPN"}, {"one"}),
        ({"created_after": at(3).isoformat()}, {"three", "four", "five"}),
        ({"created_before": at(3).isoformat()}, {"one", "two"}),
        (
            {"created_after": at(2).isoformat(), "created_before": at(4).isoformat()},
            {"two", "three"},
        ),
        ({"updated_after": at(7).isoformat()}, {"one", "two", "three"}),
        ({"updated_before": at(6).isoformat()}, {"five"}),
        ({"desk": "it", "status_category": "open", "assignee": "none"}, {"two"}),
    ],
    ids=lambda value: json.dumps(value, default=str) if isinstance(value, dict) else None,
)
def test_filters(world, api, five, query, expected):
    assert titles(api(world.agent).get("tickets", query), five) == expected


def test_filters_never_widen_what_the_caller_may_see(world, api, five):
    # A requester filtering by the other organisation, or by a desk, sees only their organisation's.
    requester = api(world.requester)
    assert titles(requester.get("tickets", {"organisation": "globex"}), five) == set()
    assert titles(requester.get("tickets", {"desk": "it"}), five) == {"one", "two", "four"}
    assert titles(requester.get("tickets", {"assignee": "agent@acme.test"}), five) == {"one"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"kind": "bogus"}, None),
        ({"status_category": "bogus"}, None),
    ],
)
def test_an_unknown_filter_value_is_a_validation_error(world, api, five, query, field):
    body = error(api(world.agent).get("tickets", query), 422, "validation_error")
    if field:
        assert body["details"] == {"field": field}


def test_an_unknown_desk_filter_is_refused(world, api, five):
    error(api(world.agent).get("tickets", {"desk": "nope"}), 422, "unknown_desk")


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("created", ["one", "two", "three", "four", "five"]),
        ("-created", ["five", "four", "three", "two", "one"]),
        ("updated", ["five", "four", "three", "two", "one"]),
        ("-updated", ["one", "two", "three", "four", "five"]),
        ("priority", ["one", "four", "two", "five", "three"]),
        ("-priority", ["three", "five", "two", "four", "one"]),
    ],
)
def test_sorts(world, api, five, sort, expected):
    by_ref = {ref: title for title, ref in five.items()}
    assert [
        by_ref[ref] for ref in refs(api(world.agent).get("tickets", {"sort": sort}))
    ] == expected


def test_the_default_sort_is_newest_first(world, api, five):
    assert refs(api(world.agent).get("tickets")) == refs(
        api(world.agent).get("tickets", {"sort": "-created"})
    )


def test_an_unknown_sort_is_a_validation_error(world, api, five):
    error(api(world.agent).get("tickets", {"sort": "title"}), 422, "validation_error")


# --- cursor pagination -------------------------------------------------------------------------

SORT_VALUE = {
    "created": lambda t: t["created_at"],
    "-created": lambda t: t["created_at"],
    "updated": lambda t: t["updated_at"],
    "-updated": lambda t: t["updated_at"],
    "priority": lambda t: t["priority"],
    "-priority": lambda t: t["priority"],
}


@pytest.fixture
def dozen(world):
    """Thirteen tickets with ties on priority, and on creation time for some."""
    levels = ["high", "medium", "low"]
    made = []
    for n in range(13):
        made.append(
            make_ticket(
                desk=world.desk,
                requester=world.requester,
                impact=levels[n % 3],
                urgency=levels[n % 2],
            )
        )
    for n, ticket in enumerate(made):
        when = at(1) + timedelta(hours=n // 2)  # pairs share a creation time: the id breaks the tie
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=when, updated_at=when + timedelta(minutes=n)
        )
    return [t.ref for t in made]


@pytest.mark.parametrize("sort", list(SORT_VALUE))
@pytest.mark.parametrize("limit", [1, 4, 5])
def test_walking_the_pages_sees_every_ticket_once_while_one_is_added(
    world, api, dozen, sort, limit
):
    client = api(world.agent)
    seen: list[dict] = []
    cursor = None
    pages = 0
    while True:
        params = {"sort": sort, "limit": limit} | ({"cursor": cursor} if cursor else {})
        body = expect(client.get("tickets", params), 200)
        assert len(body["items"]) <= limit
        assert body["limit"] == limit
        seen += body["items"]
        pages += 1
        if pages == 1:  # someone opens a ticket while we read
            expect(api(world.colleague).post("tickets", {"desk": "it", "title": "Meanwhile"}), 201)
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 30
    seen_refs = [t["ref"] for t in seen]
    assert len(seen_refs) == len(set(seen_refs)), "a ticket was listed twice"
    assert set(dozen) <= set(seen_refs), "a ticket was skipped"
    keys = [(SORT_VALUE[sort](t), t["id"]) for t in seen]
    assert keys == sorted(keys, reverse=sort.startswith("-"))


def test_the_last_page_has_no_cursor(world, api, dozen):
    body = expect(api(world.agent).get("tickets", {"limit": 13}), 200)
    assert (len(body["items"]), body["next_cursor"]) == (13, None)
    body = expect(api(world.agent).get("tickets", {"limit": 12}), 200)
    assert body["next_cursor"] is not None
    last = expect(
        api(world.agent).get("tickets", {"limit": 12, "cursor": body["next_cursor"]}), 200
    )
    assert (len(last["items"]), last["next_cursor"]) == (1, None)


def _cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("-created", "garbage!"),
        ("-created", "bm90IGpzb24"),  # base64 of "not json"
        ("-created", _cursor("created", "2024-01-01T00:00:00+00:00", 1)),  # made for another sort
        ("-created", _cursor("-created", "yesterday", 1)),
        ("-created", _cursor("-created", None, 1)),
        ("priority", _cursor("priority", "high", 1)),
        ("priority", _cursor("priority", 1, "one")),
        ("priority", _cursor("priority", 1)),
    ],
)
def test_an_invalid_cursor_is_refused(world, api, dozen, sort, cursor):
    body = error(
        api(world.agent).get("tickets", {"sort": sort, "cursor": cursor}), 422, "invalid_cursor"
    )
    assert body["details"] == {}


def test_a_cursor_from_another_sort_is_refused(world, api, dozen):
    cursor = expect(api(world.agent).get("tickets", {"sort": "priority", "limit": 2}), 200)[
        "next_cursor"
    ]
    error(
        api(world.agent).get("tickets", {"sort": "-priority", "cursor": cursor}),
        422,
        "invalid_cursor",
    )


# --- page size ---------------------------------------------------------------------------------


def _bulk_tickets(world, count: int, requester=None, **fields) -> list[Ticket]:
    world.desk.refresh_from_db()
    start = world.desk.last_number
    now = datetime.now(tz=UTC)
    rows = [
        Ticket(
            desk=world.desk,
            number=start + n + 1,
            ref=f"IT-{start + n + 1:06d}",
            kind="incident",
            status="new",
            status_category="open",
            title=f"Bulk {n}",
            requester=requester or world.requester,
            organisation_id=(requester or world.requester).organisation_id,
            priority=3,
            created_at=now - timedelta(seconds=n),
            updated_at=now - timedelta(seconds=n),
            **fields,
        )
        for n in range(count)
    ]
    world.desk.last_number = start + count
    world.desk.save(update_fields=["last_number"])
    return Ticket.objects.bulk_create(rows)


def test_the_page_size_is_capped_at_200(world, api):
    _bulk_tickets(world, 205)
    body = expect(api(world.agent).get("tickets", {"limit": 1000}), 200)
    assert (len(body["items"]), body["limit"]) == (200, 200)
    assert body["next_cursor"] is not None
    rest = expect(
        api(world.agent).get("tickets", {"limit": 1000, "cursor": body["next_cursor"]}), 200
    )
    assert (len(rest["items"]), rest["next_cursor"]) == (5, None)


def test_the_default_page_size_is_50(world, api):
    _bulk_tickets(world, 51)
    body = expect(api(world.agent).get("tickets"), 200)
    assert (len(body["items"]), body["limit"]) == (50, 50)


@pytest.mark.parametrize("limit", [0, -1, "many"])
def test_a_page_size_below_one_is_refused(world, api, limit):
    error(api(world.agent).get("tickets", {"limit": limit}), 422, "validation_error")


# --- queries per page --------------------------------------------------------------------------


@pytest.fixture
def busy_desk(world):
    """Sixty tickets with every relation a list row shows: team, category, assignee, tags,
    a parent, a merge target, an organisation."""
    team = TeamFactory(desk=world.desk, name="Support", slug="support")
    category = CategoryFactory(desk=world.desk, name="Hardware", slug="hardware")
    parent = make_ticket(desk=world.desk, requester=world.requester, title="Parent")
    tickets = _bulk_tickets(
        world, 60, team=team, category=category, assignee=world.agent, parent=parent
    )
    tags = [Tag.objects.create(name=f"tag-{n}") for n in range(3)]
    for n, ticket in enumerate(tickets):
        ticket.tags.set(tags[: n % 4])
        if n % 5 == 0:
            Ticket.objects.filter(pk=ticket.pk).update(
                status="merged", status_category="closed", merged_into=parent, parent=None
            )
    return tickets


@pytest.mark.parametrize("persona", ["agent", "requester", "superuser"])
def test_a_page_costs_the_same_queries_whatever_its_size(world, api, busy_desk, persona):
    client = api(getattr(world, persona))
    # The token's last use is written once, and the caller's rows are then read from the
    # process's short-lived cache: both measured pages start from the same state.
    expect(client.get("tickets", {"limit": 1}), 200)
    counts = {}
    for limit in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            body = expect(client.get("tickets", {"limit": limit}), 200)
        assert len(body["items"]) == limit
        # Staff see the parent (a problem, a change); a requester sees only where a merge led.
        assert any(item["parent"] for item in body["items"]) == (persona != "requester")
        assert any(item["merged_into"] for item in body["items"])
        counts[limit] = len(queries)
    assert counts[5] == counts[50], counts
    assert counts[50] <= 10, counts


@pytest.mark.parametrize(
    "value", ["2024-01-03", "2024-01-03T09:00:00", "2024-01-03T10:00:00+01:00"]
)
def test_a_time_filter_without_an_offset_is_read_as_utc(world, api, five, value):
    # Ticket "three" was created on 2024-01-03 at 09:00 UTC.
    assert "three" in titles(api(world.agent).get("tickets", {"created_after": value}), five)
    assert "three" not in titles(api(world.agent).get("tickets", {"created_before": value}), five)


def test_a_team_slug_names_that_team_on_every_desk_the_caller_works(world, api, five):
    # Team slugs are unique per desk: "support" on the HR desk is another team, and both count.
    from comptoir.accounts.roles import Role
    from tests.factories import grant

    grant(world.agent, world.other_desk, Role.AGENT)
    hr_support = TeamFactory(desk=world.other_desk, name="Support", slug="support")
    hr = make_ticket(desk=world.other_desk, requester=world.requester, title="hr one")
    services.assign_ticket(actor=Actor.for_user(world.agent), ticket=hr, team=hr_support)
    body = api(world.agent).get("tickets", {"team": "support"}).json()
    assert sorted(item["title"] for item in body["items"]) == ["hr one", "one"]
