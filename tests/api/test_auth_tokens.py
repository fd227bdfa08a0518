"""Signing in to the API: tokens made on the command line, revoked, expired; the web session."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from comptoir.accounts.models import ApiToken
from comptoir.accounts.services import revoke_api_token
from comptoir.core.actor import Actor
from comptoir.core.models import AuditEntry
from comptoir.tickets.models import Ticket
from tests.api.helpers import error, expect
from tests.factories import token_for

pytestmark = pytest.mark.django_db


def create_token(email: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", "create", email, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def bearer(raw: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_token_create_prints_the_token_alone_on_its_last_line_and_it_works(world):
    out, err = create_token("Requester@Acme.test", "--name", "laptop script")
    raw = out.splitlines()[-1]
    assert out == raw + "\n"
    assert raw.startswith("cpt_") and " " not in raw
    assert world.requester.email in err
    response = bearer(raw).get("/api/v1/me")
    body = expect(response, 200)
    assert (body["email"], body["auth"]) == (world.requester.email, "token")
    token = ApiToken.objects.get()
    assert (token.user, token.name) == (world.requester, "laptop script")


def test_token_create_for_an_unknown_person_fails(world):
    with pytest.raises(CommandError, match="No active person"):
        create_token("ghost@acme.test")
    assert not ApiToken.objects.exists()


def test_a_token_acts_for_its_person_through_the_api_channel(world):
    raw = create_token(world.agent.email)[0].splitlines()[-1]
    body = expect(
        bearer(raw).post(
            "/api/v1/tickets", {"desk": "it", "title": "x"}, content_type="application/json"
        ),
        201,
    )
    assert (body["requester"]["email"], body["channel"]) == (world.agent.email, "api")
    event = Ticket.objects.get().events.get()
    assert event.actor_user == world.agent
    assert event.actor_label == f"{world.agent.email} (token cli)"


def test_only_the_sha256_of_the_token_is_stored(world):
    raw = create_token(world.requester.email)[0].splitlines()[-1]
    row = ApiToken.objects.filter(user=world.requester).values().get()
    assert row["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert not any(raw in str(value) for value in row.values())
    assert not any(raw in str(entry.__dict__) for entry in AuditEntry.objects.all())


def test_last_used_at_is_set_when_the_token_is_used(world):
    token, raw = token_for(world.requester)
    assert token.last_used_at is None
    before = timezone.now()
    expect(bearer(raw).get("/api/v1/me"), 200)
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at >= before


def test_a_revoked_token_is_refused(world, watch):
    token, raw = token_for(world.requester)
    client = bearer(raw)
    expect(client.get("/api/v1/me"), 200)
    revoke_api_token(actor=Actor.for_user(world.requester), token=token)
    error(client.get("/api/v1/me"), 401, "token_invalid")
    with watch.unchanged():
        response = client.post(
            "/api/v1/tickets", {"desk": "it", "title": "x"}, content_type="application/json"
        )
    error(response, 401, "token_invalid")


def test_a_token_revoked_from_the_command_line_is_refused(world):
    token, raw = token_for(world.requester)
    out = StringIO()
    call_command("token", "revoke", str(token.pk), stdout=out)
    assert "revoked" in out.getvalue()
    error(bearer(raw).get("/api/v1/me"), 401, "token_invalid")


def test_an_expired_token_is_refused(world, monkeypatch):
    token, raw = token_for(world.requester, expires_at=timezone.now() + timedelta(days=1))
    expect(bearer(raw).get("/api/v1/me"), 200)
    # The token's row is now in the process's cache; its expiry is checked on every request.
    later = timezone.now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    error(bearer(raw).get("/api/v1/me"), 401, "token_invalid")


def test_a_token_revoked_by_another_process_is_refused_within_the_cache_bound(
    world, settings, monkeypatch
):
    """Another process's change is not announced to this one: it takes effect when this
    process's copy of the row expires, COMPTOIR_CACHE_SECONDS later at most."""
    settings.COMPTOIR_CACHE_SECONDS = 5
    token, raw = token_for(world.requester)
    expect(bearer(raw).get("/api/v1/me"), 200)
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())  # no signal here
    expect(bearer(raw).get("/api/v1/me"), 200)
    clock = time.monotonic() + 5.01
    monkeypatch.setattr("comptoir.core.memo.time.monotonic", lambda: clock)
    error(bearer(raw).get("/api/v1/me"), 401, "token_invalid")


def test_without_the_cache_a_revocation_anywhere_is_seen_at_once(world, settings):
    settings.COMPTOIR_CACHE_SECONDS = 0
    token, raw = token_for(world.requester)
    expect(bearer(raw).get("/api/v1/me"), 200)
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    error(bearer(raw).get("/api/v1/me"), 401, "token_invalid")


def test_token_create_with_days_expires(world):
    create_token(world.requester.email, "--days", "7")
    expires = ApiToken.objects.get().expires_at
    assert timedelta(days=6, hours=23) < expires - timezone.now() <= timedelta(days=7)


def test_the_token_of_an_inactive_person_is_refused(world):
    _, raw = token_for(world.requester)
    world.requester.is_active = False
    world.requester.save()
    error(bearer(raw).get("/api/v1/me"), 401, "token_invalid")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cpt_not-a-real-token",
        "Bearer not-even-the-prefix",
        "Bearer ",
        "Token abc",
        "Bearer " + "cpt_" + "x" * 300,
    ],
)
def test_an_unknown_token_is_refused(world, header):
    error(Client(headers={"Authorization": header}).get("/api/v1/me"), 401, "token_invalid")


def test_no_credentials_at_all(world):
    body = error(Client().get("/api/v1/tickets"), 401, "not_authenticated")
    assert "Bearer" in body["message"]


# --- the web session ---------------------------------------------------------------------------


def session(user, *, csrf: bool = True) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_the_session_works_for_reading(world):
    body = expect(session(world.requester).get("/api/v1/me"), 200)
    assert (body["email"], body["auth"]) == (world.requester.email, "user")


def test_a_post_with_the_session_needs_the_csrf_token(world, watch):
    client = session(world.requester)
    with watch.unchanged():
        response = client.post(
            "/api/v1/tickets", {"desk": "it", "title": "x"}, content_type="application/json"
        )
    assert "CSRF" in error(response, 403, "permission_denied")["message"]
    assert not Ticket.objects.exists()


def test_a_post_with_the_session_and_the_csrf_token_works(world):
    client = session(world.requester)
    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    response = client.post(
        "/api/v1/tickets",
        {"desk": "it", "title": "x"},
        content_type="application/json",
        headers={"X-CSRFToken": secret},
    )
    assert expect(response, 201)["channel"] == "web"


def test_a_post_with_a_wrong_csrf_token_is_refused(world, watch):
    client = session(world.requester)
    client.cookies["csrftoken"] = "a" * 32
    with watch.unchanged():
        response = client.post(
            "/api/v1/tickets",
            {"desk": "it", "title": "x"},
            content_type="application/json",
            headers={"X-CSRFToken": "b" * 32},
        )
    error(response, 403, "permission_denied")


def test_a_bearer_token_needs_no_csrf_token(world):
    _, raw = token_for(world.requester)
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw}"})
    expect(
        client.post(
            "/api/v1/tickets", {"desk": "it", "title": "x"}, content_type="application/json"
        ),
        201,
    )


def test_the_session_of_a_deactivated_person_is_refused(world):
    client = session(world.requester)
    world.requester.is_active = False
    world.requester.save()
    error(client.get("/api/v1/me"), 401, "not_authenticated")


def test_a_bad_token_does_not_fall_back_to_the_session(world):
    client = session(world.requester)
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer cpt_not-a-real-token"})
    error(response, 401, "token_invalid")
