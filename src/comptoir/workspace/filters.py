"""Saved filters: an agent keeps the queue's filters under a name, and finds them in the
queue's sidebar; theirs alone. Every change goes through ``workspace.services``.

htmx posts the small forms and swaps the sidebar's block; without script they post the same
way and the list comes back. The filters saved are those of the filter form as it is now
(htmx includes its fields), else those of the page's address.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, NotFound
from comptoir.portal.shared import actor_for, error_text
from comptoir.workspace import selectors, services
from comptoir.workspace.bulk import _back
from comptoir.workspace.models import FILTER_PARAMS, SavedFilter
from comptoir.workspace.views import agent_required

#: The longest query string read from the page (a saved filter keeps a few short values).
MAX_QUERY = 2000


def _posted_filters(request: HttpRequest) -> dict[str, Any]:
    """The page's query string, overridden by the filter form's fields where htmx sent them."""
    data: dict[str, Any] = QueryDict(request.POST.get("query", "")[:MAX_QUERY]).dict()
    data.update({k: request.POST[k] for k in FILTER_PARAMS if k in request.POST})
    return data


def _mine(actor: Actor, saved_id: int) -> SavedFilter:
    try:
        return selectors.get_saved_filter_for(actor, saved_id)
    except NotFound as exc:
        raise Http404(_("No such saved filter.")) from exc


def _answer(
    request: HttpRequest, actor: Actor, *, to: str, done: str = "", error: str = "", **extra: Any
) -> HttpResponse:
    """htmx: the sidebar's block anew; else the list, with the outcome as a message."""
    if not request.headers.get("HX-Request"):
        if error:
            messages.error(request, error)
        elif done:
            messages.success(request, done)
        return redirect(to)
    context = {
        "saved_filters": list(selectors.saved_filters_of(actor)),
        "done": done,
        "error": error,
        "here": _back(request),
        **extra,
    }
    return render(request, "workspace/partials/_saved_filters.html", context)


@require_POST
@agent_required
def save(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    name = request.POST.get("name") or ""
    try:
        saved = services.save_filter(actor=actor, name=name, params=_posted_filters(request))
    except DomainError as exc:
        return _answer(
            request,
            actor,
            to=_back(request),
            error=error_text(exc),
            typed=services.clean_line(name)[:200],
        )
    return _answer(
        request,
        actor,
        to=f"{reverse('workspace:queue')}?{saved.query}",
        done=_("Filters saved as “%(name)s”.") % {"name": saved.name},
    )


@require_POST
@agent_required
def rename(request: HttpRequest, saved_id: int) -> HttpResponse:
    actor = actor_for(request)
    saved = _mine(actor, saved_id)
    try:
        services.rename_filter(actor=actor, saved=saved, name=request.POST.get("name") or "")
    except DomainError as exc:
        return _answer(request, actor, to=_back(request), error=error_text(exc))
    return _answer(
        request,
        actor,
        to=_back(request),
        done=_("The filter is now named “%(name)s”.") % {"name": saved.name},
    )


@require_POST
@agent_required
def delete(request: HttpRequest, saved_id: int) -> HttpResponse:
    actor = actor_for(request)
    saved = _mine(actor, saved_id)
    name = saved.name
    services.delete_filter(actor=actor, saved=saved)
    return _answer(
        request, actor, to=_back(request), done=_("“%(name)s” is deleted.") % {"name": name}
    )
