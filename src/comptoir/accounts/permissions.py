"""Pure predicates on an actor's roles. No query beyond the actor's own (cached) roles."""

from __future__ import annotations

from typing import Any

from comptoir.accounts.roles import CHANGE_APPROVER_ROLES, MANAGER_ROLES, STAFF_ROLES, Role
from comptoir.core.actor import Actor


def _desk_id(desk: Any) -> int:
    return desk if isinstance(desk, int) else desk.pk


def is_staff_on(actor: Actor, desk: Any) -> bool:
    if actor.is_system or actor.is_superuser:
        return True
    return bool(actor.roles_on(_desk_id(desk)) & STAFF_ROLES)


def is_manager_on(actor: Actor, desk: Any) -> bool:
    if actor.is_system or actor.is_superuser:
        return True
    return bool(actor.roles_on(_desk_id(desk)) & MANAGER_ROLES)


def can_manage_desk(actor: Actor, desk: Any) -> bool:
    if actor.is_system or actor.is_superuser:
        return True
    return Role.ADMIN in actor.roles_on(_desk_id(desk))


def can_approve_changes(actor: Actor, desk: Any) -> bool:
    if actor.is_system or actor.is_superuser:
        return True
    return bool(actor.roles_on(_desk_id(desk)) & CHANGE_APPROVER_ROLES)


def staff_desk_ids(actor: Actor) -> set[int]:
    return {desk_id for desk_id, roles in actor.roles().items() if roles & STAFF_ROLES}
