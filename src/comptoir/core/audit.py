"""The configuration audit log (rule 4: ticket changes go to the timeline, the rest here)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.forms.models import model_to_dict

from comptoir.core.actor import Actor
from comptoir.core.models import AuditEntry

#: Fields never copied into the audit log: they hold credentials.
SECRETS = frozenset(
    {
        "password",
        "key_hash",
        "imap_password",
        "imap_oauth_token",
        "oauth_client_secret",
        "oauth_refresh_token",
    }
)


def snapshot(obj: models.Model) -> dict[str, Any]:
    """A JSON-safe copy of a model's own fields, for before/after."""
    data = model_to_dict(obj)
    safe: dict[str, Any] = {}
    for name, value in data.items():
        if name in SECRETS:
            continue
        if isinstance(value, list):
            safe[name] = [getattr(v, "pk", v) for v in value]
        elif isinstance(value, str | int | float | bool | type(None) | dict):
            safe[name] = value
        else:
            safe[name] = str(value)
    return safe


def record_audit(
    *,
    actor: Actor,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    before = before or {}
    after = after or {}
    if before and after:
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        before = {k: before.get(k) for k in changed}
        after = {k: after.get(k) for k in changed}
    return AuditEntry.objects.create(
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        before=before,
        after=after,
        **actor.audit_fields(),
    )
