"""Lifecycle actions and assignment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from comptoir.accounts.models import Team, User
from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.events import publish
from comptoir.tickets import events as ev
from comptoir.tickets import permissions as perms
from comptoir.tickets.lifecycle import StatusCategory, Transition, lifecycle_for
from comptoir.tickets.models import (
    EventKind,
    Ticket,
)
from comptoir.tickets.services._common import (
    MAX_BODY,
    _base,
    _clean_text,
    _record,
)


def _open_children(ticket: Ticket) -> list[str]:
    return list(
        ticket.children.filter(
            status_category__in=[StatusCategory.OPEN, StatusCategory.PENDING]
        ).values_list("ref", flat=True)[:20]
    )


@transaction.atomic
def transition_ticket(
    *,
    actor: Actor,
    ticket: Ticket,
    action: str,
    resolution: str | None = None,
    reason: str | None = None,
    comment: str | None = None,
) -> Ticket:
    """Take the lifecycle action ``action`` (resolve, reopen, cancel, approve…)."""
    if action == "merge":
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, "Merge with the merge action, naming the survivor."
        )
    lifecycle = lifecycle_for(ticket.kind)
    transition: Transition | None = lifecycle.transition(action, ticket.status)
    if transition is None:
        allowed = [t.action for t in lifecycle.actions_from(ticket.status) if t.action != "merge"]
        known = action in lifecycle.transitions
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"{ticket.ref} is {ticket.status!r}: this {ticket.get_kind_display().lower()} cannot {action} now."
            if known
            else f"{action!r} is not an action of this {ticket.get_kind_display().lower()}.",
            {"status": ticket.status, "action": action, "allowed": allowed},
        )
    if not perms.can_take_transition(actor, ticket, transition):
        raise PermissionDenied(f"You may not {action} this ticket.")

    resolution_text = _clean_text(
        resolution, "resolution", required="resolution" in transition.needs, limit=MAX_BODY
    )
    reason_text = _clean_text(reason, "reason", required="reason" in transition.needs, limit=2000)
    now = timezone.now()

    if action == "resolve" or transition.target == "resolved":
        children = _open_children(ticket)
        if children:
            raise DomainError(
                ErrorCode.OPEN_CHILDREN,
                "A parent cannot be resolved while a child ticket is open.",
                {"open_children": children},
            )
    if action == "reopen":
        since = ticket.resolved_at or ticket.closed_at
        window = timedelta(days=ticket.desk.reopen_window_days)
        if since is not None and now - since > window and not is_staff_on(actor, ticket.desk_id):
            raise DomainError(
                ErrorCode.REOPEN_WINDOW_EXPIRED,
                f"This ticket was resolved more than {ticket.desk.reopen_window_days} days ago; open a new one.",
                {"resolved_at": since.isoformat()},
            )

    before = ticket.status
    ticket.status = transition.target
    ticket.status_category = lifecycle.category(transition.target)
    fields = ["status", "status_category", "updated_at"]
    if ticket.status_category == StatusCategory.RESOLVED:
        ticket.resolved_at = now
        ticket.resolution = resolution_text
        fields += ["resolved_at", "resolution"]
    elif ticket.status_category == StatusCategory.CLOSED:
        # Closing a resolved ticket keeps its resolution time; cancelling or rejecting one
        # never resolved it, so resolved_at stays empty and metrics do not count it as solved.
        ticket.closed_at = now
        fields.append("closed_at")
    if action == "reopen":
        ticket.closed_at = None
        ticket.resolved_at = None
        fields += ["closed_at", "resolved_at"]
    ticket.updated_at = now
    ticket.save(update_fields=list(dict.fromkeys(fields)))

    after: dict[str, Any] = {"status": ticket.status, "action": action}
    if resolution_text:
        after["resolution"] = resolution_text
    if reason_text:
        after["reason"] = reason_text
    _record(
        ticket,
        actor,
        EventKind.STATUS_CHANGED,
        before={"status": before},
        after=after,
        public=True,
        at=now,
    )
    publish(
        ev.TicketStatusChanged(
            **_base(ticket, actor), action=action, before=before, after=ticket.status
        )
    )
    if comment and comment.strip():
        from comptoir.tickets.services.conversation import add_comment

        add_comment(actor=actor, ticket=ticket, body=comment, public=True, with_change=True)
    return ticket


def resolve_ticket(*, actor: Actor, ticket: Ticket, resolution: str) -> Ticket:
    return transition_ticket(actor=actor, ticket=ticket, action="resolve", resolution=resolution)


def reopen_ticket(*, actor: Actor, ticket: Ticket, reason: str = "") -> Ticket:
    return transition_ticket(actor=actor, ticket=ticket, action="reopen", reason=reason)


def close_ticket(*, actor: Actor, ticket: Ticket) -> Ticket:
    return transition_ticket(actor=actor, ticket=ticket, action="close")


def cancel_ticket(*, actor: Actor, ticket: Ticket, reason: str = "") -> Ticket:
    return transition_ticket(actor=actor, ticket=ticket, action="cancel", reason=reason)


# --- assignment ------------------------------------------------------------------------------


@transaction.atomic
def assign_ticket(
    *, actor: Actor, ticket: Ticket, team: Team | None = None, agent: User | None = None
) -> Ticket:
    """Give the ticket to a team, an agent, or both; ``None`` for both unassigns it."""
    if not perms.can_assign(actor, ticket):
        raise PermissionDenied("You may not assign this ticket.")
    if ticket.status_category == StatusCategory.CLOSED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "A closed ticket cannot be assigned.",
            {"status": ticket.status},
        )
    if team is not None and team.desk_id != ticket.desk_id:
        raise DomainError(
            ErrorCode.UNKNOWN_TEAM, "The team belongs to another desk.", {"field": "team"}
        )
    if agent is not None and not is_staff_on(Actor.for_user(agent), ticket.desk_id):
        raise DomainError(
            ErrorCode.UNKNOWN_USER,
            f"{agent.email} is not an agent of this desk.",
            {"field": "agent"},
        )
    if team is None and agent is not None:
        team = (
            ticket.team
            if ticket.team and ticket.team.members.filter(pk=agent.pk).exists()
            else None
        )
    before = {
        "team": ticket.team_id,
        "assignee": ticket.assignee.email if ticket.assignee else None,
    }
    after = {"team": team.pk if team else None, "assignee": agent.email if agent else None}
    if before == after:
        return ticket
    ticket.team = team
    ticket.assignee = agent
    ticket.updated_at = timezone.now()
    ticket.save(update_fields=["team", "assignee", "updated_at"])
    _record(ticket, actor, EventKind.ASSIGNED, before=before, after=after)
    publish(
        ev.TicketAssigned(
            **_base(ticket, actor), team_id=ticket.team_id, assignee_id=ticket.assignee_id
        )
    )
    return ticket
