"""The Django admin configures desks behind admin rights, and every change lands in the audit log."""

from __future__ import annotations

import pytest
from django.test import Client

from comptoir.core.models import AuditEntry
from comptoir.desks.models import Desk

pytestmark = pytest.mark.django_db


def _form(desk: Desk, **changes) -> dict:
    data = {
        "name": desk.name,
        "slug": desk.slug,
        "kind": desk.kind,
        "prefix": desk.prefix,
        "description": "",
        "time_zone": desk.time_zone,
        "serves_all_sites": "on",
        "priority_matrix": '{"high": {"high": 1, "medium": 1, "low": 2}, "medium": {"high": 2, "medium": 3, "low": 4}, "low": {"high": 3, "medium": 4, "low": 5}}',
        "custom_fields": "[]",
        "reopen_window_days": "7",
        "email": "",
        "is_active": "on",
        "categories-TOTAL_FORMS": "0",
        "categories-INITIAL_FORMS": "0",
        "categories-MIN_NUM_FORMS": "0",
        "categories-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def _admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_administrator_changes_a_desk_matrix_and_the_audit_log_records_it(world):
    url = f"/admin/desks/desk/{world.desk.pk}/change/"
    response = _admin_client(world.superuser).post(url, _form(world.desk))
    assert response.status_code == 302, response.content[:2000]
    world.desk.refresh_from_db()
    assert world.desk.priority_matrix["high"]["medium"] == 1
    assert world.desk.reopen_window_days == 7
    entry = AuditEntry.objects.get(object_type="desks.desk")
    assert entry.action == "admin_changed"
    assert entry.actor_user == world.superuser
    assert entry.before["reopen_window_days"] == 14 and entry.after["reopen_window_days"] == 7


def test_an_incomplete_priority_matrix_is_refused_and_nothing_changes(world):
    url = f"/admin/desks/desk/{world.desk.pk}/change/"
    before = dict(world.desk.priority_matrix)
    response = _admin_client(world.superuser).post(
        url, _form(world.desk, priority_matrix='{"high": {"high": 1}}')
    )
    assert response.status_code == 200
    assert b"Missing row for impact" in response.content
    world.desk.refresh_from_db()
    assert world.desk.priority_matrix == before
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("persona", ["requester", "agent", "admin"])
def test_people_without_admin_rights_are_sent_to_the_login_page(world, persona):
    # Desk roles, desk administrator included, work through the API; the Django admin is for staff.
    response = _admin_client(getattr(world, persona)).get("/admin/desks/desk/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
