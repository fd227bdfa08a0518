"""Every change to accounts: people, tokens, memberships."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from comptoir.accounts.models import ApiToken, Membership, Organisation, User, hash_token
from comptoir.accounts.permissions import can_manage_desk
from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.memo import Frozen, RowCache, freeze, thaw

#: last_used_at is written at most this often per token, so reads do not turn into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_api_token(
    *, actor: Actor, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the raw token, shown once."""
    if not (actor.is_system or actor.is_superuser or actor.user == user):
        raise PermissionDenied("You may only create tokens for yourself.")
    if not name.strip():
        raise DomainError(ErrorCode.VALIDATION_ERROR, "A token needs a name.")
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError(ErrorCode.VALIDATION_ERROR, "The expiry must be in the future.")
    raw = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip(),
            key_hash=hash_token(raw),
            hint=raw[-6:],
            expires_at=expires_at,
        )
        record_audit(actor=actor, action="token_created", obj=token, after=snapshot(token))
    return token, raw


def revoke_api_token(*, actor: Actor, token: ApiToken) -> ApiToken:
    if not (actor.is_system or actor.is_superuser or actor.user == token.user):
        raise PermissionDenied("You may only revoke your own tokens.")
    if token.revoked_at is None:
        with transaction.atomic():
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record_audit(actor=actor, action="token_revoked", obj=token)
    return token


#: Usable tokens by hash, with their user and organisation (see ``core.memo``).
tokens_cache = RowCache("api tokens")


def authenticate_token(raw: str) -> ApiToken | None:
    """The usable token for ``raw``, or None (unknown, revoked, expired, or its user inactive)."""
    if not raw or not raw.startswith("cpt_") or len(raw) > 200:
        return None
    key_hash = hash_token(raw)
    frozen = tokens_cache.get(key_hash, lambda: _load_token(key_hash))
    if frozen is None:
        return None
    token: ApiToken = thaw(frozen)
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        tokens_cache.drop(key_hash)
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        tokens_cache.put(key_hash, freeze(token, "user__organisation"))
    return token


def _load_token(key_hash: str) -> Frozen | None:
    token = (
        ApiToken.objects.usable()
        .select_related("user", "user__organisation")
        .filter(key_hash=key_hash)
        .first()
    )
    return freeze(token, "user__organisation") if token is not None else None


def grant_role(*, actor: Actor, user: User, desk, role: str) -> Membership:
    if not can_manage_desk(actor, desk):
        raise PermissionDenied()
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(user=user, desk=desk, role=role)
        if created:
            record_audit(
                actor=actor, action="role_granted", obj=membership, after=snapshot(membership)
            )
    return membership


def revoke_role(*, actor: Actor, membership: Membership) -> None:
    if not can_manage_desk(actor, membership.desk):
        raise PermissionDenied()
    with transaction.atomic():
        record_audit(
            actor=actor, action="role_revoked", obj=membership, before=snapshot(membership)
        )
        membership.delete()


def organisation_for_domain(domain: str) -> Organisation | None:
    """The organisation whose mail domains include ``domain`` (configured per organisation)."""
    domain = domain.strip().lower()
    if not domain:
        return None
    for organisation in Organisation.objects.exclude(email_domains=[]).only("pk", "email_domains"):
        if domain in {d.strip().lower() for d in organisation.email_domains or []}:
            return organisation
    return None


def contact_for(email: str, name: str = "") -> User:
    """The person writing from ``email``; an unknown address becomes a contact (a requester
    without a password, in the organisation of their mail domain). A deactivated account is
    returned as it is: the caller decides what its mail may do.

    Addresses are kept in lower case (``User.save``), so the lookup is an exact match on the
    unique index, not a case-insensitive scan."""
    email = email.strip().lower()
    found = User.objects.filter(email=email).first()
    if found is not None:
        return found
    organisation = organisation_for_domain(email.rpartition("@")[2])
    contact = User(email=email, display_name=name[:150], organisation=organisation)
    contact.set_unusable_password()
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:  # written meanwhile by another message from the same address
        return User.objects.get(email=email)
    return contact


@transaction.atomic
def update_my_settings(*, actor: Actor, mail_notifications: bool | None = None) -> User:
    """Change the caller's own settings: whether their notices also come by mail."""
    if actor.user is None:
        raise PermissionDenied("Only a person has settings.")
    user = User.objects.select_for_update().get(pk=actor.user.pk)
    if mail_notifications is not None and mail_notifications != user.mail_notifications:
        before = {"mail_notifications": user.mail_notifications}
        user.mail_notifications = mail_notifications
        user.save(update_fields=["mail_notifications"])
        record_audit(
            actor=actor,
            action="settings_changed",
            obj=user,
            before=before,
            after={"mail_notifications": mail_notifications},
        )
    return user
