"""Canned responses: reusable reply texts, shared by a desk or an agent's own.

The composer's picker (htmx, with a filter box) lists those the agent may use on the ticket
with their placeholders already filled in (``workspace.placeholders``: plain substitution,
never a template engine); choosing one inserts it into the reply (``workspace.js``). The
management page lists, creates, changes and deletes them through ``workspace.services``: a
desk's shared responses by its managers, one's own by oneself.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, NotFound
from comptoir.core.pagination import SortKey, page
from comptoir.portal.shared import actor_for, error_text
from comptoir.workspace import permissions as perms
from comptoir.workspace import placeholders, selectors, services
from comptoir.workspace.forms import CannedFilters, CannedResponseForm
from comptoir.workspace.models import CannedResponse
from comptoir.workspace.views import _my_desks, _ticket, agent_required

#: The management list's page.
PAGE_SIZE = 50
_NEWEST = SortKey("updated_at", descending=True, is_datetime=True)


@require_GET
@agent_required
def picker(request: HttpRequest, ref: str) -> HttpResponse:
    """The responses the agent may use on this ticket, filled in for it, to insert."""
    actor = actor_for(request)
    ticket = _ticket(actor, ref)
    if not is_staff_on(actor, ticket.desk_id):
        raise Http404(_("No such ticket."))
    query = (request.GET.get("canned_q") or "").strip()[:100]
    values = {
        "ticket.ref": ticket.ref,
        "ticket.title": ticket.title,
        "requester.name": ticket.requester.name,
        "agent.name": getattr(request.user, "name", ""),
    }
    found = selectors.canned_responses_for_ticket(actor, ticket, query)
    return render(
        request,
        "workspace/partials/_canned_list.html",
        {
            "choices": [(r, placeholders.fill(r.body, values)) for r in found],
            "query": query,
            "more": len(found) >= selectors.PICKER_SHOWN,
        },
    )


def _managed_desks(actor: Actor) -> list:
    return [d for d in _my_desks(actor) if perms.can_share_responses(actor, d)]


@require_GET
@agent_required
def responses(request: HttpRequest) -> HttpResponse:
    """The responses the agent may use, most recently changed first, with what they may do."""
    actor = actor_for(request)
    desks = _my_desks(actor)
    form = CannedFilters(request.GET, desks=desks)
    form.is_valid()
    values = {k: v for k, v in form.cleaned_data.items() if v}
    found = selectors.canned_responses_visible_to(actor).select_related("desk")
    if values.get("scope") == "mine":
        found = found.filter(desk__isnull=True)
    elif values.get("scope"):
        found = found.filter(desk__slug=values["scope"])
    if values.get("q"):
        found = found.filter(Q(title__icontains=values["q"]) | Q(body__icontains=values["q"]))
    try:
        rows, next_cursor = page(
            found, sort="-updated", key=_NEWEST, cursor=values.get("cursor"), limit=PAGE_SIZE
        )
    except DomainError:
        rows, next_cursor = [], None
        messages.error(request, _("That page link no longer fits this list: back to its start."))
    params = request.GET.copy()
    params.pop("cursor", None)
    return render(
        request,
        "workspace/responses.html",
        {
            "form": form,
            "rows": [(r, perms.can_manage_canned_response(actor, r)) for r in rows],
            "next_cursor": next_cursor,
            "params": params.urlencode(),
        },
    )


def _form_page(
    request: HttpRequest, form: CannedResponseForm, *, response: CannedResponse | None, status=200
) -> HttpResponse:
    return render(
        request,
        "workspace/response_form.html",
        {"form": form, "response": response, "placeholders": placeholders.PLACEHOLDERS},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@agent_required
def new_response(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    desks = _managed_desks(actor)
    form = CannedResponseForm(request.POST or None, desks=desks)
    if request.method == "GET":
        return _form_page(request, form, response=None)
    if not form.is_valid():
        return _form_page(request, form, response=None, status=422)
    data = form.cleaned_data
    desk = next((d for d in desks if d.slug == data["scope"]), None)
    try:
        created = services.create_canned_response(
            actor=actor, title=data["title"], body=data["body"], desk=desk
        )
    except DomainError as exc:
        form.add_error(None, error_text(exc))
        return _form_page(request, form, response=None, status=_status(exc))
    messages.success(request, _("“%(title)s” is ready to use.") % {"title": created.title})
    return redirect("workspace:responses")


def _managed(request: HttpRequest, actor: Actor, response_id: int) -> CannedResponse | HttpResponse:
    """A response the agent may change; one they may only use gets the 403 page."""
    try:
        found = selectors.get_canned_response_for(actor, response_id)
    except NotFound as exc:
        raise Http404(_("No such canned response.")) from exc
    if not perms.can_manage_canned_response(actor, found):
        return render(
            request,
            "core/error.html",
            {
                "heading": _("For the desk's managers"),
                "text": _("Only the desk's managers change its shared responses."),
            },
            status=403,
        )
    return found


def _status(exc: DomainError) -> int:
    return exc.http_status if exc.http_status < 500 else 422


@require_http_methods(["GET", "POST"])
@agent_required
def edit_response(request: HttpRequest, response_id: int) -> HttpResponse:
    actor = actor_for(request)
    found = _managed(request, actor, response_id)
    if isinstance(found, HttpResponse):
        return found
    initial: dict[str, Any] = {"title": found.title, "body": found.body}
    form = CannedResponseForm(request.POST or None, initial=initial)
    if request.method == "GET":
        return _form_page(request, form, response=found)
    if not form.is_valid():
        return _form_page(request, form, response=found, status=422)
    try:
        services.update_canned_response(
            actor=actor,
            response=found,
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
        )
    except DomainError as exc:
        form.add_error(None, error_text(exc))
        return _form_page(request, form, response=found, status=_status(exc))
    messages.success(request, _("“%(title)s” is saved.") % {"title": found.title})
    return redirect("workspace:responses")


@require_POST
@agent_required
def delete_response(request: HttpRequest, response_id: int) -> HttpResponse:
    actor = actor_for(request)
    found = _managed(request, actor, response_id)
    if isinstance(found, HttpResponse):
        return found
    title = found.title
    services.delete_canned_response(actor=actor, response=found)
    messages.success(request, _("“%(title)s” is deleted.") % {"title": title})
    return redirect("workspace:responses")
