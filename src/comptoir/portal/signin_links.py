"""One-time sign-in links by mail, for requesters of desks that allow them.

A link carries the person's id and a digest of their mail address and time of last sign-in
(never the address itself), signed with the secret key and dated. It works ``LINK_MINUTES`` minutes and once: signing in through it (or any other
way) moves ``last_login``, which the link no longer matches. The check and the move happen
under a lock on the person's row, so two clicks at the same instant sign in once.

Asking for a link answers the same page whatever the address, and the worker sends the mail,
so neither the answer nor its timing tells which addresses exist. Every request for a link and
every bad link counts against the sign-in throttle of the address and the IP.
"""

from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from comptoir.accounts.models import User
from comptoir.accounts.permissions import staff_desk_ids
from comptoir.core.actor import Actor
from comptoir.desks.models import Desk
from comptoir.desks.selectors import desks_visible_to

LINK_MINUTES = 15
_SALT = "comptoir.portal.signin-link"


def offered() -> bool:
    """Whether any active desk lets its requesters sign in by link (the sign-in page says so)."""
    return Desk.objects.filter(is_active=True, signin_links=True).exists()


def may_sign_in_by_link(user: User) -> bool:
    """An active requester served by a desk that allows links; never an agent or an admin."""
    if not user.is_active or user.is_superuser or user.is_staff:
        return False
    actor = Actor.for_user(user)
    if staff_desk_ids(actor):
        return False
    return desks_visible_to(actor).filter(signin_links=True).exists()


def _state(user: User) -> str:
    """What a link is bound to: the address and the last sign-in; either moving spends it."""
    stamp = user.last_login.isoformat() if user.last_login is not None else ""
    return salted_hmac(_SALT, f"{user.email.lower()}|{stamp}").hexdigest()[:40]


def make_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "s": _state(user)}, salt=_SALT)


def read_token(token: str) -> dict | None:
    """The link's contents if it is ours and fresh, else ``None`` (expired, altered, garbage)."""
    if not token or len(token) > 500:
        return None
    try:
        data = signing.loads(token, salt=_SALT, max_age=LINK_MINUTES * 60)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    if not isinstance(data.get("s"), str):
        return None
    return data


def _holder(data: dict, *, lock: bool) -> User | None:
    users = User.objects.select_for_update() if lock else User.objects.all()
    user = users.filter(pk=data["u"], is_active=True).first()
    if user is None or not constant_time_compare(_state(user), data["s"]):
        return None
    if not may_sign_in_by_link(user):  # the desk's policy changed since the mail left
        return None
    return user


def check_token(token: str) -> User | None:
    """The person the link would sign in, without spending it; ``None`` when it does not work."""
    data = read_token(token)
    return _holder(data, lock=False) if data is not None else None


@transaction.atomic
def use_token(token: str) -> User | None:
    """The person the link signs in, spending the link; ``None`` when it does not work.

    ``last_login`` moves here, under the row's lock, so that a second use, even at the same
    instant, finds the link no longer matches.
    """
    data = read_token(token)
    user = _holder(data, lock=True) if data is not None else None
    if user is None:
        return None
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return user
