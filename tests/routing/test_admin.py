"""The admin edits routing rules with the same checks as the API, and audits every change."""

from __future__ import annotations

import pytest
from django.test import Client

from comptoir.core.models import AuditEntry
from comptoir.routing.models import RoutingRule
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def _form(desk, team, **changes) -> dict:
    data = {
        "desk": desk.pk,
        "name": "Network",
        "position": "10",
        "is_active": "on",
        "kinds": '["incident"]',
        "priorities": "[]",
        "channels": "[]",
        "team": team.pk,
        "method": "round_robin",
        "follow_the_sun": "on",
    }
    data.update(changes)
    return data


@pytest.fixture
def admin_client(world) -> Client:
    client = Client()
    client.force_login(world.superuser)
    return client


def test_an_administrator_adds_a_rule_and_the_audit_log_records_it(world, floor, admin_client):
    response = admin_client.post("/admin/routing/routingrule/add/", _form(world.desk, floor.paris))

    assert response.status_code == 302, response.content[:3000]
    rule = RoutingRule.objects.get()
    assert rule.team == floor.paris and rule.kinds == ["incident"]
    assert AuditEntry.objects.filter(object_type="routing.routingrule").count() == 1
    assert admin_client.get("/admin/routing/routingrule/").status_code == 200
    assert admin_client.get(f"/admin/routing/routingrule/{rule.pk}/change/").status_code == 200


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"kinds": '["outage"]'}, "Unknown ticket kind"),
        ({"method": "lottery"}, "lottery"),
    ],
)
def test_the_admin_refuses_what_the_api_refuses(world, floor, admin_client, changes, says):
    response = admin_client.post(
        "/admin/routing/routingrule/add/", _form(world.desk, floor.paris, **changes)
    )

    assert response.status_code == 200 and says in response.content.decode()
    assert not RoutingRule.objects.exists()


def test_the_admin_refuses_a_team_of_another_desk(world, floor, admin_client):
    payroll = TeamFactory(desk=world.other_desk, name="Payroll", slug="payroll")

    response = admin_client.post("/admin/routing/routingrule/add/", _form(world.desk, payroll))

    assert response.status_code == 200 and "belongs to another desk" in response.content.decode()
    assert not RoutingRule.objects.exists()
