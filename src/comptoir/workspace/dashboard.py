"""The managers' dashboard: the open work of the desks they lead, in a few numbers.

Open tickets by desk, team, priority and age; those due by the end of today; unassigned; and
tickets created and resolved each day of this week. Every figure is one aggregate query over
``tickets.selectors.filter_tickets`` (a constant number of queries whatever the volume), and
every figure but the week's links to the queue that lists those tickets.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from comptoir.accounts.permissions import is_manager_on
from comptoir.desks.priority import Priority
from comptoir.portal.shared import actor_for
from comptoir.tickets import selectors
from comptoir.workspace.forms import AGE_BANDS, NO_TEAM, age_bounds, end_of_today
from comptoir.workspace.views import LIVE, _my_desks, agent_required


def _link(**params: Any) -> str:
    return f"{reverse('workspace:queue')}?{urlencode({'queue': 'open', **params})}"


@require_GET
@agent_required
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    desks = [d for d in _my_desks(actor) if is_manager_on(actor, d.pk)]
    if not desks:
        return render(
            request,
            "core/error.html",
            {
                "heading": _("For desk managers"),
                "text": _("The dashboard is for the managers and administrators of a desk."),
            },
            status=403,
        )
    now = timezone.now()
    desk_ids = [d.pk for d in desks]
    one_desk = {"desk": desks[0].slug} if len(desks) == 1 else {}
    live = selectors.filter_tickets(actor, desk_ids=desk_ids, status_category=LIVE).order_by()

    by_desk = dict(live.values_list("desk_id").annotate(n=Count("id")))
    teams = live.values("team_id", "team__name", "desk_id").annotate(n=Count("id"))
    by_priority = dict(live.values_list("priority").annotate(n=Count("id")))
    bands = {key: Count("id", filter=_band_q(key, now)) for key, _label in AGE_BANDS if key}
    totals = live.aggregate(
        total=Count("id"),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        due_today=Count("id", filter=Q(sla_due_at__lt=end_of_today())),
        **bands,
    )
    week = _week(actor, desk_ids, now)
    names = {d.pk: d.name for d in desks}
    slugs = {d.pk: d.slug for d in desks}
    context = {
        "total": totals["total"],
        "unassigned": (totals["unassigned"], _link(queue="unassigned", **one_desk)),
        "due_today": (totals["due_today"], _link(due="today", **one_desk)),
        "by_desk": [(d.name, by_desk.get(d.pk, 0), _link(desk=d.slug)) for d in desks],
        "by_team": sorted(
            (
                (
                    row["team__name"] or _("No team"),
                    names[row["desk_id"]],
                    row["n"],
                    _link(team=row["team_id"])
                    if row["team_id"]
                    else _link(team=NO_TEAM, desk=slugs[row["desk_id"]]),
                )
                for row in teams
            ),
            key=lambda r: (r[1], r[0]),
        ),
        "by_priority": [
            (p.label, p.value, by_priority.get(p.value, 0), _link(priority=p.value, **one_desk))
            for p in Priority
        ],
        "by_age": [
            (label, totals[key], _link(age=key, **one_desk)) for key, label in AGE_BANDS if key
        ],
        "week": week,
        "desks": desks,
    }
    return render(request, "workspace/dashboard.html", context)


def _band_q(key: str, now: datetime) -> Q:
    newer, older = age_bounds(key, now)
    q = Q()
    if newer is not None:
        q &= Q(created_at__gte=newer)
    if older is not None:
        q &= Q(created_at__lt=older)
    return q


def _week(actor, desk_ids: list[int], now: datetime) -> list[tuple[Any, int, int]]:
    """Each day of this week (Monday first, in the reader's zone): created, resolved."""
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    start = timezone.make_aware(datetime.combine(monday, time.min))
    tickets = selectors.filter_tickets(actor, desk_ids=desk_ids).order_by()
    created = dict(
        tickets.filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("id"))
    )
    resolved = dict(
        tickets.filter(resolved_at__gte=start)
        .annotate(day=TruncDate("resolved_at", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("id"))
    )
    days = [monday + timedelta(days=n) for n in range(7)]
    return [(day, created.get(day, 0), resolved.get(day, 0)) for day in days]
