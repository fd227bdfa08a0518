"""What every API module shares: authentication, the request's actor, the error shape."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Schema
from ninja.security import APIKeyCookie, HttpBearer

from comptoir.core.actor import Actor, Channel


class ErrorOut(Schema):
    code: str
    message: str
    details: dict[str, Any] = {}


class BearerToken(HttpBearer):
    """``Authorization: Bearer cpt_…``: an API token (hashed at rest, revocable, may expire)."""

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        from comptoir.accounts.services import authenticate_token

        api_token = authenticate_token(token)
        if api_token is None:
            return None
        return Actor.for_token(api_token)


class SessionCookie(APIKeyCookie):
    """The web session, for the UI's own calls. Unsafe methods need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # no session: nothing to protect, and the answer is 401, not a CSRF 403
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return Actor.for_user(user, Channel.WEB)
        return None


AUTH = [BearerToken(), SessionCookie()]


def actor_of(request: HttpRequest) -> Actor:
    actor = request.auth  # type: ignore[attr-defined]
    assert isinstance(actor, Actor)
    return actor


def user_ref(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "email": user.email, "name": user.name}
