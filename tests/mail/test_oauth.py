"""Renewing a mailbox's OAuth2 access token against a real token endpoint: an ``http.server``
on 127.0.0.1 started by each test, answering as Microsoft's and Google's endpoints do (and as
they do when things go wrong: a dead refresh token, a broken or slow answer).

The login with the renewed token, against Dovecot, is in ``test_imap.py``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from comptoir.mail import oauth
from comptoir.mail.models import Mailbox

REFRESH, SECRET = "rt-first.refresh_token", "client-s3cret~value"


# --- a token endpoint -------------------------------------------------------------------------


@dataclass
class Answer:
    """One answer of the endpoint: a status and a body (a dict is sent as JSON); ``delay``
    seconds before the headers, or ``trickle`` seconds between the bytes of the body."""

    status: int = 200
    body: dict | list | bytes | None = None
    delay: float = 0
    trickle: float = 0
    headers: dict[str, str] = field(default_factory=dict)


class TokenEndpoint:
    """A real OAuth2 token endpoint on 127.0.0.1. Each POST is recorded (its form); it answers
    with the next scripted ``Answer``, or else issues a new access token (``at-1``, ``at-2``…)
    valid an hour. ``on_issue`` is told of every token issued."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.answers: list[Answer] = []
        self.issued: list[str] = []
        self.on_issue: Callable[[str], None] = lambda token: None
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                endpoint.requests.append({k: v[0] for k, v in form.items()})
                answer = endpoint.answers.pop(0) if endpoint.answers else endpoint.issue()
                time.sleep(answer.delay)
                body = answer.body
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    if answer.trickle:
                        for byte in raw:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(answer.trickle)
                    else:
                        self.wfile.write(raw)
                except OSError:  # the client gave up first
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/token"

    def issue(self, **extra: object) -> Answer:
        token = f"at-{len(self.issued) + 1}"
        self.issued.append(token)
        self.on_issue(token)
        return Answer(
            body={"token_type": "Bearer", "expires_in": 3600, "access_token": token, **extra}
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    server = TokenEndpoint()
    yield server
    server.close()


def oauth_box(world, endpoint: TokenEndpoint, **values: object) -> Mailbox:
    """A mailbox whose token is renewed at ``endpoint`` (provider "other")."""
    fields: dict[str, object] = {
        "desk": world.desk,
        "address": "it@acme.test",
        "imap_host": "imap.example.com",
        "oauth_provider": "other",
        "oauth_token_url": endpoint.url,
        "oauth_client_id": "client-id",
        "oauth_client_secret": SECRET,
        "oauth_refresh_token": REFRESH,
        **values,
    }
    return Mailbox.objects.create(**fields)


def stored(box: Mailbox) -> Mailbox:
    return Mailbox.objects.get(pk=box.pk)


# --- renewing ---------------------------------------------------------------------------------

pytestmark = pytest.mark.django_db


def test_a_renewal_stores_the_new_access_token_and_when_it_runs_out(world, endpoint):
    box = oauth_box(world, endpoint, oauth_scope="imap offline_access")
    before = timezone.now()

    assert oauth.refresh(box) == "at-1"

    row = stored(box)
    assert row.imap_oauth_token == "at-1"
    assert before + timedelta(seconds=3590) < row.oauth_token_expires_at
    assert row.oauth_token_expires_at < timezone.now() + timedelta(seconds=3601)
    assert row.oauth_refresh_token == REFRESH  # not rotated: kept
    assert endpoint.requests == [
        {
            "grant_type": "refresh_token",
            "refresh_token": REFRESH,
            "client_id": "client-id",
            "client_secret": SECRET,
            "scope": "imap offline_access",
        }
    ]
    assert (box.imap_oauth_token, box.oauth_token_expires_at) == (
        "at-1",
        row.oauth_token_expires_at,
    )


def test_a_rotated_refresh_token_replaces_the_old_one_and_is_the_one_sent_next(world, endpoint):
    box = oauth_box(world, endpoint)
    endpoint.answers.append(endpoint.issue(refresh_token="rt-second"))

    oauth.refresh(box)
    assert stored(box).oauth_refresh_token == "rt-second"

    oauth.refresh(stored(box))
    assert [r["refresh_token"] for r in endpoint.requests] == [REFRESH, "rt-second"]
    assert stored(box).imap_oauth_token == "at-2"


def test_a_token_is_due_for_renewal_when_missing_or_running_out_within_five_minutes(world):
    now = timezone.now()
    box = Mailbox(desk=world.desk, address="it@acme.test", oauth_provider="google")
    assert oauth.due(box, now=now)  # no token yet
    box.imap_oauth_token = "at-1"
    box.oauth_token_expires_at = now + timedelta(minutes=4)
    assert oauth.due(box, now=now)
    box.oauth_token_expires_at = now + timedelta(minutes=6)
    assert not oauth.due(box, now=now)
    box.oauth_token_expires_at = None  # lifetime not given: used until the server refuses it
    assert not oauth.due(box, now=now)
    box.oauth_provider = ""  # a token set by hand is never renewed
    box.imap_oauth_token = ""
    assert not oauth.due(box, now=now)


def test_an_answer_without_expires_in_leaves_the_expiry_unknown(world, endpoint):
    box = oauth_box(world, endpoint)
    endpoint.answers.append(Answer(body={"access_token": "at-x", "token_type": "bearer"}))
    oauth.refresh(box)
    row = stored(box)
    assert (row.imap_oauth_token, row.oauth_token_expires_at) == ("at-x", None)


def test_expires_in_as_a_string_is_read(world, endpoint):
    box = oauth_box(world, endpoint)
    endpoint.answers.append(
        Answer(body={"access_token": "at-x", "token_type": "Bearer", "expires_in": "3599"})
    )
    oauth.refresh(box)
    left = stored(box).oauth_token_expires_at - timezone.now()
    assert timedelta(minutes=59) < left <= timedelta(seconds=3599)


def test_without_a_refresh_token_the_client_credentials_are_used(world, endpoint):
    box = oauth_box(world, endpoint, oauth_refresh_token="", oauth_scope="api://imap/.default")
    oauth.refresh(box)
    assert endpoint.requests == [
        {
            "grant_type": "client_credentials",
            "client_id": "client-id",
            "client_secret": SECRET,
            "scope": "api://imap/.default",
        }
    ]
    assert stored(box).imap_oauth_token == "at-1"


# --- refusals and broken answers ----------------------------------------------------------------


def test_a_dead_refresh_token_says_to_consent_again_and_changes_nothing(world, endpoint):
    box = oauth_box(world, endpoint, imap_oauth_token="at-old")
    endpoint.answers.append(
        Answer(
            400,
            {
                "error": "invalid_grant",
                "error_description": "AADSTS70008: The provided authorization code or refresh "
                "token has expired due to inactivity.\r\nTrace ID: 1234",
            },
        )
    )
    with pytest.raises(oauth.RefreshFailed) as failed:
        oauth.refresh(box)

    assert failed.value.error == "invalid_grant"
    message = str(failed.value)
    assert message.startswith("The provider refused the refresh token (invalid_grant: AADSTS70008")
    assert "sign in to the provider again to consent" in message
    assert "\n" not in message and "\r" not in message
    row = stored(box)
    assert (row.imap_oauth_token, row.oauth_refresh_token) == ("at-old", REFRESH)


def test_a_refused_client_secret_says_so(world, endpoint):
    box = oauth_box(world, endpoint)
    endpoint.answers.append(Answer(401, {"error": "invalid_client"}))
    with pytest.raises(
        oauth.RefreshFailed, match=r"refused the client ID or secret \(invalid_client"
    ):
        oauth.refresh(box)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (Answer(200, b"<html>Sign in</html>"), "not a JSON object"),
        (Answer(200, ["at-1"]), "not a JSON object"),
        (Answer(200, {"token_type": "Bearer"}), "no usable access token"),
        (Answer(200, {"access_token": ""}), "no usable access token"),
        (Answer(200, {"access_token": 42}), "no usable access token"),
        (Answer(200, {"access_token": "a\x01auth=Bearer x"}), "no usable access token"),
        (Answer(200, {"access_token": "two words"}), "no usable access token"),
        (Answer(200, {"access_token": "at", "token_type": "mac"}), "not a bearer token"),
        (Answer(200, {"access_token": "at", "expires_in": "soon"}), "unreadable expires_in"),
        (Answer(200, {"access_token": "at", "expires_in": -5}), "impossible expires_in"),
        (Answer(200, {"access_token": "at", "expires_in": True}), "unreadable expires_in"),
        (Answer(200, {"access_token": "at", "refresh_token": ["x"]}), "unusable refresh token"),
        (Answer(200, b"{" * 100_000), "not a JSON object"),
        (Answer(200, b"[" * 60_000), "not a JSON object"),
        (Answer(500, b"<h1>Internal error</h1>"), "HTTP 500 without an OAuth2 error"),
        (Answer(400, {"error": 7}), "HTTP 400 without an OAuth2 error"),
        (Answer(302, b"", headers={"Location": "http://127.0.0.1:9/elsewhere"}), "HTTP 302"),
    ],
)
def test_a_broken_answer_is_refused_clearly_and_nothing_is_stored(world, endpoint, answer, said):
    box = oauth_box(world, endpoint, imap_oauth_token="at-old")
    endpoint.answers.append(answer)
    with pytest.raises(oauth.RefreshFailed, match=said):
        oauth.refresh(box)
    row = stored(box)
    assert (row.imap_oauth_token, row.oauth_refresh_token) == ("at-old", REFRESH)
    assert len(endpoint.requests) == 1  # a redirect is not followed


def test_a_slow_endpoint_is_given_up_on_after_the_timeout(world, endpoint, monkeypatch):
    monkeypatch.setattr(oauth, "TIMEOUT", 0.5)
    box = oauth_box(world, endpoint)
    endpoint.answers.append(Answer(delay=3, body={"access_token": "late"}))
    started = time.monotonic()
    with pytest.raises(oauth.RefreshFailed, match="did not answer within 0.5 seconds"):
        oauth.refresh(box)
    assert time.monotonic() - started < 2.5
    assert stored(box).imap_oauth_token == ""


def test_an_endpoint_that_trickles_its_answer_is_given_up_on_too(world, endpoint, monkeypatch):
    monkeypatch.setattr(oauth, "TIMEOUT", 1)
    box = oauth_box(world, endpoint)
    endpoint.answers.append(
        Answer(trickle=0.1, body={"access_token": "late", "padding": "x" * 200})
    )
    started = time.monotonic()
    with pytest.raises(oauth.RefreshFailed, match="did not answer within 1 seconds"):
        oauth.refresh(box)
    assert time.monotonic() - started < 4
    assert stored(box).imap_oauth_token == ""


def test_an_endpoint_that_does_not_listen_is_said_unreachable(world, endpoint):
    url = endpoint.url
    endpoint.close()
    box = oauth_box(world, endpoint, oauth_token_url=url)
    with pytest.raises(oauth.RefreshFailed, match="Could not reach the token endpoint"):
        oauth.refresh(box)


def test_settings_changed_during_a_renewal_are_not_overwritten(world, endpoint):
    box = oauth_box(world, endpoint)  # read by a poll…
    Mailbox.objects.filter(pk=box.pk).update(oauth_refresh_token="rt-from-the-admin")  # …meanwhile
    with pytest.raises(oauth.RefreshFailed, match="changed while the token was being renewed"):
        oauth.refresh(box)
    row = stored(box)
    assert (row.oauth_refresh_token, row.imap_oauth_token) == ("rt-from-the-admin", "")


def test_secrets_never_reach_an_error_message_or_the_log(world, endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    box = oauth_box(world, endpoint)
    endpoint.answers.append(endpoint.issue(refresh_token="rt-rotated"))
    oauth.refresh(box)
    endpoint.answers.append(
        Answer(
            400,
            {"error": "invalid_grant", "error_description": "Token rt-rotated is revoked"},
        )
    )
    with pytest.raises(oauth.RefreshFailed) as failed:
        oauth.refresh(box)
    assert "rt-rotated" not in str(failed.value)
    assert "[secret]" in str(failed.value)
    logged = caplog.text
    assert "renewed" in logged
    for secret in (REFRESH, SECRET, "rt-rotated", "at-1"):
        assert secret not in logged


# --- the providers ------------------------------------------------------------------------------


def test_microsoft_365_renews_at_the_tenants_endpoint_with_the_imap_scope(world):
    box = Mailbox(
        desk=world.desk,
        address="it@acme.test",
        oauth_provider="microsoft",
        oauth_tenant="acme.onmicrosoft.com",
        oauth_client_id="app",
        oauth_refresh_token="rt",
    )
    request = oauth.grant(box)
    assert request.url == "https://login.microsoftonline.com/acme.onmicrosoft.com/oauth2/v2.0/token"
    assert request.form["scope"] == (
        "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
    )
    assert "client_secret" not in request.form  # a public client sends none

    box.oauth_tenant = ""
    assert oauth.grant(box).url.startswith("https://login.microsoftonline.com/organizations/")

    box.oauth_refresh_token, box.oauth_client_secret = "", "secret"  # application access
    request = oauth.grant(box)
    assert request.form["grant_type"] == "client_credentials"
    assert request.form["scope"] == "https://outlook.office365.com/.default"


def test_google_renews_at_its_endpoint_and_needs_a_refresh_token(world):
    box = Mailbox(
        desk=world.desk,
        address="it@acme.test",
        oauth_provider="google",
        oauth_client_id="123.apps.googleusercontent.com",
        oauth_client_secret="GOCSPX-x",
        oauth_refresh_token="1//0g-refresh",
    )
    request = oauth.grant(box)
    assert request.url == "https://oauth2.googleapis.com/token"
    assert "scope" not in request.form  # Google keeps the scopes consented to
    box.oauth_refresh_token = ""
    assert "refresh token only" in oauth.problems(box)["oauth_refresh_token"]
    with pytest.raises(oauth.RefreshFailed, match="Fix the mailbox's OAuth2 settings"):
        oauth.grant(box)


@pytest.mark.parametrize(
    ("url", "usable"),
    [
        ("https://idp.example.com/oauth2/token", True),
        ("http://127.0.0.1:8080/token", True),
        ("http://localhost/token", True),
        ("http://[::1]:8080/token", True),
        ("http://idp.example.com/token", False),
        ("ftp://idp.example.com/token", False),
        ("https://user:pw@idp.example.com/token", False),
        ("https://idp.example.com:99999/token", False),
        ("https://idp.example.com/to ken", False),
        ("https:///token", False),
        ("", False),
    ],
)
def test_a_token_endpoint_is_https_or_http_to_this_machine(url, usable):
    assert (oauth.url_problem(url) == "") is usable


@pytest.mark.parametrize("tenant", ["acme/../../evil", "a b", "-acme", "x" * 101])
def test_a_tenant_that_could_change_the_address_is_refused(world, tenant):
    box = Mailbox(
        desk=world.desk,
        address="it@acme.test",
        oauth_provider="microsoft",
        oauth_tenant=tenant,
        oauth_client_id="app",
        oauth_refresh_token="rt",
    )
    assert "oauth_tenant" in oauth.problems(box)
    with pytest.raises(oauth.RefreshFailed):
        oauth.grant(box)
