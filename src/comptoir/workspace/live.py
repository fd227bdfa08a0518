"""A ticket's page kept current: new replies and changes appear without a reload, and the agents
see who else has the ticket open.

The page polls a small partial with the id of the last timeline event it shows and the state
its buttons were drawn for (status and assignee). When nothing changed, the answer costs one
indexed query (``ticket_pulse_for``) and a cache round trip; when something did, it also
carries the timeline, the badges and the details anew, and the lifecycle's buttons when the
status or the assignee is not the one they were drawn for. Presence is a mark per ticket in the cache,
refreshed by the same poll and forgotten after ``PRESENCE_SECONDS`` without one.
"""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import NotFound
from comptoir.portal.shared import actor_for, timeline_context
from comptoir.tickets import selectors
from comptoir.workspace.presence import live_context
from comptoir.workspace.views import actions_context, agent_required, shown_state


def _after(request: HttpRequest) -> int:
    value = request.GET.get("after") or ""
    return int(value) if value.isdigit() and len(value) < 19 else 0


_SHOWN = re.compile(r"^[a-z_]{1,30}\.\d{1,19}$")


def _shown(request: HttpRequest) -> str:
    """The state the page's buttons were drawn for; anything else reads as unknown."""
    value = request.GET.get("shown") or ""
    return value if _SHOWN.match(value) else ""


@require_GET
@agent_required
def live(request: HttpRequest, ref: str) -> HttpResponse:
    """The live strip of a ticket's page; with the timeline anew when an event was added, and
    the badges, the details and (when the status or the assignee changed) the buttons."""
    actor: Actor = actor_for(request)
    try:
        head, last_event_id = selectors.ticket_pulse_for(actor, ref)
    except NotFound as exc:
        raise Http404(_("No such ticket.")) from exc
    if not is_staff_on(actor, head.desk_id):
        raise Http404(_("No such ticket."))
    shown = _shown(request)
    context = live_context(request, head, last_event_id, shown)
    if last_event_id != _after(request):
        full = selectors.get_ticket_for(actor, ref)
        now = shown_state(full)
        context.update(
            {
                "ticket": full,
                **timeline_context(request, actor, full, internal=True),
                "fresh": True,
                "shown": now,
            }
        )
        if now != shown:
            # The buttons are drawn anew only then: a half-typed resolution survives a reply.
            context.update(actions_context(request, actor, full), buttons=True)
            if now.split(".")[0] != shown.split(".")[0]:
                label = full.lifecycle.state(full.status).label
                context["status_news"] = _("%(ref)s is now “%(status)s”.") % {
                    "ref": full.ref,
                    "status": label,
                }
    return render(request, "workspace/partials/_live.html", context)
