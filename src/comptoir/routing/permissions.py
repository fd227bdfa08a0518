"""Who may change routing: pure predicates on the actor's (cached) roles."""

from __future__ import annotations

from collections.abc import Iterable

from comptoir.accounts.models import User
from comptoir.accounts.permissions import is_manager_on
from comptoir.core.actor import Actor


def can_change_routing(actor: Actor, desk) -> bool:
    """A desk's rules, its agents' skills and its teams' shifts are its managers' to change."""
    return is_manager_on(actor, desk)


def can_set_availability(actor: Actor, agent: User, agent_desks: Iterable[int]) -> bool:
    """The agent themself, or a manager of a desk where the agent is staff."""
    if actor.user is not None and actor.user.pk == agent.pk:
        return True
    return any(is_manager_on(actor, desk_id) for desk_id in agent_desks)
