"""Bulk actions on the list: the same change applied to each chosen ticket, one by one.

Each ticket goes through the same service as when changed alone, in its own transaction: a
refusal on one (a state that does not allow it, another desk's agent…) leaves the others done,
and the result names the refused tickets with the reason. "All matching" applies the action
to every ticket the list's filters select (read again when the action is asked for, through
the list's own selection), ``ALL_MATCHING_CAP`` at most.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from comptoir.accounts.models import User
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, NotFound
from comptoir.desks.selectors import teams_visible_to
from comptoir.portal.shared import actor_for, error_text
from comptoir.tickets import selectors, services
from comptoir.workspace.forms import bulk_form
from comptoir.workspace.views import (
    ALL_MATCHING_CAP,
    PAGE_SIZE,
    _my_desks,
    agent_required,
    matching_tickets,
)

#: The outcome names this many tickets; the others are counted.
LISTED = 20

#: Refusals read differently in a list of many tickets than on one ticket's page.
_BULK_TEXT = {
    ErrorCode.INVALID_TRANSITION: gettext_lazy("not possible in its current state"),
    ErrorCode.NOT_FOUND: gettext_lazy("no such ticket"),
    ErrorCode.UNKNOWN_USER: gettext_lazy("the agent does not work its desk"),
    ErrorCode.UNKNOWN_TEAM: gettext_lazy("the team belongs to another desk"),
}


@dataclass
class BulkResult:
    """Which tickets changed, and which were refused with the reason in words."""

    changed: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def _one(actor: Actor, ref: str, action: str, data: dict[str, Any]) -> bool:
    """Apply ``action`` to the ticket ``ref``; False when there was nothing to do."""
    with transaction.atomic():
        ticket = selectors.get_ticket_for(actor, ref, for_update=True)
        if action == "assign_me":
            services.assign_ticket(actor=actor, ticket=ticket, agent=actor.user)
        elif action == "assign_agent":
            agent = User.objects.get(pk=int(data["agent"]))
            services.assign_ticket(actor=actor, ticket=ticket, agent=agent)
        elif action == "assign_team":
            team = teams_visible_to(actor).get(pk=int(data["team"]))
            services.assign_ticket(actor=actor, ticket=ticket, team=team)
        elif action == "priority":
            services.update_ticket(
                actor=actor,
                ticket=ticket,
                changes={"priority": data["priority"], "priority_reason": data["reason"]},
            )
        elif action == "resolve":
            services.transition_ticket(
                actor=actor, ticket=ticket, action="resolve", resolution=data["resolution"]
            )
        elif action == "merge":
            target = selectors.get_ticket_for(actor, data["into"], for_update=True)
            if target.pk == ticket.pk:
                return False
            services.merge_tickets(actor=actor, source=ticket, target=target)
    return True


def apply_bulk(actor: Actor, refs: list[str], action: str, data: dict[str, Any]) -> BulkResult:
    """Each ticket on its own; the others' outcome does not depend on one's refusal."""
    result = BulkResult()
    for ref in refs:
        try:
            if _one(actor, ref, action, data):
                result.changed.append(ref)
        except DomainError as exc:
            known = _BULK_TEXT.get(exc.code)
            reason = str(known) if known is not None else error_text(exc)
            result.refused.append((ref, reason.rstrip(".")))
    return result


def _back(request: HttpRequest) -> str:
    """The list the agent came from (same site only), else their queue."""
    wanted = request.POST.get("next") or ""
    if wanted.startswith("/desk/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return "/desk/"


def _all_matching(actor: Actor, query: str) -> list[str] | None:
    """The references of every ticket the list's filters select, in the list's order; ``None``
    when there are more than ``ALL_MATCHING_CAP``."""
    matching = matching_tickets(actor, _my_desks(actor), QueryDict(query))
    field, descending, _is_dt = selectors.SORT_KEYS[matching.sort]
    order = f"-{field}" if descending else field
    refs = list(
        matching.tickets.order_by(order, "-id" if descending else "id").values_list(
            "ref", flat=True
        )[: ALL_MATCHING_CAP + 1]
    )
    return refs if len(refs) <= ALL_MATCHING_CAP else None


def _listed(refs: list[str]) -> str:
    shown = ", ".join(refs[:LISTED])
    return shown if len(refs) <= LISTED else f"{shown}, …"


@require_POST
@agent_required
def bulk(request: HttpRequest) -> HttpResponse:
    """Apply one action to the tickets chosen on the list (or to every ticket its filters
    select), then show the list with the outcome."""
    actor = actor_for(request)
    form = bulk_form(actor, _my_desks(actor), PAGE_SIZE, request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(_back(request))
    data = form.cleaned_data
    if data["all_matching"]:
        found = _all_matching(actor, data["filters"])
        if found is None:
            messages.error(
                request,
                _(
                    "More than %(cap)d tickets match these filters: narrow them, then try "
                    "again. Nothing was changed."
                )
                % {"cap": ALL_MATCHING_CAP},
            )
            return redirect(_back(request))
        data["tickets"] = found
    if data["action"] == "merge":
        try:
            selectors.get_ticket_for(actor, data["into"])
        except NotFound:
            messages.error(
                request, _("No ticket %(ref)s to merge into.") % {"ref": data["into"].upper()}
            )
            return redirect(_back(request))
    result = apply_bulk(actor, data["tickets"], data["action"], data)
    if result.changed:
        messages.success(
            request,
            _("Tickets changed (%(count)d): %(refs)s.")
            % {"count": len(result.changed), "refs": _listed(result.changed)},
        )
    elif not result.refused:
        messages.info(request, _("Nothing to change."))
    for ref, reason in result.refused[:LISTED]:
        messages.error(
            request, _("%(ref)s was not changed: %(reason)s.") % {"ref": ref, "reason": reason}
        )
    # Past the first ones, the refusals are counted by reason: the list stays readable.
    others = Counter(reason for _ref, reason in result.refused[LISTED:])
    for reason, count in others.items():
        messages.error(
            request,
            ngettext(
                "%(count)d other ticket was not changed: %(reason)s.",
                "%(count)d other tickets were not changed: %(reason)s.",
                count,
            )
            % {"count": count, "reason": reason},
        )
    return redirect(_back(request))
