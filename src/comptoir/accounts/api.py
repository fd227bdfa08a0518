"""Who calls the API (a Bearer token or the web session), and ``/me``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import Field

from comptoir.accounts.models import Membership
from comptoir.accounts.services import authenticate_token, update_my_settings
from comptoir.core.actor import Actor, Channel
from comptoir.core.api import ErrorOut, actor_of

router = Router(tags=["accounts"])


class BearerToken(HttpBearer):
    """``Authorization: Bearer cpt_…``: an API token (hashed at rest, revocable, may expire)."""

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        api_token = authenticate_token(token)
        if api_token is None:
            # A bad token is final: the request does not fall back to a session cookie.
            raise AuthenticationError()
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


class OrganisationRef(Schema):
    id: int
    slug: str
    name: str


class DeskRole(Schema):
    desk: str
    roles: list[str]


class MeOut(Schema):
    id: int
    email: str
    name: str
    locale: str
    time_zone: str
    organisation: OrganisationRef | None
    is_superuser: bool
    desks: list[DeskRole]
    auth: str
    mail_notifications: bool


class MePatch(Schema):
    mail_notifications: bool | None = Field(
        None, description="Also send my notices (SLA warnings, tickets assigned…) by mail."
    )


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="Who am I")
def me(request: HttpRequest):
    actor = actor_of(request)
    user = actor.user
    assert user is not None  # both ways in (token, session) belong to a person
    roles: dict[tuple[int, str], set[str]] = {}  # (desk id, slug) → roles, in one query
    rows = Membership.objects.filter(user=user).values_list("desk_id", "desk__slug", "role")
    for desk_id, slug, role in rows:
        roles.setdefault((desk_id, slug), set()).add(role)
    org = user.organisation
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "locale": user.locale,
        "time_zone": user.time_zone,
        "organisation": {"id": org.pk, "slug": org.slug, "name": org.name} if org else None,
        "is_superuser": user.is_superuser,
        "desks": [{"desk": slug, "roles": sorted(r)} for (_, slug), r in sorted(roles.items())],
        "auth": str(actor.kind),
        "mail_notifications": user.mail_notifications,
    }


@router.patch("/me", response={200: MeOut, 401: ErrorOut, 422: ErrorOut}, summary="My settings")
def update_me(request: HttpRequest, payload: MePatch):
    """Change my own settings; what is left out is kept."""
    actor = actor_of(request)
    updated = update_my_settings(actor=actor, **payload.model_dump(exclude_unset=True))
    assert actor.user is not None
    actor.user.mail_notifications = updated.mail_notifications  # this request's copy
    return me(request)
