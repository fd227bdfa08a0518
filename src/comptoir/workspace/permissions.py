"""Pure predicates on an actor's roles for the workspace's own things. No query beyond the
actor's own (cached) roles."""

from __future__ import annotations

from typing import Any

from comptoir.accounts.permissions import is_manager_on, is_staff_on, staff_desk_ids
from comptoir.core.actor import Actor


def is_agent(actor: Actor) -> bool:
    """A person who works tickets: a staff role on a desk, or a superuser."""
    if actor.user is None or not actor.user.is_active:
        return False
    return actor.is_superuser or bool(staff_desk_ids(actor))


def _owns(actor: Actor, thing: Any) -> bool:
    return actor.user is not None and thing.owner_id == actor.user.pk


def can_keep_saved_filters(actor: Actor) -> bool:
    return is_agent(actor)


def can_change_saved_filter(actor: Actor, saved: Any) -> bool:
    """A saved filter is its owner's alone: nobody else sees, renames or deletes it."""
    return is_agent(actor) and _owns(actor, saved)


def can_share_responses(actor: Actor, desk: Any) -> bool:
    """A desk's shared canned responses are kept by its managers (and administrators)."""
    return is_manager_on(actor, desk)


def can_use_canned_response(actor: Actor, response: Any) -> bool:
    """A desk's shared response serves its staff; an own response its owner alone."""
    if response.desk_id is not None:
        return is_staff_on(actor, response.desk_id)
    return is_agent(actor) and _owns(actor, response)


def can_manage_canned_response(actor: Actor, response: Any) -> bool:
    if response.desk_id is not None:
        return can_share_responses(actor, response.desk_id)
    return is_agent(actor) and _owns(actor, response)
