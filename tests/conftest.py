from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from comptoir.accounts.models import User
from comptoir.accounts.roles import Role
from comptoir.desks.models import Desk
from tests.factories import (
    DeskFactory,
    OrganisationFactory,
    SiteFactory,
    UserFactory,
    grant,
    token_for,
)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"


@pytest.fixture(autouse=True, scope="session")
def _tasks_run_at_once():
    """Queued jobs run in the test's own process and transaction, as soon as they are queued."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield
    HUEY.immediate = False


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Per-process caches are keyed by row versions that a rolled-back test can hand to the next
    one (same ids, same frozen clock): each test starts without them."""
    from comptoir.core import memo
    from comptoir.desks import calendars
    from comptoir.sla import services as sla_services

    memo.clear_all()
    calendars._schedules.clear()
    sla_services._policies.clear()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The factories give every person a password; the production hasher is slow by design."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class World:
    """Two desks, two organisations, and one person for each row of the permission matrix."""

    desk: Desk
    other_desk: Desk
    requester: User
    colleague: User  # same organisation as the requester
    outsider: User  # a requester of another organisation
    agent: User
    other_agent: User  # agent of the other desk only
    manager: User
    change_manager: User
    admin: User  # desk administrator
    superuser: User


@pytest.fixture
def world(db) -> World:
    acme = OrganisationFactory(name="Acme", slug="acme")
    globex = OrganisationFactory(name="Globex", slug="globex")
    paris = SiteFactory(organisation=acme, name="Paris")
    desk = DeskFactory(name="IT", slug="it", prefix="IT")
    other = DeskFactory(name="HR", slug="hr", prefix="HR")
    return World(
        desk=desk,
        other_desk=other,
        requester=UserFactory(email="requester@acme.test", organisation=acme, site=paris),
        colleague=UserFactory(email="colleague@acme.test", organisation=acme, site=paris),
        outsider=UserFactory(email="outsider@globex.test", organisation=globex),
        agent=grant(UserFactory(email="agent@acme.test", organisation=acme), desk, Role.AGENT),
        other_agent=grant(
            UserFactory(email="hr-agent@acme.test", organisation=acme), other, Role.AGENT
        ),
        manager=grant(
            UserFactory(email="manager@acme.test", organisation=acme), desk, Role.MANAGER
        ),
        change_manager=grant(
            UserFactory(email="cab@acme.test", organisation=acme), desk, Role.CHANGE_MANAGER
        ),
        admin=grant(UserFactory(email="admin@acme.test", organisation=acme), desk, Role.ADMIN),
        superuser=UserFactory(
            email="root@acme.test", organisation=acme, is_superuser=True, is_staff=True
        ),
    )


class ApiClient:
    """A test client speaking JSON with a Bearer token (or none, for anonymous)."""

    def __init__(self, user: User | None):
        self.user = user
        self.client = Client()
        self.headers: dict[str, str] = {}
        if user is not None:
            _, raw = token_for(user)
            self.headers["Authorization"] = f"Bearer {raw}"

    def _call(self, method: str, path: str, data=None, headers=None, **kwargs):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        all_headers = {**self.headers, **(headers or {})}
        call = getattr(self.client, method)
        if method in ("get", "delete"):
            return call(url, data=data, headers=all_headers, **kwargs)
        if "format" in kwargs and kwargs.pop("format") == "multipart":
            return call(url, data=data, headers=all_headers)
        return call(
            url,
            data=data if data is not None else {},
            content_type="application/json",
            headers=all_headers,
        )

    def get(self, path, params=None, **kw):
        return self._call("get", path, params, **kw)

    def post(self, path, data=None, **kw):
        return self._call("post", path, data, **kw)

    def patch(self, path, data=None, **kw):
        return self._call("patch", path, data, **kw)


@pytest.fixture
def api():
    """``api(user)`` gives a client authenticated as ``user`` (``None`` for anonymous)."""
    return ApiClient
