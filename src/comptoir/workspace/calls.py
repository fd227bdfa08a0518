"""Logging a phone call as a ticket: find the caller as you type, pick the desk, write, open.

The ticket is opened by the agent on the ``phone`` channel, for the caller, through the same
``create_ticket`` service as every other door.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from comptoir.accounts.selectors import find_people, resolve_person
from comptoir.core.actor import Channel
from comptoir.core.errors import DomainError
from comptoir.desks.selectors import categories_of, resolve_category, resolve_desk
from comptoir.portal.shared import actor_for, error_text
from comptoir.tickets import services
from comptoir.workspace.forms import CallForm
from comptoir.workspace.views import _my_desks, agent_required

#: Fewer characters than this match too many people to be of use.
MIN_SEARCH = 2
#: At most this many people are listed for one search.
MAX_FOUND = 10


@require_GET
@agent_required
def people(request: HttpRequest) -> HttpResponse:
    """The people whose name, mail address or phone number holds what the agent typed."""
    query = (request.GET.get("q") or "").strip()[:100]
    found = list(find_people(query, limit=MAX_FOUND)) if len(query) >= MIN_SEARCH else []
    return render(
        request,
        "workspace/partials/_people.html",
        {"people": found, "query": query, "too_short": len(query) < MIN_SEARCH},
    )


@require_http_methods(["GET", "POST"])
@agent_required
def call(request: HttpRequest) -> HttpResponse:
    """The call form; opening it creates the ticket for the caller, on the phone channel."""
    actor = actor_for(request, Channel.PHONE)
    desks = _my_desks(actor)
    categories = [c for d in desks for c in categories_of(d).select_related("desk")]
    posted = (request.POST.get("caller") or "").strip()
    caller = resolve_person(posted) if posted.isdigit() else None
    form = CallForm(
        request.POST or None,
        desks=desks,
        categories=categories,
        callers=[caller] if caller is not None else [],
    )
    status = 200
    if request.method == "POST" and form.is_valid() and caller is not None:
        data = form.cleaned_data
        try:
            with transaction.atomic():
                desk = resolve_desk(actor, data["desk"])
                category = resolve_category(desk, data["category"]) if data["category"] else None
                ticket = services.create_ticket(
                    actor=actor,
                    desk=desk,
                    kind=data["kind"],
                    title=data["title"],
                    description=data["notes"],
                    category=category,
                    requester=caller,
                )
        except DomainError as exc:
            form.add_error(None, error_text(exc))
            status = exc.http_status if exc.http_status < 500 else 422
        else:
            messages.success(
                request,
                _("%(ref)s is open for %(who)s.") % {"ref": ticket.ref, "who": caller.name},
            )
            return redirect("workspace:ticket", ref=ticket.ref)
    elif request.method == "POST":
        status = 422
    return render(
        request,
        "workspace/call.html",
        {
            "form": form,
            "caller": caller,
            "people": [caller] if caller is not None else [],
            "no_desk": not desks,
        },
        status=status,
    )
