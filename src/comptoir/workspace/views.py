"""The agents' pages: queues of tickets, and one ticket with its timeline, composer and actions.

Open to people with a staff role on a desk (or superusers); others get a 403 page. Every read
goes through ``tickets.selectors``, every change through ``tickets.services``, as the API does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from comptoir.accounts.permissions import is_manager_on, is_staff_on, staff_desk_ids
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, NotFound
from comptoir.core.pagination import SortKey, page
from comptoir.core.text import render_markdown
from comptoir.desks.selectors import desks_visible_to, teams_visible_to
from comptoir.kb import selectors as kb_selectors
from comptoir.kb.permissions import can_link_to_ticket
from comptoir.portal.shared import (
    actions_for,
    actor_for,
    download,
    error_text,
    is_agent,
    timeline_context,
)
from comptoir.tickets import selectors, services
from comptoir.tickets.lifecycle import StatusCategory
from comptoir.tickets.models import Ticket
from comptoir.tickets.permissions import can_assign, can_link
from comptoir.workspace.forms import (
    LINK_WORDS,
    NO_TEAM,
    QUEUE_CHOICES,
    CommentForm,
    LinkForm,
    ListFilters,
    PreviewForm,
    age_bounds,
    bulk_form,
    end_of_today,
)
from comptoir.workspace.presence import live_context
from comptoir.workspace.rows import list_rows, rows_html
from comptoir.workspace.selectors import relations_of, row_query, saved_filters_of

PAGE_SIZE = 50
#: "All matching" bulk actions act on this many tickets at most; past it, nothing is done and
#: the list says to narrow the filters (each ticket is one transaction of its own).
ALL_MATCHING_CAP = 500
#: "Breaching soon": a running SLA target falls due within this many hours.
BREACHING_HOURS = 4
LIVE = [str(StatusCategory.OPEN), str(StatusCategory.PENDING)]


def agent_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Signed in, and working tickets on at least one desk; else a 403 page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_agent(actor_for(request)):
            return render(
                request,
                "core/error.html",
                {
                    "heading": _("For agents only"),
                    "text": _(
                        "The workspace is for the desks' agents. Your requests are in the portal."
                    ),
                },
                status=403,
            )
        return view(request, *args, **kwargs)

    return wrapped


def _my_desks(actor: Actor) -> list:
    desks = desks_visible_to(actor).order_by("name")
    if actor.is_superuser:
        return list(desks)
    return list(desks.filter(pk__in=staff_desk_ids(actor)))


@dataclass
class Matching:
    """The tickets a list's filters select, in the order the list shows them."""

    tickets: QuerySet[Ticket]
    sort: str
    queue: str
    values: dict[str, Any]
    form: ListFilters


def list_query(
    actor: Actor,
    desks: list,
    values: dict[str, Any],
    *,
    default_queue: str = "mine",
    default_states: list[str] | None = LIVE,
) -> dict[str, Any]:
    """The ``filter_tickets`` arguments (``desk_ids`` included) that a list's filters ask for.

    ``values`` are a ``ListFilters`` form's cleaned values. The queue reads them with its
    defaults (my tickets, open and pending); the search page with none (anyone's, any state).
    The ``team=none`` value is not an argument of ``filter_tickets``: the queue applies it.
    """
    queue_name = values.get("queue") or default_queue
    chosen = [d for d in desks if d.slug == values.get("desk")] or desks
    query: dict[str, Any] = {"desk_ids": [d.pk for d in chosen] or [0]}
    if values.get("state"):
        query["status_category"] = [values["state"]]
    elif default_states:
        query["status_category"] = default_states
    if values.get("priority"):
        query["priority"] = [values["priority"]]
    if values.get("team") and values["team"] != NO_TEAM:
        query["team_id"] = int(values["team"])
    if values.get("age"):
        query["created_after"], query["created_before"] = age_bounds(values["age"], timezone.now())
    if values.get("due") == "today":
        query["due_before"] = end_of_today()
    if queue_name == "mine":
        query["assignee_id"] = actor.user.pk if actor.user is not None else 0
    elif queue_name == "team":
        teams = teams_visible_to(actor).filter(members=actor.user)
        query["team_id"] = list(teams.values_list("pk", flat=True)) or [0]
    elif queue_name == "unassigned":
        query["assignee_id"] = None
    elif queue_name == "breaching":
        query["due_before"] = timezone.now() + timedelta(hours=BREACHING_HOURS)
    return query


def matching_tickets(actor: Actor, desks: list, data: Any) -> Matching:
    """The tickets the queue's filters (a query string) select for ``actor``, unpaged.

    The list page and "all matching" bulk actions read the same selection.
    """
    form = ListFilters(data, desks=desks)
    form.is_valid()  # an unknown value is dropped, and its default used
    values = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    queue_name = values.get("queue", "mine")
    sort = values.get("sort", "due" if queue_name == "breaching" else "-created")
    if queue_name == "breaching":
        sort = "due"
    query = list_query(actor, desks, values)
    tickets = selectors.filter_tickets(actor, sort=sort, **query)
    if values.get("team") == NO_TEAM:
        tickets = tickets.filter(team__isnull=True)
    return Matching(tickets, sort, queue_name, values, form)


@require_GET
@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    """A queue of tickets, filtered and sorted from the query string; htmx asks for the list only."""
    actor = actor_for(request)
    desks = _my_desks(actor)
    matching = matching_tickets(actor, desks, request.GET)
    field, descending, is_dt = selectors.SORT_KEYS[matching.sort]
    try:
        rows, next_cursor = page(
            row_query(matching.tickets),
            sort=matching.sort,
            key=SortKey(field, descending, is_dt),
            cursor=matching.values.get("cursor"),
            limit=PAGE_SIZE,
        )
    except DomainError:
        rows, next_cursor = [], None
        messages.error(request, _("That page link no longer fits this list: back to its start."))
    params = request.GET.copy()
    params.pop("cursor", None)
    shown = list_rows(rows)
    context = {
        # Only a list of more than one page offers "all matching": then it is counted.
        "matching_count": count_matching(matching.tickets) if next_cursor else 0,
        "matching_cap": ALL_MATCHING_CAP,
        "form": matching.form,
        "tickets": shown,
        "rows_html": rows_html(shown),
        "next_cursor": next_cursor,
        "queue": matching.queue,
        "queues": QUEUE_CHOICES,
        "params": params.urlencode(),
        "breaching_hours": BREACHING_HOURS,
        "bulk": bulk_form(actor, desks, PAGE_SIZE),
        "here": request.get_full_path(),
        "here_query": request.GET.urlencode(),
        "is_manager": any(is_manager_on(actor, d.pk) for d in desks),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "ticket-list":
        return render(request, "workspace/partials/_ticket_list.html", context)
    context["saved_filters"] = list(saved_filters_of(actor))
    context["team_filter"] = _team_words(actor, matching.values.get("team"))
    every_team = request.GET.copy()
    for name in ("team", "cursor"):
        every_team.pop(name, None)
    context["every_team"] = every_team.urlencode()
    return render(request, "workspace/queue.html", context)


def count_matching(tickets: QuerySet[Ticket]) -> int:
    """How many tickets match, counted no further than one past ``ALL_MATCHING_CAP``: the
    answer costs about the same on a million rows as on a thousand."""
    return tickets.order_by()[: ALL_MATCHING_CAP + 1].count()


def _team_words(actor: Actor, team: str | None) -> str:
    """The list's team filter in words (it has no field of its own: the dashboard sets it)."""
    if not team:
        return ""
    if team == NO_TEAM:
        return _("Only the tickets without a team.")
    name = teams_visible_to(actor).filter(pk=int(team)).values_list("name", flat=True).first()
    return _("Only the tickets of the team %(team)s.") % {"team": name or "?"}


def _ticket(actor: Actor, ref: str, *, for_update: bool = False) -> Ticket:
    try:
        return selectors.get_ticket_for(actor, ref, for_update=for_update)
    except NotFound as exc:
        raise Http404(_("No such ticket.")) from exc


def ticket_context(
    request: HttpRequest,
    actor: Actor,
    ticket: Ticket,
    *,
    form: CommentForm | None = None,
    typed: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the ticket's page shows, and what its partials need when redrawn alone."""
    return {
        **live_context(request, ticket, selectors.last_event_id(ticket), shown_state(ticket)),
        "ticket": ticket,
        **timeline_context(request, actor, ticket, internal=True),
        "form": form or CommentForm(),
        **actions_context(request, actor, ticket, typed=typed),
        "max_mb": settings.COMPTOIR_MAX_ATTACHMENT_SIZE // (1024 * 1024),
        **relations_context(actor, ticket),
        **knowledge_context(actor, ticket),
    }


def shown_state(ticket: Ticket) -> str:
    """What the page's buttons depend on (status and assignee), as the live strip carries it:
    when it differs from the ticket's, the next poll redraws the buttons."""
    return f"{ticket.status}.{ticket.assignee_id or 0}"


def actions_context(
    request: HttpRequest, actor: Actor, ticket: Ticket, *, typed: dict[str, str] | None = None
) -> dict[str, Any]:
    """The lifecycle's buttons for this reader and "assign to me"."""
    actions = actions_for(actor, ticket)
    return {
        "actions": [(t, bool(t.needs), (typed or {}).get(t.action, "")) for t in actions],
        "can_assign_me": (
            can_assign(actor, ticket)
            and ticket.assignee_id != request.user.pk
            and ticket.status_category != StatusCategory.CLOSED
        ),
        # A solved ticket's story may become an article ("Write an article from this ticket").
        "can_draft_article": (
            ticket.resolved_at is not None
            and ticket.status_category in (StatusCategory.RESOLVED, StatusCategory.CLOSED)
            and can_link_to_ticket(actor, ticket)
        ),
    }


#: Articles listed in a ticket's "Knowledge" panel, the most recently changed first.
KNOWLEDGE_SHOWN = 20


def knowledge_context(actor: Actor, ticket: Ticket, **extra: Any) -> dict[str, Any]:
    """The "Knowledge" panel: the articles linked to the ticket that the agent may read, each
    in the page's language (else English, else the first written); three queries."""
    linked = kb_selectors.articles_of_ticket(actor, ticket)
    rows = list(kb_selectors.with_list_relations(linked)[: KNOWLEDGE_SHOWN + 1])
    language = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return {
        "knowledge": [
            (article, kb_selectors.variant_for(article, language))
            for article in rows[:KNOWLEDGE_SHOWN]
        ],
        "more_knowledge": len(rows) > KNOWLEDGE_SHOWN,
        "can_link_articles": can_link_to_ticket(actor, ticket),
        **extra,
    }


def relations_context(actor: Actor, ticket: Ticket, **extra: Any) -> dict[str, Any]:
    """The links panel: the ticket's parent, children and links, and the form to add one."""
    relations = relations_of(actor, ticket)
    return {
        "relations": relations,
        "links": [(r, LINK_WORDS.get((r.kind, r.outgoing), r.kind)) for r in relations.links],
        "can_link": can_link(actor, ticket),
        "link_form": extra.pop("link_form", None) or LinkForm(),
        **extra,
    }


def _detail(
    request: HttpRequest,
    actor: Actor,
    ticket: Ticket,
    *,
    form: CommentForm | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = ticket_context(request, actor, ticket, form=form, typed=typed)
    return render(request, "workspace/ticket.html", context, status=status)


@require_GET
@agent_required
def ticket(request: HttpRequest, ref: str) -> HttpResponse:
    actor = actor_for(request)
    found = _ticket(actor, ref)
    if not is_staff_on(actor, found.desk_id):  # seen as a requester: the portal shows it
        return redirect("portal:ticket", ref=found.ref)
    return _detail(request, actor, found)


@require_POST
@agent_required
def comment(request: HttpRequest, ref: str) -> HttpResponse:
    """A reply or an internal note with its files; a refusal brings the page back, text kept."""
    actor = actor_for(request)
    form = CommentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, actor, _ticket(actor, ref), form=form, status=422)
    public = form.cleaned_data["visibility"] == "reply"
    uploads = [
        services.Upload(stream=f, name=f.name, declared_type=f.content_type, size=f.size)
        for f in request.FILES.getlist("uploads")
    ]
    try:
        with transaction.atomic():
            current = _ticket(actor, ref, for_update=True)
            added = services.add_comment(
                actor=actor, ticket=current, body=form.cleaned_data["body"], public=public
            )
            if uploads:
                services.add_attachments(
                    actor=actor, ticket=current, uploads=uploads, public=public, comment=added
                )
    except DomainError as exc:
        form.add_error(None, error_text(exc))
        return _detail(request, actor, _ticket(actor, ref), form=form, status=exc.http_status)
    messages.success(request, _("Reply sent.") if public else _("Note added."))
    return redirect("workspace:ticket", ref=current.ref)


@require_POST
@agent_required
def assign_to_me(request: HttpRequest, ref: str) -> HttpResponse:
    actor = actor_for(request)
    try:
        with transaction.atomic():
            current = _ticket(actor, ref, for_update=True)
            services.assign_ticket(actor=actor, ticket=current, agent=request.user)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, error_text(exc))
        return redirect("workspace:ticket", ref=ref)
    messages.success(request, _("%(ref)s is yours.") % {"ref": current.ref})
    return redirect("workspace:ticket", ref=current.ref)


@require_POST
@agent_required
def action(request: HttpRequest, ref: str, action: str) -> HttpResponse:
    """A lifecycle action; one that needs words (a resolution, a reason) takes them from the form."""
    actor = actor_for(request)
    text = (request.POST.get("text") or "").strip()
    try:
        with transaction.atomic():
            current = _ticket(actor, ref, for_update=True)
            transition = next((t for t in actions_for(actor, current) if t.action == action), None)
            if transition is None:
                raise DomainError(
                    ErrorCode.INVALID_TRANSITION,
                    _("This action is not possible now."),
                    {"action": action},
                )
            services.transition_ticket(
                actor=actor,
                ticket=current,
                action=action,
                resolution=text if "resolution" in transition.needs else None,
                reason=text if "reason" in transition.needs or action == "reopen" else None,
            )
    except DomainError as exc:
        found = _ticket(actor, ref)
        messages.error(request, error_text(exc))
        return _detail(request, actor, found, typed={action: text}, status=exc.http_status)
    label = current.lifecycle.state(current.status).label
    messages.success(
        request, _("%(ref)s is now “%(status)s”.") % {"ref": current.ref, "status": label}
    )
    return redirect("workspace:ticket", ref=current.ref)


@require_GET
@agent_required
def attachment(request: HttpRequest, ref: str, attachment_id: int) -> HttpResponseBase:
    actor = actor_for(request)
    current = _ticket(actor, ref)
    try:
        return download(selectors.get_attachment_for(actor, current, attachment_id))
    except NotFound as exc:
        raise Http404(_("No such file.")) from exc


@require_POST
@agent_required
def preview(request: HttpRequest) -> HttpResponse:
    """The composer's text as it will read once sent, by the renderer the services use."""
    form = PreviewForm(request.POST)
    too_long = not form.is_valid()
    body = "" if too_long else form.cleaned_data["body"]
    return render(
        request,
        "workspace/partials/_preview.html",
        {"html": render_markdown(body), "too_long": too_long, "empty": not body.strip()},
    )
