"""The SLA capability through the HTTP API: calendars, policies, a ticket's targets, the ticket
list's SLA filters and the notices a breach leaves."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.accounts.roles import Role
from comptoir.core.actor import Actor
from comptoir.desks.models import BusinessCalendar, Holiday
from comptoir.notifications.models import Notification
from comptoir.sla.models import SlaPolicy
from comptoir.sla.services import sweep
from comptoir.tickets import services
from tests.factories import CategoryFactory, OrganisationFactory, TeamFactory, UserFactory, grant
from tests.sla.conftest import OFFICE, PARIS

pytestmark = pytest.mark.django_db

WEEKDAYS_9_TO_5 = [{"weekday": day, "start": "09:00", "end": "17:00"} for day in range(5)]


#: Known bugs, each held by tests marked with it until it is fixed.
def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def delete(client, path: str):
    """A DELETE with the client's token (the JSON client speaks GET, POST and PATCH)."""
    return client.client.delete(f"/api/v1/{path}", headers=client.headers)


def assert_refused(response, status: int = 422, code: str = "validation_error") -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["message"]
    return body


def ics(*events: str) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Acme//Holidays//EN", *events]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def all_day(uid: str, summary: str, first: str, after_last: str) -> str:
    return "\r\n".join(
        [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20261101T000000Z",
            f"SUMMARY:{summary}",
            f"DTSTART;VALUE=DATE:{first}",
            f"DTEND;VALUE=DATE:{after_last}",
            "END:VEVENT",
        ]
    )


def upload(client, calendar_id: int, data: bytes, name: str = "holidays.ics"):
    return client.post(
        f"calendars/{calendar_id}/holidays/import",
        {"file": SimpleUploadedFile(name, data, content_type="text/calendar")},
        format="multipart",
    )


def holidays_of(calendar_id: int) -> dict[str, tuple[str, str]]:
    return {
        h.date.isoformat(): (h.name, h.source)
        for h in Holiday.objects.filter(calendar_id=calendar_id)
    }


# --- calendars -----------------------------------------------------------------------------------


def test_a_manager_keeps_a_calendar_from_creation_to_deletion(world, api):
    manager = api(world.manager)
    created = manager.post(
        "calendars",
        {
            "name": "Lyon office",
            "time_zone": "Europe/Paris",
            "openings": WEEKDAYS_9_TO_5,
            "holidays": ["2026-12-24"],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    calendar_id = body["id"]
    assert body["name"] == "Lyon office"
    assert body["time_zone"] == "Europe/Paris"
    assert body["openings"] == WEEKDAYS_9_TO_5
    assert body["holidays"] == [{"date": "2026-12-24", "name": "", "source": "manual"}]
    assert manager.get(f"calendars/{calendar_id}").json() == body
    assert [c["name"] for c in manager.get("calendars").json()] == ["Lyon office"]

    lunch_break = [
        {"weekday": day, "start": start, "end": end}
        for day in range(5)
        for start, end in (("09:00", "12:00"), ("14:00", "18:00"))
    ]
    patched = manager.patch(
        f"calendars/{calendar_id}", {"name": "Lyon HQ", "openings": lunch_break}
    )
    assert patched.status_code == 200, patched.content
    again = manager.get(f"calendars/{calendar_id}").json()
    assert again["name"] == "Lyon HQ"
    assert again["openings"] == lunch_break
    assert again["time_zone"] == "Europe/Paris"  # a PATCH leaves the fields it does not send
    # The new hours are the ones computed on: 30 minutes before lunch, 30 after 14:00.
    due = manager.get(
        f"calendars/{calendar_id}/compute", {"start": "2026-12-07T11:30:00+01:00", "minutes": 60}
    ).json()["due_at"]
    assert when(due) == paris(2026, 12, 7, 14, 30)

    added = manager.post(
        f"calendars/{calendar_id}/holidays",
        {"holidays": [{"date": "2026-12-31", "name": "New Year's Eve"}, {"date": "2026-12-24"}]},
    )
    assert added.status_code == 200, added.content
    assert added.json() == {"added": 1}  # the 24th was a holiday already
    assert holidays_of(calendar_id) == {
        "2026-12-24": ("", "manual"),
        "2026-12-31": ("New Year's Eve", "manual"),
    }

    removed = delete(manager, f"calendars/{calendar_id}/holidays/2026-12-24")
    assert removed.status_code == 204
    assert "2026-12-24" not in holidays_of(calendar_id)
    assert_refused(delete(manager, f"calendars/{calendar_id}/holidays/2026-12-24"))

    gone = delete(manager, f"calendars/{calendar_id}")
    assert gone.status_code == 204
    assert manager.get(f"calendars/{calendar_id}").status_code == 404
    assert not BusinessCalendar.objects.filter(pk=calendar_id).exists()


def test_setting_a_country_adds_its_public_holidays(world, api):
    manager = api(world.manager)
    calendar_id = manager.post(
        "calendars", {"name": "Paris", "time_zone": "Europe/Paris", "openings": WEEKDAYS_9_TO_5}
    ).json()["id"]
    patched = manager.patch(f"calendars/{calendar_id}", {"holiday_country": "fr"})
    assert patched.status_code == 200, patched.content
    assert patched.json()["holiday_country"] == "FR"
    days = {h["date"]: h for h in patched.json()["holidays"]}
    assert days["2027-07-14"]["source"] == "generated"
    assert days["2027-07-14"]["name"] in {"National Day", "Fête nationale"}
    assert days["2027-12-25"]["source"] == "generated"


def test_public_holidays_are_generated_on_request(world, api):
    manager = api(world.manager)
    calendar_id = manager.post(
        "calendars", {"name": "Paris", "time_zone": "Europe/Paris", "openings": WEEKDAYS_9_TO_5}
    ).json()["id"]
    # Without a country there is nothing to generate from.
    assert_refused(manager.post(f"calendars/{calendar_id}/holidays/generate", {}))
    manager.patch(f"calendars/{calendar_id}", {"holiday_country": "FR"})
    assert delete(manager, f"calendars/{calendar_id}/holidays/2027-07-14").status_code == 204
    assert "2027-07-14" not in holidays_of(calendar_id)

    generated = manager.post(f"calendars/{calendar_id}/holidays/generate", {"years": [2027]})
    assert generated.status_code == 200, generated.content
    assert generated.json() == {"added": 1}  # only the one removed; the others are known
    name, source = holidays_of(calendar_id)["2027-07-14"]
    assert name in {"National Day", "Fête nationale"}
    assert source == "generated"


def test_an_icalendar_file_adds_each_day_of_its_events(world, api):
    manager = api(world.manager)
    calendar_id = manager.post(
        "calendars", {"name": "Lyon", "time_zone": "Europe/Paris", "openings": WEEKDAYS_9_TO_5}
    ).json()["id"]
    data = ics(
        all_day("a@acme.test", "Company day", "20270319", "20270320"),
        all_day("b@acme.test", "Seminar", "20270610", "20270612"),  # the 10th and the 11th
    )
    response = upload(manager, calendar_id, data)
    assert response.status_code == 200, response.content
    assert response.json() == {"added": 3}
    assert holidays_of(calendar_id) == {
        "2027-03-19": ("Company day", "imported"),
        "2027-06-10": ("Seminar", "imported"),
        "2027-06-11": ("Seminar", "imported"),
    }
    assert upload(manager, calendar_id, data).json() == {"added": 0}  # importing again adds none


def test_compute_gives_the_due_time_on_business_hours(world, office, api):
    agent = api(world.agent)
    friday = agent.get(
        f"calendars/{office.pk}/compute",
        {"start": "2026-12-04T16:30:00+01:00", "minutes": 60},
    )
    assert friday.status_code == 200, friday.content
    # 30 minutes on Friday, the other 30 on Monday morning.
    assert when(friday.json()["due_at"]) == paris(2026, 12, 7, 9, 30)

    # Christmas is a holiday of the calendar, then comes the weekend.
    christmas = agent.get(
        f"calendars/{office.pk}/compute",
        {"start": "2026-12-24T16:30:00+01:00", "minutes": 60},
    ).json()
    assert when(christmas["due_at"]) == paris(2026, 12, 28, 9, 30)

    between = agent.get(
        f"calendars/{office.pk}/compute",
        {"start": "2026-12-04T16:30:00+01:00", "end": "2026-12-07T10:00:00+01:00"},
    ).json()
    assert between["business_minutes"] == 90
    assert_refused(agent.get(f"calendars/{office.pk}/compute", {"start": "2026-12-04T16:30"}))


def test_compute_refuses_a_target_of_more_than_a_year(world, office, api):
    assert_refused(
        api(world.agent).get(
            f"calendars/{office.pk}/compute",
            {"start": "2026-12-04T16:30:00+01:00", "minutes": 400 * 24 * 60},
        )
    )


def test_new_hours_apply_to_the_tickets_opened_after_the_change(
    world, api, clock, django_capture_on_commit_callbacks
):
    manager, requester = api(world.manager), api(world.requester)
    clock.set(paris(2026, 12, 7, 7, 0))
    calendar_id = manager.post(
        "calendars", {"name": "Lyon", "time_zone": "Europe/Paris", "openings": WEEKDAYS_9_TO_5}
    ).json()["id"]
    created = manager.post(
        "sla/policies",
        {
            "desk": "it",
            "name": "On Lyon hours",
            "calendar_source": "fixed",
            "calendar": calendar_id,
            "targets": [{"metric": "first_response", "minutes": 60}],
        },
    )
    assert created.status_code == 201, created.content

    def open_ticket(title: str) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = requester.post("tickets", {"desk": "it", "kind": "incident", "title": title})
        assert response.status_code == 201, response.content
        return response.json()["ref"]

    def due_of(ref: str) -> datetime:
        return when(api(world.agent).get(f"tickets/{ref}").json()["sla_due_at"])

    clock.set(paris(2026, 12, 7, 8, 0))
    before = open_ticket("Before")
    assert due_of(before) == paris(2026, 12, 7, 10, 0)  # opens at 09:00, an hour later

    clock.set(paris(2026, 12, 7, 8, 1))
    early = [{"weekday": day, "start": "08:00", "end": "17:00"} for day in range(5)]
    assert manager.patch(f"calendars/{calendar_id}", {"openings": early}).status_code == 200

    clock.set(paris(2026, 12, 7, 8, 2))
    after = open_ticket("After")
    assert due_of(after) == paris(2026, 12, 7, 9, 2)  # open since 08:00 now


def test_a_requester_sees_no_calendar(world, office, api):
    requester = api(world.requester)
    assert_refused(requester.get("calendars"), 404, "not_found")
    assert_refused(requester.get(f"calendars/{office.pk}"), 404, "not_found")
    assert_refused(
        requester.get(f"calendars/{office.pk}/compute", {"start": "2026-12-04", "minutes": 5}),
        404,
        "not_found",
    )
    assert_refused(requester.patch(f"calendars/{office.pk}", {"name": "Mine"}), 404, "not_found")
    assert_refused(delete(requester, f"calendars/{office.pk}"), 404, "not_found")
    # Creating one is refused outright, as for every other piece of desk configuration.
    assert_refused(
        requester.post("calendars", {"name": "Mine", "openings": WEEKDAYS_9_TO_5}),
        403,
        "permission_denied",
    )
    office.refresh_from_db()
    assert office.name == "Paris office"
    assert BusinessCalendar.objects.count() == 1


def test_a_plain_agent_reads_calendars_but_may_not_change_them(world, office, api):
    agent = api(world.agent)
    assert agent.get(f"calendars/{office.pk}").status_code == 200
    before = holidays_of(office.pk)
    assert_refused(
        agent.post("calendars", {"name": "Mine", "openings": WEEKDAYS_9_TO_5}),
        403,
        "permission_denied",
    )
    assert_refused(
        agent.patch(f"calendars/{office.pk}", {"name": "Mine"}), 403, "permission_denied"
    )
    assert_refused(
        agent.post(f"calendars/{office.pk}/holidays", {"holidays": [{"date": "2026-12-31"}]}),
        403,
        "permission_denied",
    )
    assert_refused(
        delete(agent, f"calendars/{office.pk}/holidays/2026-12-25"), 403, "permission_denied"
    )
    assert_refused(delete(agent, f"calendars/{office.pk}"), 403, "permission_denied")
    office.refresh_from_db()
    assert office.name == "Paris office"
    assert holidays_of(office.pk) == before
    assert BusinessCalendar.objects.count() == 1


def test_a_plain_agent_may_not_import_holidays(world, office, api):
    office.holiday_country = "FR"
    office.save()
    before = holidays_of(office.pk)
    data = ics(all_day("x@acme.test", "Off", "20270101", "20270102"))
    assert_refused(upload(api(world.agent), office.pk, data), 403, "permission_denied")
    assert_refused(
        api(world.agent).post(f"calendars/{office.pk}/holidays/generate", {"years": [2027]}),
        403,
        "permission_denied",
    )
    assert holidays_of(office.pk) == before


def test_an_agent_asking_for_public_holidays_is_refused_before_anything_else(world, office):
    from comptoir.core.errors import PermissionDenied
    from comptoir.desks.calendars import generate_holidays

    with pytest.raises(PermissionDenied):
        generate_holidays(actor=Actor.for_user(world.agent), calendar=office, years=[2027])
    assert holidays_of(office.pk) == {"2026-12-25": ("Noël", "manual")}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"openings": []}, "openings", id="no-opening-time"),
        pytest.param(
            {
                "openings": [
                    {"weekday": 0, "start": "09:00", "end": "12:00"},
                    {"weekday": 0, "start": "11:00", "end": "14:00"},
                ]
            },
            "openings",
            id="overlapping-intervals",
        ),
        pytest.param(
            {"time_zone": "Mars/Olympus_Mons"},
            "time_zone",
            id="unknown-time-zone",
        ),
        pytest.param(
            {"openings": [{"weekday": 0, "start": "09:00", "end": "25:00"}]},
            "openings",
            id="hour-25",
        ),
        pytest.param({"holiday_country": "XX"}, "holiday_country", id="unknown-country"),
    ],
)
def test_a_calendar_that_cannot_be_computed_on_is_refused(world, office, api, change, field):
    manager = api(world.manager)
    payload = {"name": "Broken", "time_zone": "Europe/Paris", "openings": WEEKDAYS_9_TO_5}
    body = assert_refused(manager.post("calendars", {**payload, **change}))
    assert field is None or body["details"]["field"] == field
    assert not BusinessCalendar.objects.filter(name="Broken").exists()

    body = assert_refused(manager.patch(f"calendars/{office.pk}", change))
    assert field is None or body["details"]["field"] == field
    office.refresh_from_db()
    assert (office.time_zone, office.openings, office.holiday_country) == (
        "Europe/Paris",
        OFFICE,
        "",
    )


def test_the_overlap_is_named_in_the_refusal(world, api):
    body = assert_refused(
        api(world.manager).post(
            "calendars",
            {
                "name": "Broken",
                "openings": [
                    {"weekday": 0, "start": "09:00", "end": "12:00"},
                    {"weekday": 0, "start": "11:00", "end": "14:00"},
                ],
            },
        )
    )
    assert "overlaps" in body["message"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"this is not a calendar\r\n", id="does-not-parse"),
        pytest.param(b"", id="empty-file"),
        pytest.param(ics(), id="calendar-without-events"),
    ],
)
def test_a_holiday_file_without_holidays_is_refused(world, office, api, data):
    before = holidays_of(office.pk)
    body = assert_refused(upload(api(world.manager), office.pk, data))
    assert body["details"].get("field") == "file"
    assert holidays_of(office.pk) == before


def test_a_calendar_a_desk_uses_cannot_be_deleted(world, office, api):
    world.desk.calendar = office
    world.desk.save()
    body = assert_refused(delete(api(world.manager), f"calendars/{office.pk}"))
    assert "in use" in body["message"]
    assert BusinessCalendar.objects.filter(pk=office.pk).exists()
    assert holidays_of(office.pk) == {"2026-12-25": ("Noël", "manual")}


# --- SLA policies --------------------------------------------------------------------------------

GOLD = {
    "desk": "it",
    "name": "Gold",
    "priorities": [1, 2],
    "targets": [
        {"metric": "first_response", "minutes": 15, "priority": 1},
        {"metric": "first_response", "minutes": 30},
        {"metric": "resolution", "minutes": 240, "priority": 1},
        {"metric": "resolution", "minutes": 480},
    ],
}


def test_a_manager_defines_changes_and_removes_a_policy(world, api):
    manager = api(world.manager)
    created = manager.post("sla/policies", GOLD)
    assert created.status_code == 201, created.content
    body = created.json()
    policy_id = body["id"]
    assert body["desk"] == "it"
    assert body["scope"] == "sla"
    assert body["targets"] == [
        {"metric": "first_response", "minutes": 15, "priority": 1},
        {"metric": "first_response", "minutes": 30, "priority": None},
        {"metric": "resolution", "minutes": 240, "priority": 1},
        {"metric": "resolution", "minutes": 480, "priority": None},
    ]
    assert body["pause_states"] == ["waiting_customer", "waiting_vendor", "waiting"]
    assert [p["name"] for p in manager.get("sla/policies", {"desk": "it"}).json()] == ["Gold"]
    assert manager.get(f"sla/policies/{policy_id}").json() == body

    patched = manager.patch(
        f"sla/policies/{policy_id}",
        {"targets": [{"metric": "resolution", "minutes": 120}], "warn_at": [50]},
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["targets"] == [{"metric": "resolution", "minutes": 120, "priority": None}]
    assert patched.json()["warn_at"] == [50]
    assert patched.json()["priorities"] == [1, 2]  # left as it was

    assert delete(manager, f"sla/policies/{policy_id}").status_code == 204
    assert manager.get("sla/policies", {"desk": "it"}).json() == []
    assert not SlaPolicy.objects.exists()


def test_an_agent_reads_the_policies_but_may_not_change_them(world, api):
    policy_id = api(world.manager).post("sla/policies", GOLD).json()["id"]
    agent = api(world.agent)
    assert [p["name"] for p in agent.get("sla/policies", {"desk": "it"}).json()] == ["Gold"]
    assert agent.get(f"sla/policies/{policy_id}").json()["name"] == "Gold"
    assert_refused(agent.post("sla/policies", {**GOLD, "name": "Mine"}), 403, "permission_denied")
    assert_refused(
        agent.patch(f"sla/policies/{policy_id}", {"name": "Mine"}), 403, "permission_denied"
    )
    assert_refused(delete(agent, f"sla/policies/{policy_id}"), 403, "permission_denied")
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == ["Gold"]


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code == 200, response.content
    return len(queries)


def test_listing_policies_costs_the_same_for_one_as_for_five(world, api):
    manager = api(world.manager)
    TeamFactory(desk=world.desk, slug="support")
    network = CategoryFactory(desk=world.desk, slug="network")

    def add(n: int) -> None:
        created = manager.post(
            "sla/policies",
            {
                **GOLD,
                "name": f"Gold {n}",
                "position": n,
                "categories": [network.pk],
                "organisations": ["acme"],
                "teams": ["support"],
            },
        )
        assert created.status_code == 201, created.content

    add(1)
    one = count_queries(lambda: manager.get("sla/policies", {"desk": "it"}))
    for n in range(2, 6):
        add(n)
    five = count_queries(lambda: manager.get("sla/policies", {"desk": "it"}))
    assert len(manager.get("sla/policies", {"desk": "it"}).json()) == 5
    assert five == one


@pytest.mark.parametrize("who", ["requester", "other_agent"])
def test_people_outside_the_desk_see_no_policy(world, api, who):
    policy_id = api(world.manager).post("sla/policies", GOLD).json()["id"]
    outside = api(getattr(world, who))
    # The desk is one they may open tickets on, so it resolves; its policies are not theirs.
    listed = outside.get("sla/policies", {"desk": "it"})
    assert listed.status_code == 200
    assert listed.json() == []
    assert_refused(outside.get(f"sla/policies/{policy_id}"), 404, "not_found")
    assert_refused(outside.patch(f"sla/policies/{policy_id}", {"name": "Mine"}), 404, "not_found")
    assert_refused(delete(outside, f"sla/policies/{policy_id}"), 404, "not_found")
    assert_refused(outside.post("sla/policies", {**GOLD, "name": "Mine"}), 403, "permission_denied")
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == ["Gold"]


def _other_desks_category(world) -> dict:
    return {"categories": [CategoryFactory(desk=world.other_desk, slug="payroll").pk]}


def _vip_only_without_vip(world) -> dict:
    OrganisationFactory(name="Initech", slug="initech", is_vip=False)
    return {"vip_only": True, "organisations": ["globex", "initech"]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(lambda w: {"targets": []}, "targets", id="no-target"),
        pytest.param(
            lambda w: {"targets": [{"metric": "resolution", "minutes": -30}]},
            "targets",
            id="negative-minutes",
        ),
        pytest.param(
            lambda w: {"targets": [{"metric": "resolution", "minutes": 0}]},
            "targets",
            id="zero-minutes",
        ),
        pytest.param(
            lambda w: {"targets": [{"metric": "answer_time", "minutes": 30}]},
            "targets",
            id="unknown-metric",
        ),
        pytest.param(
            lambda w: {"scope": "ola", "targets": [{"metric": "first_response", "minutes": 30}]},
            "targets",
            id="ola-first-response",
        ),
        pytest.param(
            lambda w: {"pause_states": ["waiting_customer", "resolved"]},
            "pause_states",
            id="paused-when-resolved",
        ),
        pytest.param(_other_desks_category, "categories", id="other-desks-category"),
        pytest.param(_vip_only_without_vip, "conditions", id="vip-only-without-vip"),
        pytest.param(lambda w: {"calendar_source": "fixed"}, "calendar", id="fixed-no-calendar"),
    ],
)
def test_a_policy_that_cannot_work_is_refused(world, api, change, field):
    payload = {**GOLD, **change(world)}
    body = assert_refused(api(world.manager).post("sla/policies", payload))
    assert body["details"]["field"] == field
    assert not SlaPolicy.objects.exists()


def test_a_policy_after_a_catch_all_is_refused_naming_both(world, api):
    manager = api(world.manager)
    general = {
        "desk": "it",
        "name": "Everything",
        "position": 10,
        "targets": [{"metric": "resolution", "minutes": 960}],
    }
    assert manager.post("sla/policies", general).status_code == 201
    body = assert_refused(manager.post("sla/policies", {**GOLD, "position": 20}))
    assert "'Gold'" in body["message"]
    assert "'Everything'" in body["message"]
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == ["Everything"]
    # Placed before the general policy, the same policy is reachable, and accepted.
    assert manager.post("sla/policies", {**GOLD, "position": 5}).status_code == 201


def test_a_second_policy_of_the_same_name_is_refused(world, api):
    manager = api(world.manager)
    first = manager.post("sla/policies", GOLD).json()
    body = assert_refused(
        manager.post("sla/policies", {**GOLD, "name": "gold", "priorities": [3], "position": 5})
    )
    assert body["details"]["field"] == "name"
    assert [p["id"] for p in manager.get("sla/policies", {"desk": "it"}).json()] == [first["id"]]


def test_a_team_on_a_foreign_desk_is_refused_as_the_breach_team(world, api):
    TeamFactory(desk=world.other_desk, slug="payroll")
    body = assert_refused(
        api(world.manager).post("sla/policies", {**GOLD, "breach_reassign_team": "payroll"})
    )
    assert body["details"]["field"] == "teams"
    assert not SlaPolicy.objects.exists()


def test_a_policy_on_a_fixed_calendar_names_it(world, office, api):
    created = api(world.manager).post(
        "sla/policies", {**GOLD, "calendar_source": "fixed", "calendar": "Paris office"}
    )
    assert created.status_code == 201, created.content
    assert created.json()["calendar"] == "Paris office"


# --- a ticket's targets --------------------------------------------------------------------------


@pytest.fixture
def two_tickets(world, sla_desk, clock, django_capture_on_commit_callbacks):
    """Two P3 incidents opened on Friday 4 December 2026 at 16:30 in Paris, given to Support,
    whose own (OLA) target is two business hours; on Monday at 09:10 the first is answered and
    waits for the customer, the second is left alone."""
    desk, team = sla_desk
    manager = Actor.for_user(world.manager)
    from comptoir.sla.policies import create_policy

    create_policy(
        actor=manager,
        desk=desk,
        name="Support team",
        scope="ola",
        teams=[team.pk],
        targets=[{"metric": "resolution", "minutes": 120}],
    )
    clock.set(paris(2026, 12, 4, 16, 30))
    tickets = []
    for title in ("Printer jammed", "Screen flickers"):
        with django_capture_on_commit_callbacks(execute=True):
            ticket = services.create_ticket(
                actor=Actor.for_user(world.requester), desk=desk, kind="incident", title=title
            )
        with django_capture_on_commit_callbacks(execute=True):
            services.assign_ticket(
                actor=Actor.for_user(world.agent), ticket=ticket, team=team, agent=world.agent
            )
        tickets.append(ticket)
    answered, ignored = tickets
    clock.set(paris(2026, 12, 7, 9, 10))
    agent = Actor.for_user(world.agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_comment(actor=agent, ticket=answered, body="Which printer?")
    with django_capture_on_commit_callbacks(execute=True):
        services.transition_ticket(actor=agent, ticket=answered, action="wait_for_customer")
    return answered, ignored


def by_target(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["scope"], r["metric"]): r for r in rows}


def test_a_ticket_shows_each_target_and_its_state(world, two_tickets, clock, api):
    answered, ignored = two_tickets
    clock.set(paris(2026, 12, 7, 9, 45))
    world.agent.time_zone = "America/New_York"
    world.agent.save()
    agent = api(world.agent)

    response = agent.get(f"tickets/{answered.ref}/sla")
    assert response.status_code == 200, response.content
    rows = by_target(response.json())
    assert set(rows) == {("sla", "first_response"), ("sla", "resolution"), ("ola", "resolution")}
    assert rows["sla", "first_response"]["status"] == "met"
    assert rows["sla", "first_response"]["business_seconds_left"] is None
    assert rows["sla", "resolution"]["status"] == "paused"
    assert rows["sla", "resolution"]["elapsed_seconds"] == 40 * 60  # 30 Friday, 10 Monday
    assert rows["sla", "resolution"]["business_seconds_left"] == (16 * 60 - 40) * 60
    assert rows["ola", "resolution"]["status"] == "paused"
    assert rows["ola", "resolution"]["team"] == "Support"

    rows = by_target(agent.get(f"tickets/{ignored.ref}/sla").json())
    first = rows["sla", "first_response"]
    assert first["status"] == "breached"
    assert when(first["due_at"]) == paris(2026, 12, 7, 9, 30)
    # One business hour was due; 75 minutes have gone (30 on Friday, 45 this morning).
    assert first["business_seconds_left"] == -15 * 60
    resolution = rows["sla", "resolution"]
    assert resolution["status"] == "running"
    assert resolution["calendar"] == "Paris office"
    # Due on Wednesday 10:30 in Paris: 04:30 for an agent in New York.
    assert resolution["due_local"] == "2026-12-09T04:30:00-05:00"
    assert when(resolution["due_at"]) == paris(2026, 12, 9, 10, 30)
    assert resolution["business_seconds_left"] == (16 * 60 - 75) * 60

    tokyo = by_target(agent.get(f"tickets/{ignored.ref}/sla", {"tz": "Asia/Tokyo"}).json())
    assert tokyo["sla", "resolution"]["due_local"] == "2026-12-09T18:30:00+09:00"


def test_the_requester_sees_the_service_targets_and_never_the_teams(world, two_tickets, clock, api):
    answered, _ = two_tickets
    clock.set(paris(2026, 12, 7, 9, 45))
    rows = api(world.requester).get(f"tickets/{answered.ref}/sla").json()
    assert {(r["scope"], r["metric"]) for r in rows} == {
        ("sla", "first_response"),
        ("sla", "resolution"),
    }
    staff_view = api(world.agent).get(f"tickets/{answered.ref}/sla").json()
    assert ("ola", "resolution") in by_target(staff_view)  # it exists; only staff see it


def test_a_colleague_who_sees_the_ticket_sees_its_service_targets(world, two_tickets, clock, api):
    answered, _ = two_tickets
    clock.set(paris(2026, 12, 7, 9, 45))
    rows = api(world.colleague).get(f"tickets/{answered.ref}/sla").json()
    assert sorted(r["metric"] for r in rows) == ["first_response", "resolution"]
    assert {r["scope"] for r in rows} == {"sla"}


@pytest.mark.parametrize("who", ["outsider", "agent_of_another_desk"])
def test_who_cannot_see_the_ticket_cannot_see_its_targets(world, two_tickets, api, who):
    answered, _ = two_tickets
    if who == "outsider":
        person = world.outsider
    else:
        person = grant(
            UserFactory(organisation=world.outsider.organisation), world.other_desk, Role.AGENT
        )
    client = api(person)
    assert_refused(client.get(f"tickets/{answered.ref}"), 404, "not_found")
    assert_refused(client.get(f"tickets/{answered.ref}/sla"), 404, "not_found")


def test_an_unknown_viewer_time_zone_is_refused(world, two_tickets, api):
    answered, _ = two_tickets
    body = assert_refused(
        api(world.agent).get(f"tickets/{answered.ref}/sla", {"tz": "Nowhere/City"})
    )
    assert body["details"] == {"field": "tz"}


# --- the ticket list -----------------------------------------------------------------------------


@pytest.fixture
def six_tickets(world, sla_desk, clock, django_capture_on_commit_callbacks):
    """Opened five minutes apart from Monday 09:00, alternately P3 (an hour to answer) and P2
    (half an hour), so the order they fall due in is not the order they came in; and a seventh,
    resolved at once, with nothing left to fall due."""
    desk, _ = sla_desk
    refs = []
    for n in range(6):
        clock.set(paris(2026, 12, 7, 9, 5 * n))
        level = "high" if n % 2 else "medium"
        with django_capture_on_commit_callbacks(execute=True):
            ticket = services.create_ticket(
                actor=Actor.for_user(world.requester),
                desk=desk,
                kind="incident",
                title=f"Ticket {n}",
                impact=level,
            )
        refs.append(ticket.ref)
    clock.set(paris(2026, 12, 7, 9, 30))
    with django_capture_on_commit_callbacks(execute=True):
        done = services.create_ticket(
            actor=Actor.for_user(world.requester), desk=desk, kind="incident", title="Done"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_ticket(actor=Actor.for_user(world.agent), ticket=done, resolution="Ok")
    t0, t1, t2, t3, t4, t5 = refs
    # First responses due: t1 09:35, t3 09:45, t5 09:55, t0 10:00, t2 10:10, t4 10:20.
    return {"by_due": [t1, t3, t5, t0, t2, t4], "done": done.ref}


def refs_of(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [t["ref"] for t in response.json()["items"]]


def test_sorting_by_due_pages_through_running_targets_soonest_first(world, six_tickets, api):
    agent = api(world.agent)
    seen: list[list[str]] = []
    cursor = None
    while True:
        params = {"desk": "it", "sort": "due", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = agent.get("tickets", params)
        seen.append(refs_of(response))
        cursor = response.json()["next_cursor"]
        if not cursor:
            break
    by_due = six_tickets["by_due"]
    assert seen == [by_due[0:2], by_due[2:4], by_due[4:6]]


def test_due_before_lists_the_tickets_falling_due_first(world, six_tickets, api):
    due = refs_of(
        api(world.agent).get("tickets", {"due_before": "2026-12-07T08:50:00Z", "sort": "due"})
    )
    assert due == six_tickets["by_due"][:2]  # 09:35 and 09:45 in Paris
    naive = refs_of(api(world.agent).get("tickets", {"due_before": "2026-12-07T08:50:00"}))
    assert sorted(naive) == sorted(due)  # a time without an offset is UTC


def test_the_breached_filter_and_the_ticket_show_a_missed_target(world, six_tickets, clock, api):
    clock.set(paris(2026, 12, 7, 9, 50))
    sweep()
    agent = api(world.agent)
    breached = refs_of(agent.get("tickets", {"desk": "it", "breached": "true"}))
    assert sorted(breached) == sorted(six_tickets["by_due"][:2])
    others = refs_of(agent.get("tickets", {"desk": "it", "breached": "false"}))
    assert sorted(others) == sorted([*six_tickets["by_due"][2:], six_tickets["done"]])

    first, third = six_tickets["by_due"][0], six_tickets["by_due"][2]
    detail = agent.get(f"tickets/{first}").json()
    assert detail["sla_breached"] is True
    assert when(detail["sla_due_at"]) == paris(2026, 12, 7, 9, 35)
    detail = agent.get(f"tickets/{third}").json()
    assert detail["sla_breached"] is False
    assert when(detail["sla_due_at"]) == paris(2026, 12, 7, 9, 55)
    assert agent.get(f"tickets/{six_tickets['done']}").json()["sla_due_at"] is None


# --- notifications -------------------------------------------------------------------------------


@pytest.fixture
def breached_ticket(world, sla_desk, clock, django_capture_on_commit_callbacks):
    desk, team = sla_desk
    clock.set(paris(2026, 12, 4, 16, 30))
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(
            actor=Actor.for_user(world.requester), desk=desk, kind="incident", title="No mail"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_ticket(
            actor=Actor.for_user(world.agent), ticket=ticket, team=team, agent=world.agent
        )
    clock.set(paris(2026, 12, 7, 9, 31))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep().breaches == 1
    return ticket


def test_the_assignee_is_told_of_a_breach_once(world, breached_ticket, api):
    agent = api(world.agent)
    assert sweep().breaches == 0  # a second sweep tells nobody again
    notices = agent.get("notifications").json()
    assert len(notices) == 1
    notice = notices[0]
    assert notice["kind"] == "sla_breached"
    assert notice["ticket"] == breached_ticket.ref
    assert breached_ticket.ref in notice["title"]
    assert notice["read_at"] is None
    assert api(world.requester).get("notifications").json() == []


def test_notices_are_marked_read_by_their_recipient_only(world, breached_ticket, api):
    agent = api(world.agent)
    mine = agent.get("notifications", {"unread": "true"}).json()
    assert len(mine) == 1
    lead = Notification.objects.get(recipient__email="lead@acme.test")

    refused = agent.post("notifications/read", {"ids": [lead.pk]})
    assert_refused(refused, 404, "not_found")
    lead.refresh_from_db()
    assert lead.read_at is None
    assert len(agent.get("notifications", {"unread": "true"}).json()) == 1

    marked = agent.post("notifications/read", {"ids": [mine[0]["id"]]})
    assert marked.status_code == 200, marked.content
    assert marked.json() == {"marked": 1}
    assert agent.get("notifications", {"unread": "true"}).json() == []
    everything = agent.get("notifications").json()
    assert [n["id"] for n in everything] == [mine[0]["id"]]
    assert everything[0]["read_at"] is not None
    lead.refresh_from_db()
    assert lead.read_at is None  # the lead's own notice is untouched


def test_listing_notices_costs_the_same_for_one_as_for_five(world, api):
    from comptoir.notifications.services import notify
    from tests.factories import make_ticket

    agent = api(world.agent)
    agent.get("notifications")  # the token's first use is recorded once

    def add(n: int) -> None:
        ticket = make_ticket(desk=world.desk, requester=world.requester, title=f"#{n}")
        notify(recipients=[world.agent], kind="sla_warning", key=f"k{n}", title="!", ticket=ticket)

    add(1)
    one = count_queries(lambda: agent.get("notifications"))
    for n in range(2, 6):
        add(n)
    five = count_queries(lambda: agent.get("notifications"))
    assert len(agent.get("notifications").json()) == 5
    assert five == one


def test_a_notice_names_the_missed_target(world, breached_ticket, api):
    notice = api(world.manager).get("notifications").json()[0]
    assert notice["data"]["metric"] == "first_response"
    assert when(notice["data"]["due_at"]) == paris(2026, 12, 7, 9, 30)
    assert notice["data"]["level"] == 100
