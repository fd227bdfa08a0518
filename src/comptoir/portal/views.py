"""The requesters' pages: their requests, a new request, one request's public conversation.

Each view is a few lines: the form → the selector or service → the page. A ticket the person
may not see answers 404, like one that does not exist. Internal notes never reach these pages,
whoever reads them.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from comptoir.core.actor import Actor, Channel
from comptoir.core.errors import DomainError, NotFound
from comptoir.core.pagination import SortKey, page
from comptoir.desks.selectors import (
    categories_of,
    desks_visible_to,
    resolve_category,
    resolve_desk,
)
from comptoir.kb import services as kb_services
from comptoir.portal.forms import ActionForm, NewTicketForm, RatingForm, ReplyForm
from comptoir.portal.kb_views import reader_key
from comptoir.portal.rows import request_rows_html
from comptoir.portal.shared import (
    actions_for,
    actor_for,
    download,
    error_text,
    timeline_context,
)
from comptoir.tickets import selectors, services
from comptoir.tickets.models import Ticket
from comptoir.tickets.permissions import can_rate
from comptoir.tickets.services import MAX_TITLE

PAGE_SIZE = 25
#: What a requester's buttons say: the lifecycle's words are the agents'.
REQUESTER_LABELS = {
    "close": gettext_lazy("Confirm it is solved"),
    "reopen": gettext_lazy("It is not solved: reopen"),
    "cancel": gettext_lazy("Cancel my request"),
}


def _actor(request: HttpRequest) -> Actor:
    return actor_for(request, Channel.PORTAL)


def _ticket(actor: Actor, ref: str, *, for_update: bool = False) -> Ticket:
    try:
        return selectors.get_ticket_for(actor, ref, for_update=for_update)
    except NotFound as exc:
        raise Http404(_("No such request.")) from exc


def _uploads(request: HttpRequest) -> list[services.Upload]:
    return [
        services.Upload(stream=f, name=f.name, declared_type=f.content_type, size=f.size)
        for f in request.FILES.getlist("uploads")
    ]


@require_GET
@login_required
def tickets(request: HttpRequest) -> HttpResponse:
    """The person's requests, newest first; their organisation's too where it shares them."""
    actor = _actor(request)
    user = request.user
    organisation = getattr(user, "organisation", None)
    shared = organisation is not None and organisation.members_see_all_tickets
    scope = request.GET.get("scope") if shared else "mine"
    if scope == "organisation" and organisation is not None:
        found = selectors.filter_tickets(actor, organisation_id=organisation.pk)
    else:
        scope = "mine"
        found = selectors.filter_tickets(actor, requester_id=user.pk)
    try:
        rows, next_cursor = page(
            selectors.with_requester(found),
            sort="-created",
            key=SortKey("created_at", True, True),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except DomainError as exc:
        messages.error(request, error_text(exc))
        return redirect("portal:tickets")
    return render(
        request,
        "portal/tickets.html",
        {
            "tickets": rows,
            "rows_html": request_rows_html(rows, with_requester=scope == "organisation"),
            "next_cursor": next_cursor,
            "scope": scope,
            "shared": shared,
        },
    )


@login_required
def new(request: HttpRequest) -> HttpResponse:
    """A new request: desk, kind, category, title, description and files, all kept or none."""
    actor = _actor(request)
    desks = list(desks_visible_to(actor).order_by("name"))
    categories = [c for d in desks for c in categories_of(d).select_related("desk")]
    # "I still need help" on a suggested article comes back with the desk and the title typed.
    initial = {
        name: request.GET[name][:limit]
        for name, limit in (("desk", 60), ("title", MAX_TITLE))
        if request.method == "GET" and request.GET.get(name)
    }
    if request.method == "GET" and "desk" not in initial and len(desks) > 1:
        # Chosen at first: the desk they asked last time, rather than the first by name.
        last = selectors.last_desk_of(actor.user.pk) if actor.user else None
        slug = next((d.slug for d in desks if d.pk == last), None)
        if slug:
            initial["desk"] = slug
    form = NewTicketForm(
        request.POST or None,
        request.FILES or None,
        desks=desks,
        categories=categories,
        initial=initial,
    )
    status = 200
    if request.method == "POST" and form.is_valid():
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
                    description=data["description"],
                    category=category,
                )
                uploads = _uploads(request)
                if uploads:
                    services.add_attachments(actor=actor, ticket=ticket, uploads=uploads)
                # The suggestions this browser opened on the desk did not deflect the request
                # (a signed-in person's are also cancelled by ``kb.handlers`` once it commits).
                reader = reader_key(request, create=False)
                if reader:
                    kb_services.note_ticket_opened(
                        actor=actor, desk=desk, ticket=ticket, session_key=reader
                    )
        except DomainError as exc:
            form.add_error(None, error_text(exc))
            status = exc.http_status if exc.http_status < 500 else 422
        else:
            messages.success(request, _("Your request %(ref)s is open.") % {"ref": ticket.ref})
            return redirect("portal:ticket", ref=ticket.ref)
    elif request.method == "POST":
        status = 422
    return render(
        request,
        "portal/new.html",
        {
            "form": form,
            "no_desk": not desks,
            "max_mb": settings.COMPTOIR_MAX_ATTACHMENT_SIZE // (1024 * 1024),
        },
        status=status,
    )


def _detail(
    request: HttpRequest,
    actor: Actor,
    ticket: Ticket,
    *,
    form: ReplyForm | None = None,
    rating_form: RatingForm | None = None,
    status: int = 200,
) -> HttpResponse:
    rating = selectors.current_rating_of(ticket) if services.can_be_rated(ticket) else None
    return render(
        request,
        "portal/ticket.html",
        {
            "ticket": ticket,
            **timeline_context(request, actor, ticket, internal=False),
            "form": form or ReplyForm(),
            "actions": [
                (t.action, REQUESTER_LABELS.get(t.action, t.label), t.action == "reopen")
                for t in actions_for(actor, ticket, requester_only=True)
            ],
            "can_reply": ticket.is_live or ticket.status_category == "resolved",
            "rating": rating,
            "rating_form": (rating_form or RatingForm())
            if rating is None and services.can_be_rated(ticket) and can_rate(actor, ticket)
            else None,
            "max_mb": settings.COMPTOIR_MAX_ATTACHMENT_SIZE // (1024 * 1024),
        },
        status=status,
    )


@require_GET
@login_required
def ticket(request: HttpRequest, ref: str) -> HttpResponse:
    actor = _actor(request)
    return _detail(request, actor, _ticket(actor, ref))


@require_POST
@login_required
def reply(request: HttpRequest, ref: str) -> HttpResponse:
    """A public reply with its files; on a refusal the page comes back with the text kept."""
    actor = _actor(request)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, actor, _ticket(actor, ref), form=form, status=422)
    try:
        with transaction.atomic():
            current = _ticket(actor, ref, for_update=True)
            comment = services.add_comment(
                actor=actor, ticket=current, body=form.cleaned_data["body"], public=True
            )
            uploads = _uploads(request)
            if uploads:
                services.add_attachments(
                    actor=actor, ticket=current, uploads=uploads, public=True, comment=comment
                )
    except DomainError as exc:
        form.add_error(None, error_text(exc))
        return _detail(request, actor, _ticket(actor, ref), form=form, status=exc.http_status)
    messages.success(request, _("Your reply was sent."))
    return redirect("portal:ticket", ref=current.ref)


@require_POST
@login_required
def action(request: HttpRequest, ref: str, action: str) -> HttpResponse:
    """Confirm a resolution, reopen or cancel, as the lifecycle allows the requester."""
    actor = _actor(request)
    form = ActionForm(request.POST)
    text = form.cleaned_data["text"] if form.is_valid() else ""
    try:
        with transaction.atomic():
            current = _ticket(actor, ref, for_update=True)
            if action not in {t.action for t in actions_for(actor, current, requester_only=True)}:
                raise Http404(_("No such action."))
            services.transition_ticket(
                actor=actor, ticket=current, action=action, reason=text or None
            )
    except DomainError as exc:
        messages.error(request, error_text(exc))
        return redirect("portal:ticket", ref=ref)
    label = current.lifecycle.state(current.status).label
    messages.success(request, _("Done: the request is now “%(status)s”.") % {"status": label})
    return redirect("portal:ticket", ref=current.ref)


@require_GET
@login_required
def attachment(request: HttpRequest, ref: str, attachment_id: int) -> HttpResponseBase:
    actor = _actor(request)
    current = _ticket(actor, ref)
    try:
        found = selectors.get_attachment_for(actor, current, attachment_id)
    except NotFound as exc:
        raise Http404(_("No such file.")) from exc
    if not found.public:
        raise Http404(_("No such file."))
    return download(found)


@require_POST
@login_required
def rate(request: HttpRequest, ref: str) -> HttpResponse:
    """The requester rates the resolution: satisfied or not, with an optional comment."""
    actor = _actor(request)
    form = RatingForm(request.POST)
    if not form.is_valid():
        return _detail(request, actor, _ticket(actor, ref), rating_form=form, status=422)
    try:
        with transaction.atomic():
            current = _ticket(actor, ref, for_update=True)
            services.rate_ticket(
                actor=actor,
                ticket=current,
                satisfied=form.cleaned_data["satisfied"],
                comment=form.cleaned_data["comment"],
            )
    except DomainError as exc:
        messages.error(request, error_text(exc))
        return redirect("portal:ticket", ref=ref)
    messages.success(request, _("Thank you: your rating was recorded."))
    return redirect("portal:ticket", ref=current.ref)
