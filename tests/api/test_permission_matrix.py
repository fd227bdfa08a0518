"""Who may do what through the API: one table per endpoint, one row per persona.

Every refusal is checked twice: the answer (status, code, the one error shape) and that nothing
changed (ticket rows, timeline, comments, attachments, files, published domain events). A
ticket of another organisation answers exactly like a ticket that does not exist.
"""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Attachment, Comment, TicketLink
from tests.api.helpers import (
    FIELD_FORBIDDEN,
    FORBIDDEN,
    HIDDEN,
    STAFF,
    UNAUTHENTICATED,
    attempt,
    matrix,
    person,
    upload,
)
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

MISSING = "IT-999999"
DESK_STAFF = set(STAFF)

#: Everyone signed in may read; the other organisation's requester is told the ticket does not exist.
READ = {
    "anonymous": UNAUTHENTICATED,
    "requester": 200,
    "colleague": 200,
    "outsider": HIDDEN,
    "other_agent": 200,  # an agent of another desk sees it as a member of the organisation
    "agent": 200,
    "manager": 200,
    "change_manager": 200,
    "admin": 200,
    "superuser": 200,
}


def client(api, world, persona):
    return api(person(world, persona))


# --- GET /tickets ------------------------------------------------------------------------------

LIST = {p: (UNAUTHENTICATED if p == "anonymous" else 200) for p in READ}
LIST_SEES = {
    "requester": {"ticket", "sibling"},
    "colleague": {"ticket", "sibling"},
    "outsider": {"foreign", "hr"},
    "other_agent": {"ticket", "sibling", "hr"},
    "agent": {"ticket", "sibling", "foreign"},
    "manager": {"ticket", "sibling", "foreign"},
    "change_manager": {"ticket", "sibling", "foreign"},
    "admin": {"ticket", "sibling", "foreign"},
    "superuser": {"ticket", "sibling", "foreign", "hr"},
}


@pytest.mark.parametrize(("persona", "outcome"), matrix(LIST))
def test_list_tickets_shows_each_persona_only_what_they_may_see(
    world, api, scene, watch, persona, outcome
):
    body, _ = attempt(watch, outcome, lambda: client(api, world, persona).get("tickets"))
    if outcome == 200:
        refs = {item["ref"] for item in body["items"]}
        assert refs == {getattr(scene, name).ref for name in LIST_SEES[persona]}


# --- POST /tickets -----------------------------------------------------------------------------

CREATE_COLUMNS = ("for_myself", "for_someone_else", "a_problem")
CREATE = {
    "anonymous": (UNAUTHENTICATED, UNAUTHENTICATED, UNAUTHENTICATED),
    "requester": (201, FIELD_FORBIDDEN, FORBIDDEN),
    "colleague": (201, FIELD_FORBIDDEN, FORBIDDEN),
    "outsider": (201, FIELD_FORBIDDEN, FORBIDDEN),
    "other_agent": (201, FIELD_FORBIDDEN, FORBIDDEN),
    "agent": (201, 201, 201),
    "manager": (201, 201, 201),
    "change_manager": (201, 201, 201),
    "admin": (201, 201, 201),
    "superuser": (201, 201, 201),
}
CREATE_PAYLOADS = {
    "for_myself": {"desk": "it", "title": "Mouse broken"},
    "for_someone_else": {"desk": "it", "title": "Mouse broken", "requester": "colleague@acme.test"},
    "a_problem": {"desk": "it", "title": "Recurring outages", "kind": "problem"},
}


@pytest.mark.parametrize(("persona", "variant", "outcome"), matrix(CREATE, CREATE_COLUMNS))
def test_who_may_open_which_ticket(world, api, scene, watch, published, persona, variant, outcome):
    body, _ = attempt(
        watch,
        outcome,
        lambda: client(api, world, persona).post("tickets", CREATE_PAYLOADS[variant]),
    )
    if outcome == 201:
        assert body["ref"] == "IT-000004"
        expected = (
            "colleague@acme.test" if variant == "for_someone_else" else person(world, persona).email
        )
        assert body["requester"]["email"] == expected
        assert [type(e).__name__ for e in published] == ["TicketCreated"]


# --- GET /tickets/{ref} ------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "outcome"), matrix(READ))
def test_who_may_read_a_ticket(world, api, scene, watch, persona, outcome):
    c = client(api, world, persona)
    ref = scene.ticket.ref
    body, _ = attempt(
        watch,
        outcome,
        lambda: c.get(f"tickets/{ref}"),
        lambda: c.get(f"tickets/{MISSING}"),
        same_as=(ref, MISSING),
    )
    if outcome == 200:
        assert body["ref"] == ref
        assert body["title"] == "Laptop will not boot"


# --- PATCH /tickets/{ref} ----------------------------------------------------------------------

PATCH_COLUMNS = ("title", "impact")
PATCH = {
    "anonymous": (UNAUTHENTICATED, UNAUTHENTICATED),
    "requester": (200, FIELD_FORBIDDEN),  # a requester words their ticket; agents triage it
    "colleague": (FORBIDDEN, FORBIDDEN),
    "outsider": (HIDDEN, HIDDEN),
    "other_agent": (FORBIDDEN, FORBIDDEN),
    "agent": (200, 200),
    "manager": (200, 200),
    "change_manager": (200, 200),
    "admin": (200, 200),
    "superuser": (200, 200),
}
PATCH_PAYLOADS = {"title": {"title": "Laptop dead"}, "impact": {"impact": "high"}}


@pytest.mark.parametrize(("persona", "field", "outcome"), matrix(PATCH, PATCH_COLUMNS))
def test_who_may_change_which_field(world, api, scene, watch, published, persona, field, outcome):
    c = client(api, world, persona)
    ref, payload = scene.ticket.ref, PATCH_PAYLOADS[field]
    body, _ = attempt(
        watch,
        outcome,
        lambda: c.patch(f"tickets/{ref}", payload),
        lambda: c.patch(f"tickets/{MISSING}", payload),
        same_as=(ref, MISSING),
    )
    if outcome == 200:
        assert body[field] == payload[field]
        assert "TicketUpdated" in [type(e).__name__ for e in published]
        scene.ticket.refresh_from_db()
        assert getattr(scene.ticket, field) == payload[field]


# --- POST /tickets/{ref}/{action} --------------------------------------------------------------

ACTION_COLUMNS = ("resolve", "reopen", "cancel", "approve")
ACTION = {
    "anonymous": (UNAUTHENTICATED,) * 4,
    "requester": (FORBIDDEN, 200, 200, FORBIDDEN),  # requesters reopen and cancel their own
    "colleague": (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "outsider": (HIDDEN,) * 4,
    "other_agent": (FORBIDDEN,) * 4,
    "agent": (200, 200, 200, FORBIDDEN),  # approving a change is for approvers
    "manager": (200,) * 4,
    "change_manager": (200,) * 4,
    "admin": (200,) * 4,
    "superuser": (200,) * 4,
}
ACTION_RESULT = {
    "resolve": "resolved",
    "reopen": "in_progress",
    "cancel": "cancelled",
    "approve": "approved",
}


def _ticket_ready_for(world, scene, action):
    agent = Actor.for_user(world.agent)
    if action == "reopen":
        return services.resolve_ticket(
            actor=agent, ticket=scene.ticket, resolution="Replaced the battery."
        )
    if action == "approve":
        change = make_ticket(
            desk=world.desk,
            requester=world.requester,
            by=world.agent,
            kind="change",
            title="Upgrade the switch",
        )
        return services.transition_ticket(actor=agent, ticket=change, action="submit")
    return scene.ticket


@pytest.mark.parametrize(("persona", "action", "outcome"), matrix(ACTION, ACTION_COLUMNS))
def test_who_may_take_which_lifecycle_action(
    world, api, scene, watch, published, persona, action, outcome
):
    ticket = _ticket_ready_for(world, scene, action)
    c = client(api, world, persona)
    payload = (
        {"resolution": "Replaced the battery."}
        if action == "resolve"
        else {"reason": "Still broken"}
    )
    body, _ = attempt(
        watch,
        outcome,
        lambda: c.post(f"tickets/{ticket.ref}/{action}", payload),
        lambda: c.post(f"tickets/{MISSING}/{action}", payload),
        same_as=(ticket.ref, MISSING),
    )
    if outcome == 200:
        assert body["status"] == ACTION_RESULT[action]
        changed = [e for e in published if type(e).__name__ == "TicketStatusChanged"]
        assert [(e.ref, e.action) for e in changed] == [(ticket.ref, action)]


# --- POST /tickets/{ref}/assign, link, merge ---------------------------------------------------

STAFF_ONLY = {
    "anonymous": UNAUTHENTICATED,
    "requester": FORBIDDEN,
    "colleague": FORBIDDEN,
    "outsider": HIDDEN,
    "other_agent": FORBIDDEN,
    "agent": 200,
    "manager": 200,
    "change_manager": 200,
    "admin": 200,
    "superuser": 200,
}


@pytest.mark.parametrize(("persona", "outcome"), matrix(STAFF_ONLY))
def test_only_the_desk_staff_assign(world, api, scene, watch, published, persona, outcome):
    c = client(api, world, persona)
    ref, payload = scene.ticket.ref, {"team": "support", "agent": "agent@acme.test"}
    body, _ = attempt(
        watch,
        outcome,
        lambda: c.post(f"tickets/{ref}/assign", payload),
        lambda: c.post(f"tickets/{MISSING}/assign", payload),
        same_as=(ref, MISSING),
    )
    if outcome == 200:
        assert body["assignee"]["email"] == "agent@acme.test"
        assert body["team"]["slug"] == "support"
        assert [type(e).__name__ for e in published] == ["TicketAssigned"]


@pytest.mark.parametrize(("persona", "outcome"), matrix(STAFF_ONLY))
def test_only_the_desk_staff_link_tickets(world, api, scene, watch, persona, outcome):
    c = client(api, world, persona)
    ref, payload = scene.ticket.ref, {"target": scene.sibling.ref, "kind": "related"}
    body, _ = attempt(
        watch,
        outcome,
        lambda: c.post(f"tickets/{ref}/link", payload),
        lambda: c.post(f"tickets/{MISSING}/link", payload),
        same_as=(ref, MISSING),
    )
    if outcome == 200:
        assert {"kind": "related", "ref": scene.sibling.ref} in [
            {"kind": link["kind"], "ref": link["ref"]} for link in body["links"]
        ]
        assert TicketLink.objects.filter(
            source=scene.ticket, target=scene.sibling, kind="related"
        ).exists()


@pytest.mark.parametrize(("persona", "outcome"), matrix(STAFF_ONLY))
def test_only_the_desk_staff_merge_tickets(world, api, scene, watch, published, persona, outcome):
    c = client(api, world, persona)
    ref, payload = scene.ticket.ref, {"into": scene.sibling.ref}
    body, _ = attempt(
        watch,
        outcome,
        lambda: c.post(f"tickets/{ref}/merge", payload),
        lambda: c.post(f"tickets/{MISSING}/merge", payload),
        same_as=(ref, MISSING),
    )
    if outcome == 200:
        assert body["ref"] == scene.sibling.ref
        scene.ticket.refresh_from_db()
        assert scene.ticket.status == "merged"
        assert "TicketMerged" in [type(e).__name__ for e in published]


# --- comments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "outcome"), matrix(READ))
def test_list_comments_hides_internal_notes_from_requesters(
    world, api, scene, watch, persona, outcome
):
    c = client(api, world, persona)
    ref = scene.ticket.ref
    body, _ = attempt(
        watch,
        outcome,
        lambda: c.get(f"tickets/{ref}/comments"),
        lambda: c.get(f"tickets/{MISSING}/comments"),
        same_as=(ref, MISSING),
    )
    if outcome == 200:
        ids = [comment["id"] for comment in body]
        if persona in DESK_STAFF:
            assert ids == [scene.reply.pk, scene.note.pk]
        else:
            assert ids == [scene.reply.pk]
            assert "swollen" not in str(body)


COMMENT_COLUMNS = ("reply", "internal_note")
COMMENT = {
    "anonymous": (UNAUTHENTICATED, UNAUTHENTICATED),
    "requester": (201, FORBIDDEN),
    "colleague": (201, FORBIDDEN),
    "outsider": (HIDDEN, HIDDEN),
    "other_agent": (201, FORBIDDEN),
    "agent": (201, 201),
    "manager": (201, 201),
    "change_manager": (201, 201),
    "admin": (201, 201),
    "superuser": (201, 201),
}


@pytest.mark.parametrize(("persona", "kind", "outcome"), matrix(COMMENT, COMMENT_COLUMNS))
def test_who_may_reply_or_write_an_internal_note(
    world, api, scene, watch, published, persona, kind, outcome
):
    c = client(api, world, persona)
    ref, payload = scene.ticket.ref, {"body": "Any news?", "public": kind == "reply"}
    body, _ = attempt(
        watch,
        outcome,
        lambda: c.post(f"tickets/{ref}/comments", payload),
        lambda: c.post(f"tickets/{MISSING}/comments", payload),
        same_as=(ref, MISSING),
    )
    if outcome == 201:
        assert body["public"] is (kind == "reply")
        assert Comment.objects.get(pk=body["id"]).author == person(world, persona)
        assert [type(e).__name__ for e in published] == ["TicketCommented"]


# --- attachments -------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "kind", "outcome"), matrix(COMMENT, ("public", "internal")))
def test_who_may_attach_public_or_internal_files(world, api, scene, watch, persona, kind, outcome):
    c = client(api, world, persona)
    ref = scene.ticket.ref

    def send(target):
        data = {
            "file": upload("log.txt", b"error 42"),
            "public": "true" if kind == "public" else "false",
        }
        return c.post(f"tickets/{target}/attachments", data, format="multipart")

    body, _ = attempt(
        watch, outcome, lambda: send(ref), lambda: send(MISSING), same_as=(ref, MISSING)
    )
    if outcome == 201:
        assert [(a["filename"], a["public"]) for a in body] == [("log.txt", kind == "public")]
        assert Attachment.objects.get(pk=body[0]["id"]).file.read() == b"error 42"


DOWNLOAD_COLUMNS = ("public_file", "internal_file")
DOWNLOAD = {
    "anonymous": (UNAUTHENTICATED, UNAUTHENTICATED),
    "requester": (200, HIDDEN),  # an internal file does not exist for the requester
    "colleague": (200, HIDDEN),
    "outsider": (HIDDEN, HIDDEN),
    "other_agent": (200, HIDDEN),
    "agent": (200, 200),
    "manager": (200, 200),
    "change_manager": (200, 200),
    "admin": (200, 200),
    "superuser": (200, 200),
}


@pytest.mark.parametrize(("persona", "which", "outcome"), matrix(DOWNLOAD, DOWNLOAD_COLUMNS))
def test_who_may_download_which_file(world, api, scene, watch, persona, which, outcome):
    c = client(api, world, persona)
    ref, attachment = scene.ticket.ref, getattr(scene, which)
    url = f"tickets/{ref}/attachments/{attachment.pk}/download"
    if persona == "outsider":
        missing, same_as = f"tickets/{MISSING}/attachments/{attachment.pk}/download", (ref, MISSING)
    else:  # the internal file must look like a file that does not exist
        missing, same_as = (
            f"tickets/{ref}/attachments/999999/download",
            (f'"id": {attachment.pk}', '"id": 999999'),
        )
    _, response = attempt(
        watch, outcome, lambda: c.get(url), lambda: c.get(missing), same_as=same_as
    )
    if outcome == 200:
        assert b"".join(response.streaming_content) == attachment.file.open("rb").read()
        assert response["Content-Disposition"].startswith("attachment")


# --- events ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "outcome"), matrix(READ))
def test_events_show_internal_entries_to_staff_only(world, api, scene, watch, persona, outcome):
    c = client(api, world, persona)
    ref = scene.ticket.ref
    body, _ = attempt(
        watch,
        outcome,
        lambda: c.get(f"tickets/{ref}/events"),
        lambda: c.get(f"tickets/{MISSING}/events"),
        same_as=(ref, MISSING),
    )
    if outcome == 200:
        kinds = [event["kind"] for event in body]
        if persona in DESK_STAFF:
            assert kinds == [
                "created",
                "commented",
                "note_added",
                "attachment_added",
                "attachment_added",
            ]
        else:
            assert kinds == ["created", "commented", "attachment_added"]
            assert all(event["public"] for event in body)


# --- people, desks and teams -------------------------------------------------------------------

SIGNED_IN = {p: (UNAUTHENTICATED if p == "anonymous" else 200) for p in READ}


@pytest.mark.parametrize(("persona", "outcome"), matrix(SIGNED_IN))
def test_me_tells_who_is_calling_and_their_roles(world, api, watch, persona, outcome):
    body, _ = attempt(watch, outcome, lambda: client(api, world, persona).get("me"))
    if outcome == 200:
        user = person(world, persona)
        assert body["email"] == user.email
        assert body["auth"] == "token"
        roles = {
            "agent": "agent",
            "manager": "manager",
            "change_manager": "change_manager",
            "admin": "admin",
        }
        if persona in roles:
            assert body["desks"] == [{"desk": "it", "roles": [roles[persona]]}]
        elif persona == "other_agent":
            assert body["desks"] == [{"desk": "hr", "roles": ["agent"]}]
        else:
            assert body["desks"] == []
        assert body["is_superuser"] is (persona == "superuser")


@pytest.mark.parametrize(("persona", "outcome"), matrix(SIGNED_IN))
def test_desks_are_listed_to_everyone_signed_in(world, api, watch, persona, outcome):
    body, _ = attempt(watch, outcome, lambda: client(api, world, persona).get("desks"))
    if outcome == 200:
        assert [desk["slug"] for desk in body] == ["hr", "it"]


@pytest.mark.parametrize(("persona", "outcome"), matrix(SIGNED_IN))
def test_a_desk_categories_are_listed_to_everyone_signed_in(
    world, api, scene, watch, persona, outcome
):
    body, _ = attempt(
        watch, outcome, lambda: client(api, world, persona).get("desks/it/categories")
    )
    if outcome == 200:
        assert [category["slug"] for category in body] == ["hardware"]


TEAMS_SEEN = {
    "requester": [],
    "colleague": [],
    "outsider": [],
    "other_agent": ["payroll"],
    "agent": ["support"],
    "manager": ["support"],
    "change_manager": ["support"],
    "admin": ["support"],
    "superuser": ["support", "payroll"],
}


@pytest.mark.parametrize(("persona", "outcome"), matrix(SIGNED_IN))
def test_teams_are_listed_to_the_staff_of_their_desk(world, api, scene, watch, persona, outcome):
    body, _ = attempt(watch, outcome, lambda: client(api, world, persona).get("teams"))
    if outcome == 200:
        assert sorted(team["slug"] for team in body) == sorted(TEAMS_SEEN[persona])


# --- the checks themselves ---------------------------------------------------------------------


def test_the_unchanged_check_notices_a_change(world, scene, watch):
    with pytest.raises(AssertionError), watch.unchanged():
        services.add_comment(
            actor=Actor.for_user(world.agent), ticket=scene.ticket, body="psst", public=False
        )


def test_the_unchanged_check_notices_a_published_event(world, scene, watch):
    from comptoir.core.events import publish
    from comptoir.tickets.events import TicketUpdated

    event = TicketUpdated(
        ticket_id=scene.ticket.pk, ref=scene.ticket.ref, desk_id=1, actor_label="x", channel="api"
    )
    with pytest.raises(AssertionError), watch.unchanged():
        publish(event)
