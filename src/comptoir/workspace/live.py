"""A ticket's page kept current: new replies and changes appear without a reload, and the agents
see who else has the ticket open.

The page polls a small partial with the id of the last timeline event it shows. When nothing
changed, the answer costs one indexed query (``ticket_pulse_for``) and a cache round trip; when
something did, it also carries the timeline anew. Presence is a mark per ticket in the cache,
refreshed by the same poll and forgotten after ``PRESENCE_SECONDS`` without one.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import NotFound
from comptoir.portal.shared import actor_for, timeline
from comptoir.tickets import selectors
from comptoir.workspace.presence import live_context
from comptoir.workspace.views import agent_required


def _after(request: HttpRequest) -> int:
    value = request.GET.get("after") or ""
    return int(value) if value.isdigit() and len(value) < 19 else 0


@require_GET
@agent_required
def live(request: HttpRequest, ref: str) -> HttpResponse:
    """The live strip of a ticket's page; with the timeline anew when an event was added."""
    actor: Actor = actor_for(request)
    try:
        head, last_event_id = selectors.ticket_pulse_for(actor, ref)
    except NotFound as exc:
        raise Http404(_("No such ticket.")) from exc
    if not is_staff_on(actor, head.desk_id):
        raise Http404(_("No such ticket."))
    context = live_context(request, head, last_event_id)
    if last_event_id != _after(request):
        full = selectors.get_ticket_for(actor, ref)
        context.update(
            {"ticket": full, "entries": timeline(actor, full, internal=True), "fresh": True}
        )
    return render(request, "workspace/partials/_live.html", context)
