"""What every API module shares: the request's actor and the error shape.

Authentication (API tokens, the web session) lives with the accounts, in ``accounts.api``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Schema

from comptoir.core.actor import Actor


class ErrorOut(Schema):
    code: str
    message: str
    details: dict[str, Any] = {}


def actor_of(request: HttpRequest) -> Actor:
    actor = request.auth  # type: ignore[attr-defined]
    assert isinstance(actor, Actor)
    return actor


def user_ref(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "email": user.email, "name": user.name}
