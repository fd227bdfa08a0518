"""Who may do what to a ticket. Pure predicates over the actor's roles and the ticket's fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from comptoir.accounts.permissions import can_approve_changes, is_staff_on
from comptoir.core.actor import Actor
from comptoir.tickets.lifecycle import StatusCategory, Transition, Who

if TYPE_CHECKING:
    from comptoir.desks.models import Desk
    from comptoir.tickets.models import Ticket

#: Fields a requester may change on their own live ticket.
REQUESTER_FIELDS = frozenset({"title", "description"})
#: Every field PATCH accepts.
EDITABLE_FIELDS = frozenset(
    {
        "title",
        "description",
        "impact",
        "urgency",
        "priority",
        "category",
        "tags",
        "custom_fields",
        "watchers",
        "requester",
    }
)


def is_requester_of(actor: Actor, ticket: Ticket) -> bool:
    return actor.user is not None and ticket.requester_id == actor.user.pk


def can_view_internal(actor: Actor, ticket: Ticket) -> bool:
    return is_staff_on(actor, ticket.desk_id)


def can_create_ticket_on(actor: Actor, desk: Desk) -> bool:
    # The desk was resolved through desks_visible_to, so any signed-in actor may ask it for help.
    return actor.is_system or actor.user is not None


def can_create_for_others(actor: Actor, desk: Desk) -> bool:
    return is_staff_on(actor, desk.pk)


def editable_fields(actor: Actor, ticket: Ticket) -> frozenset[str]:
    if is_staff_on(actor, ticket.desk_id):
        return EDITABLE_FIELDS
    if is_requester_of(actor, ticket) and ticket.status_category in (
        StatusCategory.OPEN,
        StatusCategory.PENDING,
    ):
        return REQUESTER_FIELDS
    return frozenset()


def can_take_transition(actor: Actor, ticket: Ticket, transition: Transition) -> bool:
    if transition.who is Who.APPROVER:
        return can_approve_changes(actor, ticket.desk_id)
    if is_staff_on(actor, ticket.desk_id):
        return True
    return transition.who is Who.REQUESTER and is_requester_of(actor, ticket)


def can_comment(actor: Actor, ticket: Ticket, *, public: bool) -> bool:
    if is_staff_on(actor, ticket.desk_id):
        return True
    # Anyone who can see the ticket (requester, colleague, watcher) may reply publicly.
    return public and actor.user is not None


def can_assign(actor: Actor, ticket: Ticket) -> bool:
    return is_staff_on(actor, ticket.desk_id)


def can_link(actor: Actor, ticket: Ticket) -> bool:
    return is_staff_on(actor, ticket.desk_id)


def can_merge(actor: Actor, ticket: Ticket) -> bool:
    return is_staff_on(actor, ticket.desk_id)


def can_attach(actor: Actor, ticket: Ticket, *, public: bool) -> bool:
    return can_comment(actor, ticket, public=public)


def can_rate(actor: Actor, ticket: Ticket) -> bool:
    """Only the requester rates the resolution of their ticket."""
    return is_requester_of(actor, ticket)
