from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from comptoir.accounts.roles import Role
from comptoir.desks.models import BusinessCalendar
from comptoir.sla.models import SlaPolicy
from tests.factories import TeamFactory, UserFactory, grant

PARIS = ZoneInfo("Europe/Paris")
OFFICE = [
    {"weekday": day, "start": start, "end": end}
    for day in range(5)
    for start, end in (("09:00", "12:00"), ("13:00", "17:00"))
]


class Clock:
    """The time Comptoir sees (``timezone.now``), set by the test."""

    def __init__(self, monkeypatch):
        self.now = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return moment


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def office(db) -> BusinessCalendar:
    """Paris office hours, Monday to Friday 09:00-12:00 and 13:00-17:00, with Christmas off."""
    calendar = BusinessCalendar.objects.create(
        name="Paris office", time_zone="Europe/Paris", openings=OFFICE
    )
    calendar.holidays.create(date=datetime(2026, 12, 25).date(), name="Noël")
    return calendar


@pytest.fixture
def sla_desk(world, office):
    """The world's IT desk on office hours, a team with a lead, and a standard policy."""
    desk = world.desk
    desk.calendar = office
    desk.save()
    lead = grant(UserFactory(email="lead@acme.test"), desk, Role.AGENT)
    team = TeamFactory(desk=desk, name="Support", slug="support", lead=lead)
    team.members.add(world.agent, lead)
    SlaPolicy.objects.create(
        desk=desk,
        name="Standard",
        targets=[
            {"metric": "first_response", "minutes": 60, "priority": None},
            {"metric": "first_response", "minutes": 30, "priority": 2},
            {"metric": "next_response", "minutes": 120, "priority": None},
            {"metric": "resolution", "minutes": 16 * 60, "priority": None},
            {"metric": "resolution", "minutes": 4 * 60, "priority": 2},
        ],
    )
    return desk, team
