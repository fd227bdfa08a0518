"""One ticket through the API: open it, change it, move it through its lifecycle, link and merge it."""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Comment, Ticket
from tests.api.helpers import error, expect
from tests.factories import CategoryFactory, SiteFactory, TeamFactory, make_ticket

pytestmark = pytest.mark.django_db


# --- opening a ticket --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [("high", "high", 1), ("high", "low", 3), ("medium", "medium", 3), ("low", "low", 5)],
)
def test_create_answers_201_with_a_reference_and_the_priority_of_the_matrix(
    world, api, impact, urgency, priority
):
    response = api(world.requester).post(
        "tickets", {"desk": "it", "title": "Printer jams", "impact": impact, "urgency": urgency}
    )
    body = expect(response, 201)
    assert body["ref"] == "IT-000001"
    assert body["priority"] == priority
    assert body["priority_overridden"] is False
    assert body["status"] == "new"
    assert body["requester"]["email"] == world.requester.email
    assert body["channel"] == "api"


def test_create_follows_the_desk_priority_matrix(world, api):
    world.desk.priority_matrix = {
        level: {u: 4 for u in ("high", "medium", "low")} for level in ("high", "medium", "low")
    }
    world.desk.save()
    body = expect(
        api(world.requester).post("tickets", {"desk": "it", "title": "x", "impact": "high"}), 201
    )
    assert body["priority"] == 4


def test_references_count_per_desk(world, api):
    client = api(world.agent)
    refs = [
        expect(client.post("tickets", {"desk": desk, "title": "t"}), 201)["ref"]
        for desk in ("it", "it", "hr")
    ]
    assert refs == ["IT-000001", "IT-000002", "HR-000001"]


def test_create_with_category_tags_and_a_desk_given_by_prefix(world, api):
    CategoryFactory(desk=world.desk, name="Network", slug="network")
    body = expect(
        api(world.requester).post(
            "tickets",
            {"desk": "IT", "title": "Wi-Fi", "category": "network", "tags": ["Wifi", "floor 2"]},
        ),
        201,
    )
    assert body["category"]["slug"] == "network"
    assert sorted(body["tags"]) == ["floor 2", "wifi"]


def test_create_on_an_unknown_desk_is_refused(world, api):
    response = api(world.requester).post("tickets", {"desk": "nope", "title": "x"})
    assert error(response, 422, "unknown_desk")["details"] == {"desk": "nope"}
    assert not Ticket.objects.exists()


def test_a_desk_that_does_not_serve_my_site_is_unknown_to_me(world, api):
    world.other_desk.serves_all_sites = False
    world.other_desk.save()
    world.other_desk.served_sites.add(SiteFactory(organisation=world.outsider.organisation))
    hidden = api(world.requester).post("tickets", {"desk": "hr", "title": "x"})
    missing = api(world.requester).post("tickets", {"desk": "zz", "title": "x"})
    assert (
        error(hidden, 422, "unknown_desk")["message"].replace("hr", "zz")
        == missing.json()["message"]
    )
    assert not Ticket.objects.exists()


def test_create_with_an_unknown_category_is_refused(world, api):
    CategoryFactory(desk=world.other_desk, name="Payroll", slug="payroll")  # on another desk
    response = api(world.requester).post(
        "tickets", {"desk": "it", "title": "x", "category": "payroll"}
    )
    error(response, 422, "unknown_category")
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"desk": "it", "title": "x", "impact": "catastrophic"}, ["body", "payload", "impact"]),
        ({"desk": "it", "title": "x", "urgency": 3}, ["body", "payload", "urgency"]),
        ({"desk": "it"}, ["body", "payload", "title"]),
        ({"desk": "it", "title": "x" * 251}, ["body", "payload", "title"]),
    ],
    ids=["bad-impact", "bad-urgency", "no-title", "long-title"],
)
def test_invalid_input_answers_422_in_the_one_error_shape(world, api, payload, where):
    body = error(api(world.requester).post("tickets", payload), 422, "validation_error")
    assert [e["loc"] for e in body["details"]["errors"]] == [where]
    assert all(set(e) == {"loc", "msg", "type"} for e in body["details"]["errors"])
    assert not Ticket.objects.exists()


def test_a_blank_title_is_refused(world, api):
    body = error(
        api(world.requester).post("tickets", {"desk": "it", "title": "   "}),
        422,
        "validation_error",
    )
    assert body["details"] == {"field": "title"}


def test_a_body_that_is_not_json_answers_in_the_one_error_shape(world, api):
    client = api(world.requester)
    response = client.client.post(
        "/api/v1/tickets", data="{not json", content_type="application/json", headers=client.headers
    )
    body = error(response, 400, "validation_error")
    assert "parse" in body["message"]


def test_reference_lookup_ignores_case(world, api):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    assert (
        expect(api(world.requester).get(f"tickets/{ticket.ref.lower()}"), 200)["ref"] == ticket.ref
    )


# --- changing fields ---------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(world, api):
    ticket = make_ticket(desk=world.desk, requester=world.requester, description="It smokes.")
    body = expect(
        api(world.agent).patch(f"tickets/{ticket.ref}", {"urgency": "high", "tags": ["fire"]}), 200
    )
    assert (body["urgency"], body["impact"], body["priority"], body["tags"]) == (
        "high",
        "medium",
        2,
        ["fire"],
    )
    assert body["description"] == "It smokes."
    assert body["title"] == "Printer on fire"


@pytest.mark.parametrize("persona", ["requester", "agent"])
def test_patch_never_changes_the_status(world, api, watch, persona):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with watch.unchanged():
        response = api(getattr(world, persona)).patch(
            f"tickets/{ticket.ref}", {"status": "resolved", "title": "Sneaky"}
        )
    body = error(response, 422, "validation_error")
    assert [e["loc"][-1] for e in body["details"]["errors"]] == ["status"]
    ticket.refresh_from_db()
    assert (ticket.status, ticket.title) == ("new", "Printer on fire")


def test_patch_refuses_null_for_a_required_field(world, api, watch):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with watch.unchanged():
        response = api(world.agent).patch(f"tickets/{ticket.ref}", {"title": None})
    assert error(response, 422, "validation_error")["details"] == {"field": "title"}


def test_a_priority_override_needs_a_reason(world, api, watch):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    agent = api(world.agent)
    with watch.unchanged():
        response = agent.patch(f"tickets/{ticket.ref}", {"priority": 1})
    error(response, 422, "priority_reason_required")
    body = expect(
        agent.patch(f"tickets/{ticket.ref}", {"priority": 1, "priority_reason": "CEO's laptop"}),
        200,
    )
    assert (body["priority"], body["priority_overridden"], body["priority_reason"]) == (
        1,
        True,
        "CEO's laptop",
    )
    # The requester sees the priority, not the staff's reasoning.
    seen = expect(api(world.requester).get(f"tickets/{ticket.ref}"), 200)
    assert (seen["priority"], seen["priority_reason"]) == (1, "")
    body = expect(agent.patch(f"tickets/{ticket.ref}", {"priority": None}), 200)
    assert (body["priority"], body["priority_overridden"]) == (3, False)


def test_agents_set_watchers_and_requester_that_requesters_do_not_see(world, api):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    body = expect(
        api(world.agent).patch(
            f"tickets/{ticket.ref}",
            {"watchers": ["colleague@acme.test"], "requester": "colleague@acme.test"},
        ),
        200,
    )
    assert [w["email"] for w in body["watchers"]] == ["colleague@acme.test"]
    assert body["requester"]["email"] == "colleague@acme.test"
    # Watchers are for the staff's eyes; the requester sees none.
    assert expect(api(world.colleague).get(f"tickets/{ticket.ref}"), 200)["watchers"] == []


# --- lifecycle actions -------------------------------------------------------------------------


def test_an_action_the_lifecycle_does_not_allow_answers_409_with_the_allowed_actions(
    world, api, watch
):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with watch.unchanged():
        response = api(world.agent).post(f"tickets/{ticket.ref}/reopen", {"reason": "why not"})
    body = error(response, 409, "invalid_transition")
    assert body["details"]["status"] == "new"
    assert body["details"]["allowed"] == [
        "start",
        "wait_for_customer",
        "wait_for_vendor",
        "resolve",
        "cancel",
    ]


def test_an_action_of_another_kind_of_ticket_answers_409(world, api, watch):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with watch.unchanged():
        response = api(world.manager).post(f"tickets/{ticket.ref}/approve")
    assert "resolve" in error(response, 409, "invalid_transition")["details"]["allowed"]


def test_an_unknown_action_is_a_validation_error(world, api, watch):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with watch.unchanged():
        response = api(world.agent).post(f"tickets/{ticket.ref}/explode")
    error(response, 422, "validation_error")


@pytest.mark.parametrize(
    "payload", [None, {}, {"resolution": "   "}], ids=["no-body", "empty", "blank"]
)
def test_resolve_without_a_resolution_is_refused(world, api, watch, payload):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with watch.unchanged():
        response = api(world.agent).post(f"tickets/{ticket.ref}/resolve", payload)
    assert error(response, 422, "validation_error")["details"] == {"field": "resolution"}


def test_the_allowed_actions_follow_the_status_and_the_caller(world, api):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    agent, requester = api(world.agent), api(world.requester)
    assert expect(requester.get(f"tickets/{ticket.ref}"), 200)["allowed_actions"] == ["cancel"]
    assert "resolve" in expect(agent.get(f"tickets/{ticket.ref}"), 200)["allowed_actions"]
    expect(agent.post(f"tickets/{ticket.ref}/resolve", {"resolution": "Fixed."}), 200)
    assert expect(requester.get(f"tickets/{ticket.ref}"), 200)["allowed_actions"] == [
        "reopen",
        "close",
    ]


def test_a_full_lifecycle_with_a_reply_posted_alongside(world, api):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    agent, requester = api(world.agent), api(world.requester)
    body = expect(agent.post(f"tickets/{ticket.ref}/start"), 200)
    assert body["status"] == "in_progress"
    body = expect(
        agent.post(
            f"tickets/{ticket.ref}/resolve", {"resolution": "New toner.", "comment": "All done!"}
        ),
        200,
    )
    assert (body["status"], body["status_category"], body["resolution"]) == (
        "resolved",
        "resolved",
        "New toner.",
    )
    assert body["resolved_at"] is not None
    assert [c["body"] for c in expect(requester.get(f"tickets/{ticket.ref}/comments"), 200)] == [
        "All done!"
    ]
    body = expect(requester.post(f"tickets/{ticket.ref}/reopen", {"reason": "Still streaky"}), 200)
    assert (body["status"], body["resolved_at"]) == ("in_progress", None)
    expect(agent.post(f"tickets/{ticket.ref}/resolve", {"resolution": "Cleaned the drum."}), 200)
    body = expect(requester.post(f"tickets/{ticket.ref}/close"), 200)
    assert (body["status"], body["status_category"]) == ("closed", "closed")
    assert body["closed_at"] is not None


def test_a_closed_ticket_cannot_be_changed(world, api, watch):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    services.cancel_ticket(
        actor=Actor.for_user(world.agent), ticket=ticket, reason="Duplicate call"
    )
    with watch.unchanged():
        response = api(world.agent).patch(f"tickets/{ticket.ref}", {"title": "New title"})
    error(response, 409, "invalid_transition")


def test_a_change_goes_through_approval(world, api):
    agent, cab = api(world.agent), api(world.change_manager)
    change = expect(
        agent.post("tickets", {"desk": "it", "kind": "change", "title": "Upgrade the firewall"}),
        201,
    )["ref"]
    expect(agent.post(f"tickets/{change}/submit"), 200)
    error(agent.post(f"tickets/{change}/approve"), 403, "permission_denied")
    error(
        cab.post(f"tickets/{change}/reject"), 422, "validation_error"
    )  # a rejection needs a reason
    assert expect(cab.post(f"tickets/{change}/approve"), 200)["status"] == "approved"
    assert expect(agent.post(f"tickets/{change}/implement"), 200)["status"] == "implementing"


# --- assignment --------------------------------------------------------------------------------


def test_assign_round_trip(world, api):
    TeamFactory(desk=world.desk, name="Field", slug="field")
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    agent = api(world.agent)
    body = expect(
        agent.post(f"tickets/{ticket.ref}/assign", {"team": "field", "agent": "manager@acme.test"}),
        200,
    )
    assert (body["team"]["slug"], body["assignee"]["email"]) == ("field", "manager@acme.test")
    body = expect(agent.post(f"tickets/{ticket.ref}/assign", {"agent": "me"}), 200)
    assert (body["team"], body["assignee"]["email"]) == (None, "agent@acme.test")
    body = expect(agent.post(f"tickets/{ticket.ref}/assign", {}), 200)
    assert (body["team"], body["assignee"]) == (None, None)
    kinds = [e["kind"] for e in expect(agent.get(f"tickets/{ticket.ref}/events"), 200)]
    assert kinds.count("assigned") == 3


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"agent": "requester@acme.test"}, "unknown_user"),  # not an agent of the desk
        ({"agent": "hr-agent@acme.test"}, "unknown_user"),  # an agent of another desk
        ({"agent": "nobody@acme.test"}, "unknown_user"),
        ({"team": "ghosts"}, "unknown_team"),
    ],
)
def test_assign_to_someone_or_something_unknown_is_refused(world, api, watch, payload, code):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    with watch.unchanged():
        response = api(world.agent).post(f"tickets/{ticket.ref}/assign", payload)
    error(response, 422, code)


# --- links and merge ---------------------------------------------------------------------------


def test_link_and_unlink_round_trip(world, api):
    a = make_ticket(desk=world.desk, requester=world.requester, title="A")
    b = make_ticket(desk=world.desk, requester=world.requester, title="B")
    agent = api(world.agent)
    body = expect(agent.post(f"tickets/{a.ref}/link", {"target": b.ref, "kind": "caused_by"}), 200)
    assert body["links"] == [{"kind": "caused_by", "ref": b.ref, "title": "B", "status": "new"}]
    other_side = expect(agent.get(f"tickets/{b.ref}"), 200)
    assert other_side["links"] == [
        {"kind": "caused_by:inverse", "ref": a.ref, "title": "A", "status": "new"}
    ]
    # Linking twice is harmless.
    expect(agent.post(f"tickets/{a.ref}/link", {"target": b.ref, "kind": "caused_by"}), 200)
    body = expect(
        agent.post(f"tickets/{a.ref}/unlink", {"target": b.ref, "kind": "caused_by"}), 200
    )
    assert body["links"] == []
    error(
        agent.post(f"tickets/{a.ref}/unlink", {"target": b.ref, "kind": "caused_by"}),
        422,
        "link_invalid",
    )


def test_a_parent_cannot_be_resolved_while_a_child_is_open(world, api, watch):
    parent = make_ticket(desk=world.desk, requester=world.requester, title="Outage")
    child = make_ticket(desk=world.desk, requester=world.colleague, title="My mail is down")
    agent = api(world.agent)
    expect(agent.post(f"tickets/{child.ref}/link", {"target": parent.ref, "kind": "parent"}), 200)
    body = expect(agent.get(f"tickets/{parent.ref}"), 200)
    assert [c["ref"] for c in body["children"]] == [child.ref]
    assert expect(agent.get(f"tickets/{child.ref}"), 200)["parent"] == parent.ref
    with watch.unchanged():
        response = agent.post(f"tickets/{parent.ref}/resolve", {"resolution": "Fixed"})
    assert error(response, 409, "open_children")["details"]["open_children"] == [child.ref]
    error(
        agent.post(f"tickets/{parent.ref}/link", {"target": child.ref, "kind": "parent"}),
        422,
        "link_invalid",
    )
    error(
        agent.post(f"tickets/{parent.ref}/link", {"target": parent.ref, "kind": "related"}),
        422,
        "link_invalid",
    )


def test_link_to_a_ticket_i_cannot_see_is_an_unknown_ticket(world, api, watch):
    mine = make_ticket(desk=world.desk, requester=world.requester)
    elsewhere = make_ticket(desk=world.other_desk, requester=world.outsider)
    with watch.unchanged():
        hidden = api(world.agent).post(
            f"tickets/{mine.ref}/link", {"target": elsewhere.ref, "kind": "related"}
        )
        missing = api(world.agent).post(
            f"tickets/{mine.ref}/link", {"target": "HR-999999", "kind": "related"}
        )
    error(hidden, 422, "unknown_ticket")
    assert hidden.content.decode().replace(elsewhere.ref, "HR-999999") == missing.content.decode()


def test_merge_round_trip(world, api, published):
    duplicate = make_ticket(desk=world.desk, requester=world.colleague, title="Mail down (again)")
    survivor = make_ticket(desk=world.desk, requester=world.requester, title="Mail down")
    agent = api(world.agent)
    expect(agent.post(f"tickets/{duplicate.ref}/comments", {"body": "Same here"}), 201)
    body = expect(agent.post(f"tickets/{duplicate.ref}/merge", {"into": survivor.ref}), 200)
    assert body["ref"] == survivor.ref
    assert [w["email"] for w in body["watchers"]] == ["colleague@acme.test"]
    merged = expect(agent.get(f"tickets/{duplicate.ref}"), 200)
    assert (merged["status"], merged["status_category"], merged["merged_into"]) == (
        "merged",
        "closed",
        survivor.ref,
    )
    assert merged["allowed_actions"] == []
    assert [c["body"] for c in expect(agent.get(f"tickets/{survivor.ref}/comments"), 200)] == [
        "Same here"
    ]
    assert expect(agent.get(f"tickets/{survivor.ref}/events"), 200)[-1]["kind"] == "merged_from"
    # Replying on the merged ticket points to the survivor.
    response = api(world.colleague).post(f"tickets/{duplicate.ref}/comments", {"body": "Hello?"})
    assert error(response, 409, "invalid_transition")["details"] == {"merged_into": survivor.ref}
    assert Comment.objects.filter(ticket=duplicate).count() == 0


@pytest.mark.parametrize("case", ["itself", "closed_survivor", "merged_source"])
def test_merge_is_refused_into_itself_into_a_closed_ticket_or_twice(world, api, watch, case):
    a = make_ticket(desk=world.desk, requester=world.requester, title="A")
    b = make_ticket(desk=world.desk, requester=world.requester, title="B")
    c = make_ticket(desk=world.desk, requester=world.requester, title="C")
    agent = Actor.for_user(world.agent)
    source, into, code, status = a, b, "merge_invalid", 409
    if case == "itself":
        into = a
    elif case == "closed_survivor":
        services.cancel_ticket(actor=agent, ticket=b, reason="no")
    else:
        services.merge_tickets(actor=agent, source=a, target=c)
        code = "invalid_transition"
    with watch.unchanged():
        response = api(world.agent).post(f"tickets/{source.ref}/merge", {"into": into.ref})
    error(response, status, code)


# --- the timeline ------------------------------------------------------------------------------


def test_events_tell_the_story_in_order(world, api):
    agent, requester = api(world.agent), api(world.requester)
    ref = expect(requester.post("tickets", {"desk": "it", "title": "Badge refused"}), 201)["ref"]
    expect(agent.post(f"tickets/{ref}/assign", {"agent": "me"}), 200)
    expect(
        agent.post(f"tickets/{ref}/comments", {"body": "Checking the reader", "public": False}), 201
    )
    expect(agent.patch(f"tickets/{ref}", {"impact": "high"}), 200)
    expect(agent.post(f"tickets/{ref}/comments", {"body": "Re-enrolled your badge."}), 201)
    expect(agent.post(f"tickets/{ref}/resolve", {"resolution": "Badge re-enrolled"}), 200)
    expect(requester.post(f"tickets/{ref}/reopen", {"reason": "Still red"}), 200)

    events = expect(agent.get(f"tickets/{ref}/events"), 200)
    assert [e["kind"] for e in events] == [
        "created",
        "assigned",
        "note_added",
        "field_changed",
        "priority_changed",
        "commented",
        "status_changed",
        "status_changed",
    ]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert [e["created_at"] for e in events] == sorted(e["created_at"] for e in events)
    assert events[0]["actor"]["user"]["email"] == world.requester.email
    assert events[0]["channel"] == "api"
    assert (events[-2]["before"], events[-2]["after"]["status"]) == ({"status": "new"}, "resolved")
    assert (events[-1]["after"]["status"], events[-1]["after"]["reason"]) == (
        "in_progress",
        "Still red",
    )
    assert events[1]["after"] == {"team": None, "assignee": "agent@acme.test"}

    seen_by_requester = expect(requester.get(f"tickets/{ref}/events"), 200)
    assert [e["kind"] for e in seen_by_requester] == [
        "created",
        "commented",
        "status_changed",
        "status_changed",
    ]


def test_a_requester_does_not_see_the_children_of_other_organisations(world, api):
    parent = make_ticket(desk=world.desk, requester=world.requester, title="Mail outage")
    ours = make_ticket(desk=world.desk, requester=world.colleague, title="My mail is down")
    theirs = make_ticket(desk=world.desk, requester=world.outsider, title="Globex merger mail lost")
    agent = Actor.for_user(world.agent)
    for child in (ours, theirs):
        services.link_tickets(actor=agent, ticket=child, target=parent, kind="parent")
    as_agent = expect(api(world.agent).get(f"tickets/{parent.ref}"), 200)
    assert [c["ref"] for c in as_agent["children"]] == [ours.ref, theirs.ref]
    as_requester = expect(api(world.requester).get(f"tickets/{parent.ref}"), 200)
    assert [c["ref"] for c in as_requester["children"]] == [ours.ref]
    assert "Globex" not in str(as_requester)


def test_an_agent_logs_a_phone_call_for_a_caller_and_the_timeline_says_phone(world, api):
    body = expect(
        api(world.agent).post(
            "tickets",
            {
                "desk": "it",
                "title": "Caller's screen is black",
                "requester": world.requester.email,
                "channel": "phone",
            },
        ),
        201,
    )
    assert (body["channel"], body["requester"]["email"]) == ("phone", world.requester.email)
    created = Ticket.objects.get(ref=body["ref"]).events.get()
    assert (created.channel, created.actor_user) == ("phone", world.agent)


def test_a_requester_may_not_claim_another_channel(world, api):
    response = api(world.requester).post(
        "tickets", {"desk": "it", "title": "Hi", "channel": "phone"}
    )
    assert error(response, 403, "field_not_allowed")["details"] == {"field": "channel"}
    assert not Ticket.objects.exists()


def test_a_long_timeline_is_read_in_pages_and_a_client_asks_only_for_what_is_new(
    world, api, settings
):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    agent = api(world.agent)
    for n in range(7):
        expect(agent.post(f"tickets/{ticket.ref}/comments", {"body": f"Step {n}"}), 201)
    every = expect(agent.get(f"tickets/{ticket.ref}/events"), 200)
    assert len(every) == 8  # created, then the seven replies

    pages, after = [], 0
    while batch := expect(agent.get(f"tickets/{ticket.ref}/events?limit=3&after={after}"), 200):
        assert len(batch) <= 3
        pages.append([e["id"] for e in batch])
        after = batch[-1]["id"]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [i for p in pages for i in p] == [e["id"] for e in every]

    seen = every[-1]["id"]
    assert expect(agent.get(f"tickets/{ticket.ref}/events?after={seen}"), 200) == []
    expect(agent.post(f"tickets/{ticket.ref}/comments", {"body": "Fixed?"}), 201)
    new = expect(agent.get(f"tickets/{ticket.ref}/events?after={seen}"), 200)
    assert [e["kind"] for e in new] == ["commented"]

    settings.COMPTOIR_API_PAGE_SIZE_MAX = 4
    capped = expect(agent.get(f"tickets/{ticket.ref}/events?limit=100000"), 200)
    assert [e["id"] for e in capped] == [e["id"] for e in every[:4]]
    for bad in ("limit=0", "after=-1", "limit=many"):
        assert agent.get(f"tickets/{ticket.ref}/events?{bad}").status_code == 422
        assert agent.get(f"tickets/{ticket.ref}/comments?{bad}").status_code == 422


def test_a_ticket_s_messages_are_read_the_same_way_and_a_requester_never_gets_a_note(world, api):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    agent, requester = api(world.agent), api(world.requester)
    for n in range(3):
        expect(agent.post(f"tickets/{ticket.ref}/comments", {"body": f"Reply {n}"}), 201)
        note = {"body": f"Note {n}", "public": False}
        expect(agent.post(f"tickets/{ticket.ref}/comments", note), 201)
    every = expect(agent.get(f"tickets/{ticket.ref}/comments"), 200)
    assert [c["body"] for c in every] == [f"{k} {n}" for n in range(3) for k in ("Reply", "Note")]

    first = expect(requester.get(f"tickets/{ticket.ref}/comments?limit=2"), 200)
    assert [c["body"] for c in first] == ["Reply 0", "Reply 1"]
    rest = expect(requester.get(f"tickets/{ticket.ref}/comments?after={first[-1]['id']}"), 200)
    assert [c["body"] for c in rest] == ["Reply 2"]
    since = expect(agent.get(f"tickets/{ticket.ref}/comments?after={every[3]['id']}"), 200)
    assert [c["body"] for c in since] == ["Reply 2", "Note 2"]
