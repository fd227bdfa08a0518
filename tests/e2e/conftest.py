"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium) against a live server.

Playwright's own browser downloads are never used. `.ci/run` installs the `chromium` package
when it is missing; without it these tests are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from comptoir.accounts.models import User
from comptoir.accounts.roles import Role
from comptoir.desks.models import Desk
from tests.factories import (
    CategoryFactory,
    DeskFactory,
    OrganisationFactory,
    UserFactory,
    grant,
)

# The live server answers in its own thread while Playwright's event loop runs in this one.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "a long test passphrase"


@pytest.fixture(scope="session")
def chromium():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@dataclass
class People:
    desk: Desk
    requester: User
    agent: User
    outsider: User


def _person(email: str, **kwargs) -> User:
    user = UserFactory(email=email, **kwargs)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def people(transactional_db) -> People:
    acme = OrganisationFactory(name="Acme", slug="acme")
    globex = OrganisationFactory(name="Globex", slug="globex")
    desk = DeskFactory(name="IT", slug="it", prefix="IT")
    CategoryFactory(desk=desk, name="Printers", slug="printers")
    return People(
        desk=desk,
        requester=_person("rita@acme.test", display_name="Rita Requester", organisation=acme),
        agent=grant(
            _person("alex@acme.test", display_name="Alex Agent", organisation=acme),
            desk,
            Role.AGENT,
        ),
        outsider=_person("otto@globex.test", display_name="Otto Outsider", organisation=globex),
    )


class Session:
    """One person's browser window, signed in, that fails the test on a policy violation."""

    def __init__(self, chromium, base_url: str, **context_options):
        self.context = chromium.new_context(base_url=base_url, **context_options)
        self.page = self.context.new_page()
        self.violations: list[str] = []
        self.page.on(
            "console",
            lambda message: (
                self.violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

    def sign_in(self, email: str) -> None:
        page = self.page
        page.goto("/login/")
        page.locator("#id_username").fill(email)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("form button[type=submit]").click()
        page.wait_for_load_state()


@pytest.fixture
def window(chromium, live_server) -> Iterator:
    """``window(**context_options)`` opens a new browser window on the live server."""
    opened: list[Session] = []

    def open_window(**options) -> Session:
        session = Session(chromium, live_server.url, **options)
        opened.append(session)
        return session

    yield open_window
    for session in opened:
        assert session.violations == [], session.violations
        session.context.close()
