"""The ticket services: what a requester, an agent or a manager sees happen when they act."""

from __future__ import annotations

import hashlib
import io
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.desks.priority import DEFAULT_MATRIX
from comptoir.tickets import services
from comptoir.tickets.models import Attachment, EventKind, Ticket, TicketLink
from comptoir.tickets.services import Upload, conversation
from comptoir.tickets.timeline import current, replay
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def as_(user) -> Actor:
    return Actor.for_user(user)


def snapshot(ticket: Ticket) -> dict:
    """Everything a refused call must leave as it was."""
    return {
        "row": Ticket.objects.filter(pk=ticket.pk).values().get(),
        "events": list(ticket.events.order_by("id").values_list("id", "kind")),
        "comments": ticket.comments.count(),
        "attachments": ticket.attachments.count(),
        "watchers": sorted(ticket.watchers.values_list("pk", flat=True)),
        "tags": sorted(ticket.tags.values_list("name", flat=True)),
        "links": TicketLink.objects.filter(source=ticket).count()
        + TicketLink.objects.filter(target=ticket).count(),
    }


@contextmanager
def refused(code: ErrorCode, *tickets: Ticket):
    """Expect a DomainError with ``code``, and no change to ``tickets`` nor to the ticket count."""
    before = [snapshot(t) for t in tickets]
    count = Ticket.objects.count()
    with pytest.raises(DomainError) as info:
        yield info
    assert info.value.code == code, info.value.as_dict()
    assert [snapshot(t) for t in tickets] == before
    assert Ticket.objects.count() == count


def incident(world, **kwargs) -> Ticket:
    kwargs.setdefault("requester", world.requester)
    return make_ticket(desk=world.desk, **kwargs)


def timeline_kinds(ticket: Ticket) -> list[str]:
    return list(ticket.events.order_by("created_at", "id").values_list("kind", flat=True))


def assert_timeline_tells_the_truth(ticket: Ticket) -> None:
    ticket.refresh_from_db()
    assert replay(ticket.events.order_by("created_at", "id")) == current(ticket)


# --- creation --------------------------------------------------------------------------------


def test_ticket_numbers_are_sequential_per_desk(world):
    first = incident(world)
    second = incident(world)
    hr = make_ticket(desk=world.other_desk, requester=world.requester)
    assert [first.ref, second.ref, hr.ref] == ["IT-000001", "IT-000002", "HR-000001"]
    assert [first.number, second.number, hr.number] == [1, 2, 1]


def test_creation_writes_a_created_event_and_derives_priority(world):
    ticket = incident(world, impact="high", urgency="high")
    assert ticket.status == "new"
    assert ticket.status_category == "open"
    assert ticket.priority == 1
    assert ticket.organisation == world.requester.organisation
    event = ticket.events.get()
    assert event.kind == EventKind.CREATED
    assert event.after["requester"] == world.requester.email
    assert event.after["priority"] == 1
    assert_timeline_tells_the_truth(ticket)


@pytest.mark.parametrize("kind", ["problem", "change", "task"])
def test_requester_may_not_open_problems_changes_or_tasks(world, kind):
    last_number = world.desk.last_number
    with refused(ErrorCode.PERMISSION_DENIED):
        services.create_ticket(
            actor=as_(world.requester), desk=world.desk, kind=kind, title="Root cause"
        )
    world.desk.refresh_from_db()
    assert world.desk.last_number == last_number


@pytest.mark.parametrize("kind", ["problem", "change", "task"])
def test_agent_opens_problems_changes_and_tasks(world, kind):
    ticket = services.create_ticket(
        actor=as_(world.agent), desk=world.desk, kind=kind, title="Root cause"
    )
    assert ticket.kind == kind
    assert ticket.requester == world.agent


def test_agent_opens_a_ticket_for_another_requester(world):
    ticket = services.create_ticket(
        actor=as_(world.agent),
        desk=world.desk,
        kind="incident",
        title="Phoned in",
        requester=world.outsider,
    )
    assert ticket.requester == world.outsider
    assert ticket.organisation == world.outsider.organisation
    created = ticket.events.get()
    assert created.actor_user == world.agent
    assert created.after["requester"] == world.outsider.email


def test_requester_may_not_open_a_ticket_for_someone_else(world):
    with refused(ErrorCode.FIELD_NOT_ALLOWED) as info:
        services.create_ticket(
            actor=as_(world.requester),
            desk=world.desk,
            kind="incident",
            title="For you",
            requester=world.colleague,
        )
    assert info.value.details == {"field": "requester"}


def test_agent_of_another_desk_may_not_open_a_ticket_for_someone_else_here(world):
    with refused(ErrorCode.FIELD_NOT_ALLOWED):
        services.create_ticket(
            actor=as_(world.other_agent),
            desk=world.desk,
            kind="incident",
            title="x",
            requester=world.requester,
        )


def test_ticket_for_a_disabled_person_is_refused(world):
    world.outsider.is_active = False
    world.outsider.save()
    with refused(ErrorCode.UNKNOWN_USER):
        services.create_ticket(
            actor=as_(world.agent),
            desk=world.desk,
            kind="incident",
            title="x",
            requester=world.outsider,
        )


def test_closed_desk_takes_no_new_tickets(world):
    world.desk.is_active = False
    world.desk.save()
    with refused(ErrorCode.UNKNOWN_DESK):
        incident(world)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 251}, "title"),
        ({"title": "\x00\x00"}, "title"),
        ({"impact": "extreme"}, "impact"),
        ({"urgency": ""}, "urgency"),
        ({"kind": "rumour"}, "kind"),
    ],
)
def test_invalid_creation_is_refused_and_creates_nothing(world, fields, field):
    with refused(ErrorCode.VALIDATION_ERROR) as info:
        incident(world, **fields)
    assert info.value.details["field"] == field
    world.desk.refresh_from_db()
    assert world.desk.last_number == 0


def test_title_is_trimmed_and_stripped_of_nul(world):
    ticket = incident(world, title="  Printer\x00 jam  ")
    assert ticket.title == "Printer jam"


def test_description_markdown_is_rendered_safely(world):
    ticket = incident(world, description="**Help** <script>alert(1)</script>")
    assert "<strong>Help</strong>" in ticket.description_html
    assert "<script" not in ticket.description_html


# --- tags ------------------------------------------------------------------------------------


def test_tags_are_normalised_and_deduplicated(world):
    ticket = incident(world, tags=[" VPN ", "vpn", "Remote   Access", "REMOTE access", "wifi"])
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["remote access", "vpn", "wifi"]


def test_same_tag_name_is_one_tag_across_tickets(world):
    first = incident(world, tags=["VPN"])
    second = incident(world, tags=["vpn "])
    assert first.tags.get() == second.tags.get()


@pytest.mark.parametrize(
    "tags", [["<script>"], ["ok", "bad/tag"], ["x" * 51], [f"tag{n}" for n in range(31)]]
)
def test_invalid_tags_are_refused_and_create_nothing(world, tags):
    with refused(ErrorCode.VALIDATION_ERROR) as info:
        incident(world, tags=tags)
    assert info.value.details == {"field": "tags"}


def test_update_tags_replaces_them_and_logs_the_change(world):
    ticket = incident(world, tags=["vpn"])
    services.update_ticket(
        actor=as_(world.agent), ticket=ticket, changes={"tags": ["WiFi", "wifi", "VPN"]}
    )
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["vpn", "wifi"]
    event = ticket.events.get(kind=EventKind.FIELD_CHANGED)
    assert event.before == {"tags": ["vpn"]}
    assert event.after == {"tags": ["vpn", "wifi"]}


def test_update_with_the_same_tags_in_another_form_logs_nothing(world):
    ticket = incident(world, tags=["vpn", "wifi"])
    before = snapshot(ticket)
    services.update_ticket(
        actor=as_(world.agent), ticket=ticket, changes={"tags": ["WIFI", " vpn"]}
    )
    assert snapshot(ticket) == before


# --- priority --------------------------------------------------------------------------------


@pytest.mark.parametrize("impact", ["high", "medium", "low"])
@pytest.mark.parametrize("urgency", ["high", "medium", "low"])
def test_priority_comes_from_the_default_matrix(world, impact, urgency):
    ticket = incident(world, impact=impact, urgency=urgency)
    assert ticket.priority == DEFAULT_MATRIX[impact][urgency]
    assert ticket.priority_overridden is False


def test_priority_comes_from_the_desk_own_matrix(world):
    world.desk.priority_matrix = {
        "high": {"high": 1, "medium": 1, "low": 2},
        "medium": {"high": 2, "medium": 2, "low": 3},
        "low": {"high": 4, "medium": 5, "low": 5},
    }
    world.desk.save()
    assert incident(world, impact="high", urgency="medium").priority == 1
    ticket = incident(world, impact="low", urgency="medium")
    assert ticket.priority == 5
    services.update_ticket(actor=as_(world.agent), ticket=ticket, changes={"urgency": "high"})
    ticket.refresh_from_db()
    assert ticket.priority == 4


def test_changing_impact_recomputes_priority_and_logs_it(world):
    ticket = incident(world, impact="low", urgency="low")
    services.update_ticket(actor=as_(world.agent), ticket=ticket, changes={"impact": "high"})
    ticket.refresh_from_db()
    assert (ticket.impact, ticket.priority) == ("high", 3)
    event = ticket.events.get(kind=EventKind.PRIORITY_CHANGED)
    assert event.before == {"priority": 5}
    assert event.after["priority"] == 3
    assert event.after["overridden"] is False
    assert ticket.events.get(kind=EventKind.FIELD_CHANGED).after == {"impact": "high"}
    assert_timeline_tells_the_truth(ticket)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_priority_override_needs_a_reason(world, reason):
    ticket = incident(world)
    with refused(ErrorCode.PRIORITY_REASON_REQUIRED, ticket) as info:
        services.update_ticket(
            actor=as_(world.agent),
            ticket=ticket,
            changes={"priority": 1, "priority_reason": reason},
        )
    assert info.value.details == {"field": "priority_reason"}


def test_refused_override_with_an_impact_change_saves_neither(world):
    ticket = incident(world, impact="low", urgency="low")
    agent = as_(world.agent)
    with refused(ErrorCode.PRIORITY_REASON_REQUIRED, ticket):
        services.update_ticket(
            actor=agent, ticket=ticket, changes={"impact": "high", "priority": 1}
        )
    # The same ticket object goes on being used (as a job or a mail rule does): the refused
    # impact must not come back through the next change.
    services.update_ticket(actor=agent, ticket=ticket, changes={"urgency": "medium"})
    ticket.refresh_from_db()
    assert (ticket.impact, ticket.urgency, ticket.priority) == ("low", "medium", 4)
    assert_timeline_tells_the_truth(ticket)


@pytest.mark.parametrize("priority", [0, 6, "1", True])
def test_priority_outside_one_to_five_is_refused(world, priority):
    ticket = incident(world)
    with refused(ErrorCode.VALIDATION_ERROR, ticket):
        services.update_ticket(
            actor=as_(world.agent),
            ticket=ticket,
            changes={"priority": priority, "priority_reason": "x"},
        )


def test_priority_override_is_kept_with_its_reason_in_the_timeline(world):
    ticket = incident(world, impact="low", urgency="low")
    services.update_ticket(
        actor=as_(world.agent),
        ticket=ticket,
        changes={"priority": 1, "priority_reason": " CEO's laptop "},
    )
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.priority_overridden, ticket.priority_reason) == (
        1,
        True,
        "CEO's laptop",
    )
    event = ticket.events.get(kind=EventKind.PRIORITY_CHANGED)
    assert event.before == {"priority": 5}
    assert event.after == {"priority": 1, "overridden": True, "reason": "CEO's laptop"}

    # An overridden priority stays put when impact changes.
    services.update_ticket(actor=as_(world.agent), ticket=ticket, changes={"impact": "medium"})
    ticket.refresh_from_db()
    assert ticket.priority == 1
    assert ticket.events.filter(kind=EventKind.PRIORITY_CHANGED).count() == 1
    assert_timeline_tells_the_truth(ticket)


def test_null_priority_returns_to_the_matrix(world):
    ticket = incident(world, impact="medium", urgency="low")
    services.update_ticket(
        actor=as_(world.agent), ticket=ticket, changes={"priority": 1, "priority_reason": "VIP"}
    )
    services.update_ticket(actor=as_(world.agent), ticket=ticket, changes={"priority": None})
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.priority_overridden, ticket.priority_reason) == (4, False, "")
    last = ticket.events.filter(kind=EventKind.PRIORITY_CHANGED).order_by("id").last()
    assert last.before == {"priority": 1}
    assert last.after == {"priority": 4, "overridden": False, "reason": ""}
    assert_timeline_tells_the_truth(ticket)


def test_requester_may_not_override_priority(world):
    ticket = incident(world)
    with refused(ErrorCode.FIELD_NOT_ALLOWED, ticket) as info:
        services.update_ticket(
            actor=as_(world.requester),
            ticket=ticket,
            changes={"priority": 1, "priority_reason": "urgent!"},
        )
    assert info.value.details == {"fields": ["priority"]}


# --- custom fields ---------------------------------------------------------------------------

SCHEMA = [
    {
        "key": "asset_tag",
        "label": "Asset tag",
        "type": "string",
        "required": True,
        "max_length": 10,
    },
    {"key": "seats", "label": "Seats", "type": "integer"},
    {"key": "cost", "label": "Cost", "type": "decimal"},
    {"key": "remote", "label": "Remote", "type": "boolean"},
    {"key": "needed_by", "label": "Needed by", "type": "date"},
    {"key": "os", "label": "OS", "type": "choice", "choices": ["linux", "windows"]},
    {"key": "manager", "label": "Manager", "type": "email"},
    {"key": "rollback_plan", "label": "Rollback plan", "type": "text", "kinds": ["change"]},
]


@pytest.fixture
def schema_desk(world):
    world.desk.custom_fields = SCHEMA
    world.desk.save()
    return world.desk


def test_valid_custom_fields_are_stored_cleaned(world, schema_desk):
    ticket = incident(
        world,
        custom_fields={
            "asset_tag": "LT-042",
            "seats": 3,
            "cost": "12.50",
            "remote": False,
            "needed_by": "2030-01-31",
            "os": "linux",
            "manager": "Boss@Acme.test",
        },
    )
    ticket.refresh_from_db()
    assert ticket.custom_fields == {
        "asset_tag": "LT-042",
        "seats": 3,
        "cost": "12.50",
        "remote": False,
        "needed_by": "2030-01-31",
        "os": "linux",
        "manager": "boss@acme.test",
    }


def test_invalid_custom_fields_are_all_reported_and_nothing_is_created(world, schema_desk):
    with refused(ErrorCode.CUSTOM_FIELD_INVALID) as info:
        incident(
            world,
            custom_fields={
                "seats": "three",
                "cost": "a lot",
                "remote": "yes",
                "needed_by": "31/01/2030",
                "os": "plan9",
                "manager": "not-an-address",
                "colour": "blue",
                "rollback_plan": "restore",
            },
        )
    problems = info.value.details["fields"]
    assert set(problems) == {
        "asset_tag",
        "seats",
        "cost",
        "remote",
        "needed_by",
        "os",
        "manager",
        "colour",
        "rollback_plan",
    }
    assert problems["asset_tag"] == "is required"
    assert problems["colour"] == "is not a field of this desk"
    assert problems["rollback_plan"] == "is not a field of this desk"
    schema_desk.refresh_from_db()
    assert schema_desk.last_number == 0


def test_custom_field_limited_to_a_kind_is_accepted_on_that_kind(world, schema_desk):
    ticket = services.create_ticket(
        actor=as_(world.agent),
        desk=schema_desk,
        kind="change",
        title="Upgrade",
        custom_fields={"asset_tag": "SRV-1", "rollback_plan": "Restore the snapshot."},
    )
    assert ticket.custom_fields["rollback_plan"] == "Restore the snapshot."


def test_custom_field_update_is_partial_validated_and_logged(world, schema_desk):
    ticket = incident(world, custom_fields={"asset_tag": "LT-1", "os": "linux"})
    agent = as_(world.agent)

    with refused(ErrorCode.CUSTOM_FIELD_INVALID, ticket) as info:
        services.update_ticket(
            actor=agent, ticket=ticket, changes={"custom_fields": {"os": "beos", "seats": 2}}
        )
    assert set(info.value.details["fields"]) == {"os"}

    with refused(ErrorCode.CUSTOM_FIELD_INVALID, ticket) as info:
        services.update_ticket(
            actor=agent, ticket=ticket, changes={"custom_fields": {"asset_tag": None}}
        )
    assert info.value.details["fields"] == {"asset_tag": "is required"}

    services.update_ticket(
        actor=agent, ticket=ticket, changes={"custom_fields": {"seats": 2, "os": None}}
    )
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"asset_tag": "LT-1", "seats": 2}
    event = ticket.events.get(kind=EventKind.FIELD_CHANGED)
    assert event.before == {"custom_fields": {"asset_tag": "LT-1", "os": "linux"}}
    assert event.after == {"custom_fields": {"asset_tag": "LT-1", "seats": 2}}


# --- who may edit what -----------------------------------------------------------------------


def test_requester_edits_title_and_description_of_their_open_ticket(world):
    ticket = incident(world, title="Printer", description="It jams.")
    services.update_ticket(
        actor=as_(world.requester),
        ticket=ticket,
        changes={"title": "Printer on 3rd floor", "description": "Jams."},
    )
    ticket.refresh_from_db()
    assert (ticket.title, ticket.description) == ("Printer on 3rd floor", "Jams.")
    events = ticket.events.filter(kind=EventKind.FIELD_CHANGED).order_by("id")
    assert [(e.before, e.after, e.public) for e in events] == [
        ({"title": "Printer"}, {"title": "Printer on 3rd floor"}, True),
        ({"description": "It jams."}, {"description": "Jams."}, True),
    ]
    assert_timeline_tells_the_truth(ticket)


@pytest.mark.parametrize(
    "field", ["impact", "urgency", "tags", "category", "watchers", "custom_fields", "requester"]
)
def test_requester_may_not_edit_other_fields(world, field):
    ticket = incident(world)
    values = {
        "impact": "high",
        "urgency": "high",
        "tags": ["x"],
        "category": None,
        "watchers": [],
        "custom_fields": {},
    }
    values["requester"] = world.colleague
    with refused(ErrorCode.FIELD_NOT_ALLOWED, ticket) as info:
        services.update_ticket(
            actor=as_(world.requester),
            ticket=ticket,
            changes={"title": "New title", field: values[field]},
        )
    assert info.value.details == {"fields": [field]}


@pytest.mark.parametrize("who", ["colleague", "outsider", "other_agent"])
def test_people_other_than_requester_and_staff_may_not_edit(world, who):
    ticket = incident(world)
    with refused(ErrorCode.PERMISSION_DENIED, ticket):
        services.update_ticket(
            actor=as_(getattr(world, who)), ticket=ticket, changes={"title": "Mine now"}
        )


def test_requester_may_not_edit_a_resolved_ticket(world):
    ticket = incident(world)
    services.resolve_ticket(actor=as_(world.agent), ticket=ticket, resolution="Done.")
    with refused(ErrorCode.PERMISSION_DENIED, ticket):
        services.update_ticket(actor=as_(world.requester), ticket=ticket, changes={"title": "Wait"})


def test_closed_ticket_cannot_be_edited_even_by_staff(world):
    ticket = incident(world)
    services.cancel_ticket(actor=as_(world.requester), ticket=ticket)
    with refused(ErrorCode.INVALID_TRANSITION, ticket):
        services.update_ticket(actor=as_(world.agent), ticket=ticket, changes={"title": "Revived"})


def test_category_from_another_desk_is_refused(world):
    from tests.factories import CategoryFactory

    foreign = CategoryFactory(desk=world.other_desk)
    ticket = incident(world)
    with refused(ErrorCode.UNKNOWN_CATEGORY, ticket):
        services.update_ticket(actor=as_(world.agent), ticket=ticket, changes={"category": foreign})
    with refused(ErrorCode.UNKNOWN_CATEGORY):
        incident(world, category=foreign)


def test_watchers_are_added_and_removed_with_events(world):
    ticket = incident(world)
    agent = as_(world.agent)
    services.update_ticket(
        actor=agent, ticket=ticket, changes={"watchers": [world.colleague, world.manager]}
    )
    assert set(ticket.watchers.all()) == {world.colleague, world.manager}
    services.update_ticket(actor=agent, ticket=ticket, changes={"watchers": [world.manager]})
    assert list(ticket.watchers.all()) == [world.manager]
    added = ticket.events.filter(kind=EventKind.WATCHER_ADDED).values_list("after", flat=True)
    removed = ticket.events.filter(kind=EventKind.WATCHER_REMOVED).values_list("before", flat=True)
    assert sorted(a["watcher"] for a in added) == [world.colleague.email, world.manager.email]
    assert list(removed) == [{"watcher": world.colleague.email}]


# --- reopen, cancel, children ----------------------------------------------------------------


def resolved_incident(world, *, days_ago: float = 0) -> Ticket:
    ticket = incident(world)
    services.resolve_ticket(actor=as_(world.agent), ticket=ticket, resolution="Rebooted.")
    if days_ago:
        Ticket.objects.filter(pk=ticket.pk).update(
            resolved_at=timezone.now() - timedelta(days=days_ago)
        )
        ticket.refresh_from_db()
    return ticket


def test_requester_reopens_within_the_reopen_window(world):
    ticket = resolved_incident(world, days_ago=13)
    services.reopen_ticket(actor=as_(world.requester), ticket=ticket, reason="Still broken.")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.status_category, ticket.resolved_at) == (
        "in_progress",
        "open",
        None,
    )
    event = ticket.events.filter(kind=EventKind.STATUS_CHANGED).order_by("id").last()
    assert event.after == {"status": "in_progress", "action": "reopen", "reason": "Still broken."}
    assert event.actor_user == world.requester


def test_requester_may_not_reopen_after_the_window(world):
    ticket = resolved_incident(world, days_ago=15)
    with refused(ErrorCode.REOPEN_WINDOW_EXPIRED, ticket):
        services.reopen_ticket(actor=as_(world.requester), ticket=ticket)


def test_staff_reopen_after_the_window(world):
    ticket = resolved_incident(world, days_ago=400)
    services.reopen_ticket(actor=as_(world.agent), ticket=ticket)
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"


def test_reopen_window_is_the_desk_own(world):
    world.desk.reopen_window_days = 2
    world.desk.save()
    late = resolved_incident(world, days_ago=3)
    with refused(ErrorCode.REOPEN_WINDOW_EXPIRED, late):
        services.reopen_ticket(actor=as_(world.requester), ticket=late)
    recent = resolved_incident(world, days_ago=1)
    services.reopen_ticket(actor=as_(world.requester), ticket=recent)
    assert recent.status == "in_progress"


def test_requester_reopens_a_closed_ticket_within_the_window(world):
    ticket = resolved_incident(world)
    services.close_ticket(actor=as_(world.requester), ticket=ticket)
    ticket.refresh_from_db()
    assert ticket.closed_at is not None
    services.reopen_ticket(actor=as_(world.requester), ticket=ticket)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.closed_at, ticket.resolved_at) == ("in_progress", None, None)


def test_colleague_may_not_reopen_the_requester_ticket(world):
    ticket = resolved_incident(world)
    with refused(ErrorCode.PERMISSION_DENIED, ticket):
        services.reopen_ticket(actor=as_(world.colleague), ticket=ticket)


def test_requester_cancels_their_ticket(world):
    ticket = incident(world)
    services.cancel_ticket(
        actor=as_(world.requester), ticket=ticket, reason="Found the power switch."
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.status_category) == ("cancelled", "closed")
    assert ticket.closed_at is not None
    event = ticket.events.get(kind=EventKind.STATUS_CHANGED)
    assert event.after["reason"] == "Found the power switch."
    with refused(ErrorCode.INVALID_TRANSITION, ticket):
        services.reopen_ticket(actor=as_(world.requester), ticket=ticket)


def test_colleague_may_not_cancel_the_requester_ticket(world):
    ticket = incident(world)
    with refused(ErrorCode.PERMISSION_DENIED, ticket):
        services.cancel_ticket(actor=as_(world.colleague), ticket=ticket)


def test_parent_cannot_be_resolved_while_a_child_is_open(world):
    agent = as_(world.agent)
    parent = incident(world, title="Outage")
    child = incident(world, title="My mail", by=world.agent, parent=parent)
    done = incident(world, title="Cancelled child", by=world.agent, parent=parent)
    services.cancel_ticket(actor=agent, ticket=done)

    with refused(ErrorCode.OPEN_CHILDREN, parent, child) as info:
        services.resolve_ticket(actor=agent, ticket=parent, resolution="Fixed.")
    assert info.value.details == {"open_children": [child.ref]}

    services.resolve_ticket(actor=agent, ticket=child, resolution="Fixed with the parent.")
    services.resolve_ticket(actor=agent, ticket=parent, resolution="Fixed.")
    parent.refresh_from_db()
    assert parent.status == "resolved"


def test_only_staff_set_a_parent_at_creation(world):
    parent = incident(world)
    with refused(ErrorCode.FIELD_NOT_ALLOWED, parent):
        incident(world, parent=parent)


# --- approval --------------------------------------------------------------------------------


def change_in_assessment(world) -> Ticket:
    change = services.create_ticket(
        actor=as_(world.agent), desk=world.desk, kind="change", title="Patch DB"
    )
    services.transition_ticket(actor=as_(world.agent), ticket=change, action="submit")
    return change


@pytest.mark.parametrize("who", ["change_manager", "manager", "admin", "superuser"])
def test_change_approval_by_approvers(world, who):
    change = change_in_assessment(world)
    services.transition_ticket(actor=as_(getattr(world, who)), ticket=change, action="approve")
    change.refresh_from_db()
    assert change.status == "approved"


@pytest.mark.parametrize("who", ["agent", "requester", "other_agent"])
@pytest.mark.parametrize("action", ["approve", "reject"])
def test_change_approval_refused_to_others(world, who, action):
    change = change_in_assessment(world)
    with refused(ErrorCode.PERMISSION_DENIED, change):
        services.transition_ticket(
            actor=as_(getattr(world, who)), ticket=change, action=action, reason="No."
        )


def test_change_rejection_needs_a_reason(world):
    change = change_in_assessment(world)
    with refused(ErrorCode.VALIDATION_ERROR, change):
        services.transition_ticket(actor=as_(world.change_manager), ticket=change, action="reject")
    services.transition_ticket(
        actor=as_(world.change_manager), ticket=change, action="reject", reason="Freeze."
    )
    change.refresh_from_db()
    assert (change.status, change.status_category) == ("rejected", "closed")


# --- conversation ----------------------------------------------------------------------------


def test_requester_may_not_write_internal_notes(world):
    ticket = incident(world)
    with refused(ErrorCode.PERMISSION_DENIED, ticket):
        services.add_comment(actor=as_(world.requester), ticket=ticket, body="psst", public=False)


def test_agent_of_another_desk_may_not_write_internal_notes(world):
    ticket = incident(world)
    with refused(ErrorCode.PERMISSION_DENIED, ticket):
        services.add_comment(actor=as_(world.other_agent), ticket=ticket, body="psst", public=False)


def test_agent_internal_note_is_kept_private(world):
    ticket = incident(world)
    note = services.add_comment(
        actor=as_(world.agent), ticket=ticket, body="Check the *fuser*.", public=False
    )
    assert note.public is False
    assert "<em>fuser</em>" in note.body_html
    event = ticket.events.get(kind=EventKind.NOTE_ADDED)
    assert (event.public, event.comment) == (False, note)


@pytest.mark.parametrize("body", ["", "   ", "\x00"])
def test_empty_reply_is_refused(world, body):
    ticket = incident(world)
    with refused(ErrorCode.VALIDATION_ERROR, ticket):
        services.add_comment(actor=as_(world.requester), ticket=ticket, body=body)


def test_requester_reply_resumes_a_ticket_waiting_for_them(world):
    ticket = incident(world)
    services.transition_ticket(actor=as_(world.agent), ticket=ticket, action="wait_for_customer")
    services.add_comment(
        actor=as_(world.requester), ticket=ticket, body="It is the one by the window."
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.status_category) == ("in_progress", "open")
    assert timeline_kinds(ticket) == [
        EventKind.CREATED,
        EventKind.STATUS_CHANGED,
        EventKind.COMMENTED,
        EventKind.STATUS_CHANGED,
    ]
    resumed = ticket.events.order_by("created_at", "id").last()
    assert resumed.before == {"status": "waiting_customer"}
    assert resumed.after == {"status": "in_progress", "action": "resume"}
    assert resumed.public is True
    assert_timeline_tells_the_truth(ticket)


def test_staff_reply_leaves_a_ticket_waiting_for_the_customer(world):
    ticket = incident(world)
    services.transition_ticket(actor=as_(world.agent), ticket=ticket, action="wait_for_customer")
    services.add_comment(actor=as_(world.agent), ticket=ticket, body="Any news?")
    ticket.refresh_from_db()
    assert ticket.status == "waiting_customer"


def test_first_response_is_the_first_public_staff_reply(world):
    ticket = incident(world)
    services.add_comment(actor=as_(world.requester), ticket=ticket, body="Hello?")
    services.add_comment(actor=as_(world.agent), ticket=ticket, body="Looking.", public=False)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None

    reply = services.add_comment(actor=as_(world.agent), ticket=ticket, body="On it.")
    services.add_comment(actor=as_(world.manager), ticket=ticket, body="Me too.")
    ticket.refresh_from_db()
    assert ticket.first_response_at == reply.created_at


def test_agent_reply_on_their_own_ticket_is_not_a_first_response(world):
    ticket = incident(world, requester=world.agent)
    services.add_comment(actor=as_(world.agent), ticket=ticket, body="Adding details.")
    ticket.refresh_from_db()
    assert ticket.first_response_at is None


def test_automatic_reply_is_not_a_first_response(world):
    ticket = incident(world)
    services.add_comment(
        actor=Actor.system("auto-acknowledge"), ticket=ticket, body="We got your request."
    )
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    reply = services.add_comment(actor=as_(world.agent), ticket=ticket, body="On it.")
    ticket.refresh_from_db()
    assert ticket.first_response_at == reply.created_at


def test_merged_ticket_takes_no_reply(world):
    source, target = incident(world), incident(world)
    services.merge_tickets(actor=as_(world.agent), source=source, target=target)
    with refused(ErrorCode.INVALID_TRANSITION, source, target) as info:
        services.add_comment(actor=as_(world.requester), ticket=source, body="Hello?")
    assert info.value.details == {"merged_into": target.ref}


# --- assignment ------------------------------------------------------------------------------


def test_assignment_to_team_and_agent_is_logged(world):
    from tests.factories import TeamFactory

    team = TeamFactory(desk=world.desk)
    team.members.add(world.agent)
    ticket = incident(world)
    services.assign_ticket(actor=as_(world.manager), ticket=ticket, team=team, agent=world.agent)
    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee) == (team, world.agent)
    event = ticket.events.get(kind=EventKind.ASSIGNED)
    assert event.before == {"team": None, "assignee": None}
    assert event.after == {"team": team.pk, "assignee": world.agent.email}

    services.assign_ticket(actor=as_(world.manager), ticket=ticket, team=team, agent=world.agent)
    assert ticket.events.filter(kind=EventKind.ASSIGNED).count() == 1
    assert_timeline_tells_the_truth(ticket)


def test_assignment_refusals(world):
    from tests.factories import TeamFactory

    foreign_team = TeamFactory(desk=world.other_desk)
    ticket = incident(world)
    with refused(ErrorCode.PERMISSION_DENIED, ticket):
        services.assign_ticket(actor=as_(world.requester), ticket=ticket, agent=world.agent)
    with refused(ErrorCode.UNKNOWN_USER, ticket):
        services.assign_ticket(actor=as_(world.agent), ticket=ticket, agent=world.other_agent)
    with refused(ErrorCode.UNKNOWN_TEAM, ticket):
        services.assign_ticket(actor=as_(world.agent), ticket=ticket, team=foreign_team)


# --- links -----------------------------------------------------------------------------------


def test_parent_and_child_links_set_the_parent(world):
    agent = as_(world.agent)
    a, b, c = incident(world), incident(world), incident(world)
    services.link_tickets(actor=agent, ticket=b, target=a, kind="parent")
    services.link_tickets(actor=agent, ticket=b, target=c, kind="child")
    b.refresh_from_db()
    c.refresh_from_db()
    assert (b.parent, c.parent) == (a, b)
    # b is linked twice: once as the child of a, once as the parent of c
    assert b.events.filter(kind=EventKind.LINKED).count() == 2
    assert a.events.get(kind=EventKind.LINKED).after == {"child": b.ref}
    assert c.events.get(kind=EventKind.LINKED).after == {"parent": b.ref}


@pytest.mark.parametrize("kind", ["duplicate_of", "caused_by", "related"])
def test_typed_links_are_recorded_on_both_tickets_once(world, kind):
    agent = as_(world.agent)
    a, b = incident(world), incident(world)
    services.link_tickets(actor=agent, ticket=a, target=b, kind=kind)
    services.link_tickets(actor=agent, ticket=a, target=b, kind=kind)
    assert TicketLink.objects.get().kind == kind
    assert a.events.get(kind=EventKind.LINKED).after == {"kind": kind, "target": b.ref}
    assert b.events.get(kind=EventKind.LINKED).after == {
        "kind": f"{kind}:inverse",
        "source": a.ref,
    }


@pytest.mark.parametrize("kind", ["parent", "child", "duplicate_of", "caused_by", "related"])
def test_ticket_cannot_be_linked_to_itself(world, kind):
    ticket = incident(world)
    with refused(ErrorCode.LINK_INVALID, ticket):
        services.link_tickets(actor=as_(world.agent), ticket=ticket, target=ticket, kind=kind)


def test_parent_cycles_are_refused(world):
    agent = as_(world.agent)
    a, b, c = incident(world), incident(world), incident(world)
    services.link_tickets(actor=agent, ticket=b, target=a, kind="parent")
    services.link_tickets(actor=agent, ticket=c, target=b, kind="parent")
    with refused(ErrorCode.LINK_INVALID, a, b, c):
        services.link_tickets(actor=agent, ticket=a, target=c, kind="parent")
    with refused(ErrorCode.LINK_INVALID, a, b, c):
        services.link_tickets(actor=agent, ticket=c, target=a, kind="child")
    with refused(ErrorCode.LINK_INVALID, a, b):
        services.link_tickets(actor=agent, ticket=a, target=b, kind="parent")


def test_unknown_link_kind_and_requester_links_are_refused(world):
    a, b = incident(world), incident(world)
    with refused(ErrorCode.LINK_INVALID, a, b):
        services.link_tickets(actor=as_(world.agent), ticket=a, target=b, kind="sibling")
    with refused(ErrorCode.PERMISSION_DENIED, a, b):
        services.link_tickets(actor=as_(world.requester), ticket=a, target=b, kind="related")
    hr = make_ticket(desk=world.other_desk, requester=world.requester)
    with refused(ErrorCode.PERMISSION_DENIED, a, hr):
        services.link_tickets(actor=as_(world.agent), ticket=a, target=hr, kind="related")


def test_unlink_is_recorded_on_both_tickets(world):
    agent = as_(world.agent)
    a, b = incident(world), incident(world)
    services.link_tickets(actor=agent, ticket=a, target=b, kind="related")
    services.unlink_tickets(actor=agent, ticket=a, target=b, kind="related")
    assert not TicketLink.objects.exists()
    assert a.events.filter(kind=EventKind.UNLINKED).count() == 1
    assert b.events.filter(kind=EventKind.UNLINKED).count() == 1
    with refused(ErrorCode.LINK_INVALID, a, b):
        services.unlink_tickets(actor=agent, ticket=a, target=b, kind="related")


# --- merge -----------------------------------------------------------------------------------


def test_merge_moves_conversation_files_and_watchers_to_the_survivor(world):
    agent = as_(world.agent)
    source = incident(world, requester=world.colleague, title="Mail down (dup)")
    target = incident(world, title="Mail down")
    child = incident(world, by=world.agent, parent=source)
    services.update_ticket(actor=agent, ticket=source, changes={"watchers": [world.manager]})
    reply = services.add_comment(actor=as_(world.colleague), ticket=source, body="Same here.")
    note = services.add_comment(actor=agent, ticket=source, body="Same cause.", public=False)
    attachment = services.add_attachment(
        actor=as_(world.colleague),
        ticket=source,
        upload=Upload(io.BytesIO(b"log line\n"), "mail.log"),
    )

    survivor = services.merge_tickets(actor=agent, source=source, target=target)

    assert survivor == target
    source.refresh_from_db()
    assert (source.status, source.status_category, source.merged_into) == (
        "merged",
        "closed",
        target,
    )
    assert source.closed_at is not None
    assert set(target.comments.all()) == {reply, note}
    assert list(target.attachments.all()) == [attachment]
    assert not source.comments.exists() and not source.attachments.exists()
    assert set(target.watchers.all()) == {world.manager, world.colleague}
    child.refresh_from_db()
    assert child.parent == target
    into = source.events.get(kind=EventKind.MERGED_INTO)
    assert into.before == {"status": "new"}
    assert into.after == {"status": "merged", "into": target.ref, "comments": 2, "attachments": 1}
    merged_from = target.events.get(kind=EventKind.MERGED_FROM)
    assert merged_from.after == {"from": source.ref, "comments": 2, "attachments": 1}
    assert_timeline_tells_the_truth(source)
    assert_timeline_tells_the_truth(target)


def test_merge_into_itself_is_refused(world):
    ticket = incident(world)
    with refused(ErrorCode.MERGE_INVALID, ticket):
        services.merge_tickets(actor=as_(world.agent), source=ticket, target=ticket)


@pytest.mark.parametrize("end", ["resolve", "cancel"])
def test_merge_into_a_closed_or_resolved_ticket_is_refused(world, end):
    source, target = incident(world), incident(world)
    services.transition_ticket(
        actor=as_(world.agent), ticket=target, action=end, resolution="Done."
    )
    with refused(ErrorCode.MERGE_INVALID, source, target) as info:
        services.merge_tickets(actor=as_(world.agent), source=source, target=target)
    assert info.value.details == {"target": target.ref}


def test_merge_of_a_resolved_ticket_is_refused(world):
    source, target = incident(world), incident(world)
    services.resolve_ticket(actor=as_(world.agent), ticket=source, resolution="Done.")
    with refused(ErrorCode.INVALID_TRANSITION, source, target):
        services.merge_tickets(actor=as_(world.agent), source=source, target=target)


def test_merge_into_its_own_descendant_is_refused(world):
    agent = as_(world.agent)
    parent = incident(world)
    child = incident(world, by=world.agent, parent=parent)
    grandchild = incident(world, by=world.agent, parent=child)
    with refused(ErrorCode.MERGE_INVALID, parent, child):
        services.merge_tickets(actor=agent, source=parent, target=child)
    with refused(ErrorCode.MERGE_INVALID, parent, grandchild):
        services.merge_tickets(actor=agent, source=parent, target=grandchild)


def test_merge_refused_to_requester_and_across_desks(world):
    a, b = incident(world), incident(world)
    hr = make_ticket(desk=world.other_desk, requester=world.requester)
    with refused(ErrorCode.PERMISSION_DENIED, a, b):
        services.merge_tickets(actor=as_(world.requester), source=a, target=b)
    with refused(ErrorCode.PERMISSION_DENIED, a, hr):
        services.merge_tickets(actor=as_(world.agent), source=a, target=hr)


# --- attachments -----------------------------------------------------------------------------


def stored_files() -> list[Path]:
    root = Path(django_settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def attach(
    world, ticket, data: bytes, name: str | None = "file.bin", declared: str | None = None, **kwargs
):
    return services.add_attachment(
        actor=as_(kwargs.pop("user", world.requester)),
        ticket=ticket,
        upload=Upload(io.BytesIO(data), name, declared, kwargs.pop("size", None)),
        **kwargs,
    )


def test_attachment_is_stored_with_its_hash_and_an_event(world):
    ticket = incident(world)
    data = b"Error 0x80070005 at boot\n" * 10
    attachment = attach(world, ticket, data, "boot.log", "text/plain")
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert attachment.size == len(data)
    assert attachment.filename == "boot.log"
    with attachment.file.open("rb") as stored:
        assert stored.read() == data
    event = ticket.events.get(kind=EventKind.ATTACHMENT_ADDED)
    assert event.after == {
        "attachment": attachment.pk,
        "filename": "boot.log",
        "size": len(data),
        "content_type": "text/plain",
    }


def test_attachment_over_the_size_limit_is_refused(world, settings):
    settings.COMPTOIR_MAX_ATTACHMENT_SIZE = 1024
    ticket = incident(world)
    attach(world, ticket, b"x" * 1024)  # the limit itself is fine
    files = stored_files()
    with refused(ErrorCode.ATTACHMENT_TOO_LARGE, ticket) as info:
        attach(world, ticket, b"x" * 1025)
    assert info.value.details == {"limit_bytes": 1024}
    with refused(ErrorCode.ATTACHMENT_TOO_LARGE, ticket):
        attach(world, ticket, b"x", size=5000)  # the declared size alone is enough to refuse
    assert stored_files() == files


def test_large_file_is_refused_whatever_size_the_sender_declared(world, settings):
    settings.COMPTOIR_MAX_ATTACHMENT_SIZE = 3 * 1024 * 1024
    ticket = incident(world)
    with refused(ErrorCode.ATTACHMENT_TOO_LARGE, ticket):
        attach(world, ticket, b"\x01" * (3 * 1024 * 1024 + 1), size=10)
    assert stored_files() == []


def test_empty_attachment_is_refused(world):
    ticket = incident(world)
    with refused(ErrorCode.ATTACHMENT_EMPTY, ticket) as info:
        attach(world, ticket, b"", "../empty.txt")
    assert info.value.details == {"filename": "empty.txt"}
    assert stored_files() == []


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\evil\\x.exe", "x.exe"),
        ("report\x00.pdf", "report.pdf"),
        ("bell\x07\x1b[31m.txt", "bell[31m.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("/", "attachment"),
        ("..", "attachment"),
        (None, "attachment"),
        ("a" * 496 + ".pdf", "a" * 196 + ".pdf"),
        ('what?<is>"this"|*.txt', "what__is__this___.txt"),
    ],
)
def test_hostile_file_names_are_only_a_safe_display_name(world, name, shown):
    ticket = incident(world)
    attachment = attach(world, ticket, b"harmless bytes", name)
    assert attachment.filename == shown
    assert attachment.file.name == f"attachments/{attachment.sha256[:2]}/{attachment.storage_key}"
    root = Path(django_settings.MEDIA_ROOT).resolve()
    path = Path(attachment.file.path).resolve()
    assert path.is_relative_to(root / "attachments")
    assert stored_files() == [path]


def test_content_type_is_read_from_the_bytes(world):
    ticket = incident(world)
    png = attach(world, ticket, PNG, "page.html", "text/html")
    assert (png.content_type, png.declared_content_type) == ("image/png", "text/html")
    html = attach(world, ticket, HTML, "cat.png", "image/png")
    assert (html.content_type, html.declared_content_type) == ("text/plain", "image/png")
    binary = attach(world, ticket, b"\x00\x01\x02\xff" * 10, "blob")
    assert binary.content_type == "application/octet-stream"


def test_failing_save_leaves_no_file_behind(world, monkeypatch):
    ticket = incident(world)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(conversation, "_record", broken)
    before = snapshot(ticket)
    with pytest.raises(RuntimeError):
        attach(world, ticket, b"important bytes", "notes.txt")
    assert stored_files() == []
    assert not Attachment.objects.exists()
    assert snapshot(ticket) == before


def test_files_of_a_rolled_back_batch_are_swept_by_cleanup(world, settings):
    settings.COMPTOIR_MAX_ATTACHMENT_SIZE = 100
    ticket = incident(world)
    kept = attach(world, ticket, b"kept file")
    with pytest.raises(DomainError), transaction.atomic():
        attach(world, ticket, b"first file")
        attach(world, ticket, b"x" * 101)
    assert list(Attachment.objects.values_list("pk", flat=True)) == [kept.pk]
    assert len(stored_files()) == 2  # the kept file, and the orphan of the rolled-back batch
    # A fresh orphan may belong to a transaction still running: it is left alone.
    assert services.prune_orphan_files() == []
    removed = services.prune_orphan_files(older_than=timedelta(0))
    assert len(removed) == 1
    assert stored_files() == [Path(kept.file.path)]
    with kept.file.open("rb") as handle:
        assert handle.read() == b"kept file"


def test_requester_may_not_attach_internal_files(world):
    ticket = incident(world)
    with refused(ErrorCode.PERMISSION_DENIED, ticket):
        attach(world, ticket, b"secret", public=False)
    assert stored_files() == []


def test_closed_ticket_takes_no_files(world):
    ticket = incident(world)
    services.cancel_ticket(actor=as_(world.requester), ticket=ticket)
    with refused(ErrorCode.INVALID_TRANSITION, ticket):
        attach(world, ticket, b"late")
    assert stored_files() == []


# --- closing rules -----------------------------------------------------------------------------


def test_a_cancelled_ticket_is_closed_but_never_counted_as_resolved(world):
    ticket = incident(world)
    services.cancel_ticket(actor=as_(world.requester), ticket=ticket, reason="Found it myself")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.status_category) == ("cancelled", "closed")
    assert ticket.closed_at is not None
    assert ticket.resolved_at is None


def test_closing_a_resolved_ticket_keeps_its_resolution_time(world):
    ticket = incident(world)
    services.resolve_ticket(actor=as_(world.agent), ticket=ticket, resolution="Fixed")
    resolved_at = Ticket.objects.get(pk=ticket.pk).resolved_at
    services.close_ticket(actor=as_(world.requester), ticket=ticket)
    ticket.refresh_from_db()
    assert ticket.resolved_at == resolved_at
    assert ticket.closed_at >= resolved_at


def test_nobody_replies_publicly_on_a_closed_ticket_but_staff_may_add_notes(world):
    ticket = incident(world)
    services.cancel_ticket(actor=as_(world.requester), ticket=ticket)
    with refused(ErrorCode.INVALID_TRANSITION, ticket):
        services.add_comment(actor=as_(world.requester), ticket=ticket, body="Still broken")
    with refused(ErrorCode.INVALID_TRANSITION, ticket):
        services.add_comment(actor=as_(world.agent), ticket=ticket, body="Hello?")
    note = services.add_comment(
        actor=as_(world.agent), ticket=ticket, body="For the record", public=False
    )
    assert note.public is False


def test_a_requester_reply_does_not_end_a_wait_on_the_vendor(world):
    ticket = incident(world)
    services.transition_ticket(actor=as_(world.agent), ticket=ticket, action="wait_for_vendor")
    services.add_comment(actor=as_(world.requester), ticket=ticket, body="Any news?")
    ticket.refresh_from_db()
    assert ticket.status == "waiting_vendor"


# --- merge across desks and kinds --------------------------------------------------------------


def test_tickets_of_two_desks_cannot_be_merged(world):
    from comptoir.accounts.roles import Role
    from tests.factories import grant

    grant(world.agent, world.other_desk, Role.AGENT)
    source = incident(world)
    target = make_ticket(desk=world.other_desk, requester=world.requester)
    with refused(ErrorCode.MERGE_INVALID, source, target):
        services.merge_tickets(actor=as_(world.agent), source=source, target=target)


def test_an_incident_cannot_be_merged_into_a_problem(world):
    source = incident(world)
    problem = services.create_ticket(
        actor=as_(world.agent), desk=world.desk, kind="problem", title="Cause"
    )
    with refused(ErrorCode.MERGE_INVALID, source, problem):
        services.merge_tickets(actor=as_(world.agent), source=source, target=problem)


def test_changing_the_requester_moves_the_ticket_to_their_organisation_and_site(world):
    ticket = incident(world)
    services.update_ticket(
        actor=as_(world.agent), ticket=ticket, changes={"requester": world.outsider}
    )
    ticket.refresh_from_db()
    assert ticket.organisation_id == world.outsider.organisation_id
    assert ticket.site_id == world.outsider.site_id


def test_the_nightly_job_sweeps_orphans_an_hour_old(world, settings):
    import os
    import time

    from comptoir.tickets.tasks import nightly_cleanup

    settings.COMPTOIR_MAX_ATTACHMENT_SIZE = 100
    ticket = incident(world)
    kept = attach(world, ticket, b"kept file")
    with pytest.raises(DomainError), transaction.atomic():
        attach(world, ticket, b"first file")
        attach(world, ticket, b"x" * 101)
    orphan = next(p for p in stored_files() if p != Path(kept.file.path))
    nightly_cleanup()  # a fresh orphan may be a transaction still running: kept
    assert orphan.exists()
    two_hours_ago = time.time() - 7200
    os.utime(orphan, (two_hours_ago, two_hours_ago))
    nightly_cleanup()
    assert stored_files() == [Path(kept.file.path)]
