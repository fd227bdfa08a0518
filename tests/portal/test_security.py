"""Signing in, resetting a password, and the pages' security headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

import comptoir
from comptoir.core.web import _key
from comptoir.mail.delivery import deliver
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
TEMPLATES = [
    path
    for app in ("core", "portal", "workspace")
    for path in (Path(comptoir.__file__).parent / app / "templates").rglob("*.html")
]


ADDRESSES = ["ada@acme.test", "nobody@acme.test"] + [f"guess{n}@acme.test" for n in range(3)]
IPS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.9.9.9", "10.1.1.1", "127.0.0.1"]


def forget_failures() -> None:
    """Only this file's counters: the cache may be a Redis shared with other runs."""
    cache.delete_many([_key("address", a) for a in ADDRESSES] + [_key("ip", ip) for ip in IPS])


@pytest.fixture(autouse=True)
def _fresh_counters():
    forget_failures()
    yield
    forget_failures()


@pytest.fixture
def person(db):
    user = UserFactory(email="ada@acme.test")
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(client: Client, email: str, password: str, ip: str = "10.0.0.1"):
    return client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_signing_in_with_email_and_password_then_out(person):
    client = Client()
    response = sign_in(client, "ADA@acme.test ", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/start/"
    assert client.get("/start/")["Location"] == "/portal/"  # no desk role: the portal
    assert client.get("/logout/").status_code == 405  # signing out is a POST (CSRF-checked)
    assert client.post("/logout/").status_code == 302
    assert client.get("/portal/")["Location"].startswith("/login/")


def test_a_wrong_password_says_nothing_about_the_address(person):
    known = sign_in(Client(), "ada@acme.test", "nope").content.decode()
    unknown = sign_in(Client(), "nobody@acme.test", "nope").content.decode()
    message = "This email and password do not match an active account."
    assert message in known and message in unknown


def test_five_failures_lock_the_address_for_the_window_even_with_the_right_password(
    person, settings
):
    for _ in range(settings.COMPTOIR_SIGNIN_FAILURES_PER_ADDRESS):
        sign_in(Client(), "ada@acme.test", "wrong", ip="10.0.0.2")
    locked = sign_in(Client(), "ada@acme.test", PASSWORD, ip="10.0.0.3")
    assert locked.status_code == 200
    assert "Too many failed attempts" in locked.content.decode()
    forget_failures()  # the window passed
    assert sign_in(Client(), "ada@acme.test", PASSWORD).status_code == 302


def test_one_ip_guessing_many_addresses_is_stopped(person, settings):
    settings.COMPTOIR_SIGNIN_FAILURES_PER_IP = 3
    for n in range(3):
        sign_in(Client(), f"guess{n}@acme.test", "x", ip="10.9.9.9")
    blocked = sign_in(Client(), "ada@acme.test", PASSWORD, ip="10.9.9.9")
    assert "Too many failed attempts" in blocked.content.decode()
    assert sign_in(Client(), "ada@acme.test", PASSWORD, ip="10.1.1.1").status_code == 302


def test_a_password_reset_answers_alike_for_known_and_unknown_addresses(person):
    known = Client().post("/password-reset/", {"email": "ada@acme.test"})
    deliver()
    sent = list(mail.outbox)
    unknown = Client().post("/password-reset/", {"email": "nobody@acme.test"})
    deliver()
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/password-reset/sent/"
    assert [m.to for m in sent] == [["ada@acme.test"]]
    assert len(mail.outbox) == 1  # nothing for the unknown address
    link = re.search(r"https?://[^/\s]+(/password-reset/\S+/)", sent[0].body)
    assert link is not None
    client = Client()
    form = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a much better secret 42", "new_password2": "a much better secret 42"},
    )
    assert done.status_code == 302
    assert sign_in(Client(), "ada@acme.test", "a much better secret 42").status_code == 302


def test_pages_carry_a_policy_without_inline_code(person):
    client = Client()
    client.force_login(person)
    for url in ("/login/", "/portal/", "/portal/new/"):
        response = client.get(url, follow=True)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_templates_hold_no_inline_script_style_or_handler(path):
    text = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert "<style" not in text
    assert not re.search(r"\sstyle=", text), "style attribute"
    assert not re.search(r"\son[a-z]+=", text), "inline event handler"
    assert "hx-on" not in text


def test_htmx_requests_need_the_csrf_token_the_page_carries(person):
    client = Client(enforce_csrf_checks=True)
    client.force_login(person)
    page = client.get("/portal/").content.decode()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    assert 'name="htmx-config"' in page and '"includeIndicatorStyles":false' in page
    assert client.post("/logout/", headers={"HX-Request": "true"}).status_code == 403
    assert (
        client.post("/logout/", headers={"HX-Request": "true", "X-CSRFToken": token}).status_code
        == 302
    )


def test_the_csrf_script_is_served_with_htmx(person):
    client = Client()
    page = client.get("/login/").content.decode()
    for src in re.findall(r'<script src="([^"]+)"', page):
        assert client.get(src).status_code == 200
    script = (Path(comptoir.__file__).parent / "core/static/comptoir/ui.js").read_text()
    assert "htmx:configRequest" in script and "X-CSRFToken" in script
