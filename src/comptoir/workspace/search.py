"""The workspace's search: one box in the workspace's bar, one page of results.

Tickets, articles and people, ranked, with the words found marked, through
``search.selectors.search`` — which shows only what the agent may see and applies the queue's
own filters to tickets (``views.list_query`` reads them from the query string, as the queue
does, with "anyone's" and "any state" for defaults). Every kind shows its first few matches;
a kind's tab shows them a page of 20 at a time.

A ticket reference typed alone (``IT-000042``) opens the ticket, and an article number
(``KB-12``) the article, when the search is sent (Enter); results that follow the typing
(htmx) list them first instead, so a half-typed reference never leaves the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from comptoir.accounts.permissions import can_manage_desk, is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import NotFound
from comptoir.desks.selectors import teams_visible_to
from comptoir.kb import selectors as kb_selectors
from comptoir.kb.services import PORTAL_ARTICLE_PATH
from comptoir.portal.shared import actor_for
from comptoir.search.query import read
from comptoir.search.selectors import KINDS, ArticleHit, Results, index_is_empty, search
from comptoir.tickets.selectors import get_ticket_for
from comptoir.workspace.forms import KIND_CHOICES, MAX_SEARCH_PAGES, SearchFilters
from comptoir.workspace.rows import hits_html
from comptoir.workspace.views import _my_desks, agent_required, list_query

#: Results of one kind on its tab's page.
PAGE_SIZE = 20
#: Results of each kind when every kind is shown at once.
FIRST_FEW = 5
RESULTS_TARGET = "search-results"


@dataclass
class Tab:
    kind: str
    label: str
    url: str
    total: int = 0
    bounded: bool = False
    current: bool = False


def _is_results_request(request: HttpRequest) -> bool:
    """htmx asking for the results alone (a history restore wants the whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target") == RESULTS_TARGET
        and not request.headers.get("HX-History-Restore-Request")
    )


def _direct(actor: Actor, text: str) -> HttpResponseBase | None:
    """A ticket reference or an article number typed alone: its page, if the agent may see it."""
    words = read(text)
    if words.ticket_ref:
        try:
            ticket = get_ticket_for(actor, words.ticket_ref)
        except NotFound:
            return None
        return redirect("workspace:ticket", ref=ticket.ref)
    if words.article_id is not None:
        try:
            article = kb_selectors.get_article_for(actor, words.article_id)
        except NotFound:
            return None
        return redirect("workspace:kb_article", article_id=article.pk)
    return None


def article_url(actor: Actor, hit: ArticleHit) -> str:
    """The workspace's page of the article for its desk's staff; the portal's for the others
    (another desk's article they may read is a published one, which the portal shows)."""
    if actor.is_superuser or is_staff_on(actor, hit.article.desk_id):
        return reverse("workspace:kb_article", args=[hit.article.pk])
    return PORTAL_ARTICLE_PATH.format(id=hit.article.pk, slug=hit.variant.slug)


def _link(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")})


@require_GET
@agent_required
def search_page(request: HttpRequest) -> HttpResponseBase:
    actor = actor_for(request)
    desks = _my_desks(actor)
    teams = (
        teams_visible_to(actor)
        .filter(desk_id__in=[d.pk for d in desks])
        .select_related("desk")
        .order_by("desk__name", "name")
    )
    form = SearchFilters(request.GET, desks=desks, teams=list(teams))
    form.is_valid()  # an unknown value is dropped, and its default used
    values = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    text = " ".join(str(values.get("q", "")).split())
    kind = values.get("kind", "")
    number = values.get("page", 1) if kind else 1
    if text and not _is_results_request(request) and number == 1 and kind in ("", "ticket"):
        direct = _direct(actor, text)
        if direct is not None:
            return direct

    filters = list_query(actor, desks, values, default_queue="", default_states=None)
    if not values.get("desk"):
        # Every desk the agent may see: their own requests, and other desks' public articles.
        filters.pop("desk_ids")
    limit = PAGE_SIZE if kind else FIRST_FEW
    found = search(
        actor,
        text,
        kinds=KINDS,
        limit=limit,
        offset=(number - 1) * PAGE_SIZE,
        filters=filters,
    )
    params = {**{k: v for k, v in values.items() if k != "page"}, "q": text}
    context = _results_context(actor, found, params, kind, number, limit)
    context.update(
        {
            "form": form,
            "text": text,
            "search_text": text,
            "search_live": True,
            "index_empty": bool(found.words)
            and not found.totals.get("ticket")
            and index_is_empty(),
            "may_rebuild": actor.is_superuser or any(can_manage_desk(actor, d) for d in desks),
        }
    )
    template = "workspace/partials/_search_results.html"
    if not _is_results_request(request):
        template = "workspace/search.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _results_context(
    actor: Actor, found: Results, params: dict[str, Any], kind: str, number: int, limit: int
) -> dict[str, Any]:
    labels = dict(KIND_CHOICES)
    kinds = [k for k in KINDS if k != "person" or "person" in found.totals]
    tabs = [Tab(kind="", label=str(labels[""]), url=_link(params, kind=""), current=not kind)]
    for name in kinds:
        tabs.append(
            Tab(
                kind=name,
                label=str(labels[name]),
                url=_link(params, kind=name),
                total=found.totals.get(name, 0),
                bounded=found.bounded.get(name, False),
                current=kind == name,
            )
        )
    sections = {tab.kind: tab for tab in tabs if tab.kind}
    shown = [kind] if kind else kinds
    total = sections[kind].total if kind in sections else 0
    more = bool(kind) and number * PAGE_SIZE < total and number < MAX_SEARCH_PAGES
    return {
        "words": found.words,
        "kind": kind,
        "tabs": tabs,
        "sections": sections,
        "shown": shown,
        "tickets": found.tickets,
        "ticket_hits": hits_html(found.tickets),
        "articles": [(hit, article_url(actor, hit)) for hit in found.articles],
        "people": found.people,
        "first_number": (number - 1) * PAGE_SIZE + 1,
        "next_url": _link(params, kind=kind, page=number + 1) if more else "",
        "previous_url": (
            _link(params, kind=kind, page=number - 1 if number > 2 else None) if number > 1 else ""
        ),
        "limit": limit,
    }
