"""A desk with teams in two time zones, agents, and helpers to route and read the timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from comptoir.accounts.models import Team, User
from comptoir.core.actor import Actor
from comptoir.desks.models import BusinessCalendar, Desk
from comptoir.routing import services
from comptoir.routing.models import RoutingRule
from comptoir.tickets.models import EventKind, Ticket, TicketEvent
from tests.conftest import ApiClient
from tests.factories import TeamFactory, agent_on

PARIS = ZoneInfo("Europe/Paris")
#: A Wednesday in June: Paris is UTC+2, Montréal (America/Toronto) UTC-4, six hours behind.
WEDNESDAY = date(2026, 6, 10)
WEEKDAYS_9_TO_5 = [{"weekday": day, "start": "09:00", "end": "17:00"} for day in range(5)]


def paris_time(hour: int, minute: int = 0, day: date = WEDNESDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


@dataclass
class Floor:
    """The IT desk's routing floor: a default team and two follow-the-sun teams."""

    desk: Desk
    support: Team  # the desk's default team, no calendar
    paris: Team  # Paris L1, 09:00-17:00 Paris time
    montreal: Team  # Montréal L1, 09:00-17:00 Montréal time
    ana: User  # Paris L1
    bea: User  # Paris L1
    cyd: User  # Paris L1
    max: User  # Montréal L1


@pytest.fixture
def floor(world) -> Floor:
    desk = world.desk
    paris_hours = BusinessCalendar.objects.create(
        name="Paris office", time_zone="Europe/Paris", openings=WEEKDAYS_9_TO_5
    )
    montreal_hours = BusinessCalendar.objects.create(
        name="Montréal office", time_zone="America/Toronto", openings=WEEKDAYS_9_TO_5
    )
    support = TeamFactory(desk=desk, name="Support", slug="support")
    paris = TeamFactory(
        desk=desk,
        name="Paris L1",
        slug="paris-l1",
        time_zone="Europe/Paris",
        calendar=paris_hours,
        follow_the_sun=True,
    )
    montreal = TeamFactory(
        desk=desk,
        name="Montréal L1",
        slug="montreal-l1",
        time_zone="America/Toronto",
        calendar=montreal_hours,
        follow_the_sun=True,
    )
    desk.default_team = support
    desk.save()
    ana = agent_on(desk, email="ana@acme.test")
    bea = agent_on(desk, email="bea@acme.test")
    cyd = agent_on(desk, email="cyd@acme.test")
    max_ = agent_on(desk, email="max@acme.test", time_zone="America/Toronto")
    paris.members.add(ana, bea, cyd)
    montreal.members.add(max_)
    return Floor(desk, support, paris, montreal, ana, bea, cyd, max_)


def add_rule(desk: Desk, team: Team, name: str, **values) -> RoutingRule:
    return services.create_rule(actor=Actor.system(), desk=desk, name=name, team=team, **values)


def routed_events(ticket: Ticket) -> list[dict]:
    return list(
        TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ROUTED)
        .order_by("id")
        .values_list("after", flat=True)
    )


class RoutingClient(ApiClient):
    """The API test client, with the PUT and DELETE the routing endpoints use."""

    def put(self, path, data=None, **kw):
        return self._call("put", path, data, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)


@pytest.fixture
def client():
    """``client(user)``: a JSON client authenticated as ``user`` (``None`` for anonymous)."""
    return RoutingClient
