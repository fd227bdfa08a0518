"""A team's own target (OLA) on the team's own hours, and a service target on the customer's."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from comptoir.core.actor import Actor
from comptoir.desks import calendars
from comptoir.sla.models import SlaClock, SlaPolicy
from comptoir.sla.policies import create_policy, update_policy
from comptoir.tickets import services
from comptoir.tickets.models import EventKind, TicketEvent
from tests.factories import TeamFactory
from tests.sla.conftest import PARIS

pytestmark = pytest.mark.django_db

KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def kolkata(*args) -> datetime:
    return datetime(*args, tzinfo=KOLKATA)


def new_york(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def ola_clocks(ticket) -> dict[str, SlaClock]:
    return {
        c.team.slug: c
        for c in SlaClock.objects.filter(ticket=ticket, scope="ola").select_related("team")
    }


@pytest.fixture
def night_team(world, sla_desk):
    """A team in Kolkata on the night shift, 22:00-06:00 local time from Monday to Friday."""
    desk, _ = sla_desk
    manager = Actor.for_user(world.manager)
    shift = calendars.create_calendar(
        actor=manager,
        name="Kolkata nights",
        time_zone="Asia/Kolkata",
        openings=[{"weekday": day, "start": "22:00", "end": "06:00"} for day in range(5)],
    )
    team = TeamFactory(
        desk=desk, name="Night shift", slug="night", time_zone="Asia/Kolkata", calendar=shift
    )
    team.members.add(world.agent)
    create_policy(
        actor=manager,
        desk=desk,
        name="Team stint",
        scope="ola",
        targets=[{"metric": "resolution", "minutes": 4 * 60}],
    )
    return team


@pytest.fixture
def with_the_night_team(world, sla_desk, night_team, clock, django_capture_on_commit_callbacks):
    """An incident opened on Monday 7 December 2026 at 10:00 in Paris (14:30 in Kolkata) and
    handed to the night team an hour later."""
    desk, _ = sla_desk
    clock.set(paris(2026, 12, 7, 10, 0))
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(
            actor=Actor.for_user(world.requester), desk=desk, kind="incident", title="VPN down"
        )
    assert ola_clocks(ticket) == {}  # no team yet, no team target
    clock.set(paris(2026, 12, 7, 11, 0))
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_ticket(actor=Actor.for_user(world.agent), ticket=ticket, team=night_team)
    return ticket


def move_to(world, ticket, team, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_ticket(
            actor=Actor.for_user(world.agent), ticket=ticket, team=team, agent=world.agent
        )


def test_the_team_clock_runs_on_the_teams_shift(with_the_night_team):
    night = ola_clocks(with_the_night_team)["night"]
    assert night.state == "running"
    assert night.metric == "resolution"
    assert night.calendar.name == "Kolkata nights"
    assert night.time_zone == "Asia/Kolkata"
    # Four hours of a shift that opens at 22:00 in Kolkata: due at 02:00 after midnight.
    assert night.due_at == kolkata(2026, 12, 8, 2, 0)
    # The service target runs on the desk's Paris office hours, unaffected.
    resolution = SlaClock.objects.get(ticket=with_the_night_team, scope="sla", metric="resolution")
    assert resolution.time_zone == "Europe/Paris"
    assert resolution.started_at == paris(2026, 12, 7, 10, 0)


def test_the_team_clock_starts_when_the_team_receives_the_ticket(with_the_night_team):
    night = ola_clocks(with_the_night_team)["night"]
    assert night.started_at == paris(2026, 12, 7, 11, 0)


def test_moving_to_another_team_stops_the_first_teams_clock(
    world, sla_desk, with_the_night_team, clock, django_capture_on_commit_callbacks
):
    _, support = sla_desk
    ticket = with_the_night_team
    moved_at = clock.set(kolkata(2026, 12, 8, 1, 0))  # three hours into the shift
    move_to(world, ticket, support, django_capture_on_commit_callbacks)
    found = ola_clocks(ticket)
    assert set(found) == {"night", "support"}
    night = found["night"]
    assert night.state == "stopped"
    assert night.stopped_at == moved_at
    assert night.breached_at is None
    assert night.next_check_at is None  # nobody will be warned about it any more
    ola_events = [
        e.after.get("team")
        for e in TicketEvent.objects.filter(
            ticket=ticket, kind__in=[EventKind.SLA_MET, EventKind.SLA_BREACHED]
        )
        if e.after.get("scope") == "ola"
    ]
    assert night_team_id(ticket) not in ola_events  # neither met nor breached: handed over


def night_team_id(ticket) -> int:
    return SlaClock.objects.get(ticket=ticket, scope="ola", team__slug="night").team_id


def test_the_ticket_view_does_not_call_a_hand_over_met(
    world, sla_desk, with_the_night_team, clock, django_capture_on_commit_callbacks
):
    from comptoir.sla.selectors import clocks_of

    _, support = sla_desk
    clock.set(kolkata(2026, 12, 8, 1, 0))
    move_to(world, with_the_night_team, support, django_capture_on_commit_callbacks)
    shown = {v.clock.team.slug: v.status for v in clocks_of(with_the_night_team) if v.clock.team}
    assert shown["night"] == "stopped"


def test_the_next_team_gets_its_own_clock_from_the_hand_over(
    world, sla_desk, with_the_night_team, clock, django_capture_on_commit_callbacks
):
    _, support = sla_desk
    ticket = with_the_night_team
    moved_at = clock.set(kolkata(2026, 12, 8, 1, 0))
    move_to(world, ticket, support, django_capture_on_commit_callbacks)
    support_clock = ola_clocks(ticket)["support"]
    assert support_clock.state == "running"
    assert support_clock.time_zone == "Europe/Paris"  # Support has no shift: the desk's hours
    assert support_clock.breached_at is None
    assert support_clock.started_at == moved_at
    # 20:30 in Paris on Monday: four office hours from Tuesday 09:00, lunch excluded.
    assert support_clock.due_at == paris(2026, 12, 8, 14, 0)
    breached = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SLA_BREACHED)
    assert [e.after["scope"] for e in breached] == ["sla"]  # the first response, not Support's


def test_the_stopped_team_clock_keeps_the_time_the_team_had_the_ticket(
    world, sla_desk, with_the_night_team, clock, django_capture_on_commit_callbacks
):
    _, support = sla_desk
    clock.set(kolkata(2026, 12, 8, 1, 0))
    move_to(world, with_the_night_team, support, django_capture_on_commit_callbacks)
    night = ola_clocks(with_the_night_team)["night"]
    assert night.elapsed_seconds == 3 * 3600  # 22:00 to 01:00 in Kolkata
    assert night.due_at is None  # a stopped clock's due_at is its breach, and there was none


def test_the_team_clock_breaches_at_the_end_of_its_shift_hours(with_the_night_team, clock):
    from comptoir.sla.services import sweep

    clock.set(kolkata(2026, 12, 8, 1, 59))
    sweep()
    assert ola_clocks(with_the_night_team)["night"].breached_at is None
    clock.set(kolkata(2026, 12, 8, 2, 1))
    sweep()
    night = ola_clocks(with_the_night_team)["night"]
    assert night.breached_at == kolkata(2026, 12, 8, 2, 0)
    assert night.warned_level == 100


# --- the customer's own hours --------------------------------------------------------------------


@pytest.fixture
def customer_hours(world, sla_desk):
    """Acme works 09:00-17:00 in New York; the desk's standard policy runs on the customer's
    hours."""
    desk, _ = sla_desk
    manager = Actor.for_user(world.manager)
    hours = calendars.create_calendar(
        actor=manager,
        name="Acme New York",
        time_zone="America/New_York",
        openings=[{"weekday": day, "start": "09:00", "end": "17:00"} for day in range(5)],
    )
    acme = world.requester.organisation
    acme.calendar = hours
    acme.save()
    update_policy(
        actor=manager,
        policy=SlaPolicy.objects.get(desk=desk, name="Standard"),
        calendar_source="organisation",
    )
    return hours


def _open(world, desk, requester, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.create_ticket(
            actor=Actor.for_user(requester), desk=desk, kind="incident", title="Cannot log in"
        )


def test_a_policy_on_the_organisations_calendar_runs_on_the_customers_hours(
    world, sla_desk, customer_hours, clock, django_capture_on_commit_callbacks
):
    desk, _ = sla_desk
    clock.set(paris(2026, 12, 7, 16, 30))  # 10:30 in New York
    ticket = _open(world, desk, world.requester, django_capture_on_commit_callbacks)
    found = {c.metric: c for c in SlaClock.objects.filter(ticket=ticket, scope="sla")}
    first = found["first_response"]
    assert first.calendar == customer_hours
    assert first.time_zone == "America/New_York"
    # An hour of New York office time, not Paris's (which would be Tuesday 09:30 in Paris).
    assert first.due_at == new_york(2026, 12, 7, 11, 30)
    # 16 h: 6.5 h on Monday, 8 h on Tuesday, 1.5 h on Wednesday morning in New York.
    assert found["resolution"].due_at == new_york(2026, 12, 9, 10, 30)


def test_a_customer_without_hours_falls_back_to_the_desks(
    world, sla_desk, customer_hours, clock, django_capture_on_commit_callbacks
):
    desk, _ = sla_desk
    clock.set(paris(2026, 12, 7, 16, 30))
    ticket = _open(world, desk, world.outsider, django_capture_on_commit_callbacks)  # Globex
    first = SlaClock.objects.get(ticket=ticket, scope="sla", metric="first_response")
    assert first.calendar.name == "Paris office"
    assert first.due_at == paris(2026, 12, 8, 9, 30)
