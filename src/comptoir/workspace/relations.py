"""A ticket's links, parent and children on its page: shown, added and removed without a reload.

Every change goes through ``tickets.services.link_tickets`` / ``unlink_tickets``, the doors the
API uses, which hold the rules (no link to itself, no loop of parents, staff of both desks).
The other ticket is read with ``get_ticket_for``: one the agent may not see is "not found".
Both tickets are locked in the order of their ids, so two agents linking the same pair in
opposite directions wait for each other instead of crossing.

htmx posts the small forms and swaps the panel, the timeline and the live strip; without
script, the forms post the same way and the page comes back.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, NotFound
from comptoir.portal.shared import actor_for, error_text, timeline_context
from comptoir.tickets import selectors, services
from comptoir.tickets.models import Ticket
from comptoir.workspace.forms import LinkForm, UnlinkForm
from comptoir.workspace.presence import live_context
from comptoir.workspace.views import _ticket, agent_required, relations_context, shown_state


def _staff_ticket(actor: Actor, ref: str) -> Ticket:
    """The page's ticket, for the staff of its desk only (others: 404, as the live strip)."""
    found = _ticket(actor, ref)
    if not is_staff_on(actor, found.desk_id):
        raise Http404(_("No such ticket."))
    return found


def _not_found(ref: str) -> str:
    """Missing and not visible read alike."""
    return _("No ticket %(ref)s was found.") % {"ref": ref}


def _locked(actor: Actor, first: Ticket, second: Ticket) -> tuple[Ticket, Ticket]:
    """Both tickets again, locked in the order of their ids; returned in the order given."""
    locked = {
        t.pk: selectors.get_ticket_for(actor, t.ref, for_update=True)
        for t in sorted((first, second), key=lambda t: t.pk)
    }
    return locked[first.pk], locked[second.pk]


def _answer(
    request: HttpRequest, actor: Actor, ref: str, *, done: str = "", error: str = "", **extra: Any
) -> HttpResponse:
    """htmx: the panel, with the timeline and the live strip out of band; else the page."""
    if not request.headers.get("HX-Request"):
        if error:
            messages.error(request, error)
        elif done:
            messages.success(request, done)
        return redirect("workspace:ticket", ref=ref)
    current = selectors.get_ticket_for(actor, ref)
    context = {
        **live_context(request, current, selectors.last_event_id(current), shown_state(current)),
        **relations_context(actor, current, done=done, error=error, **extra),
        **timeline_context(request, actor, current, internal=True),
        "oob": True,
    }
    return render(request, "workspace/partials/_relations_answer.html", context)


@require_POST
@agent_required
def add_link(request: HttpRequest, ref: str) -> HttpResponse:
    """Link the page's ticket to another: related, duplicate, cause, parent or child."""
    actor = actor_for(request)
    current = _staff_ticket(actor, ref)
    form = LinkForm(request.POST)
    if not form.is_valid():
        error = next(iter(e for errors in form.errors.values() for e in errors))
        return _answer(request, actor, current.ref, error=str(error), link_form=form)
    kind, target = form.cleaned_data["kind"], form.cleaned_data["target"]
    try:
        other = selectors.get_ticket_for(actor, target)
    except NotFound:
        return _answer(request, actor, current.ref, error=_not_found(target), link_form=form)
    try:
        with transaction.atomic():
            this, that = _locked(actor, current, other)
            services.link_tickets(actor=actor, ticket=this, target=that, kind=kind)
    except DomainError as exc:
        return _answer(request, actor, current.ref, error=error_text(exc), link_form=form)
    return _answer(request, actor, current.ref, done=_("Linked to %(ref)s.") % {"ref": other.ref})


@require_POST
@agent_required
def remove_link(request: HttpRequest, ref: str) -> HttpResponse:
    """Remove one link shown on the page: a typed link either way, the parent, or a child."""
    actor = actor_for(request)
    current = _staff_ticket(actor, ref)
    form = UnlinkForm(request.POST)
    if not form.is_valid():
        return _answer(request, actor, current.ref, error=_("There is no such link."))
    kind, other_ref = form.cleaned_data["kind"], form.cleaned_data["other"].upper()
    incoming = form.cleaned_data["direction"] == "in" and kind not in ("parent", "child")
    try:
        other = selectors.get_ticket_for(actor, other_ref)
    except NotFound:
        return _answer(request, actor, current.ref, error=_not_found(other_ref))
    try:
        with transaction.atomic():
            this, that = _locked(actor, current, other)
            source, target = (that, this) if incoming else (this, that)
            services.unlink_tickets(actor=actor, ticket=source, target=target, kind=kind)
    except DomainError as exc:
        return _answer(request, actor, current.ref, error=error_text(exc))
    return _answer(
        request,
        actor,
        current.ref,
        done=_("The link to %(ref)s is removed.") % {"ref": other.ref},
    )
