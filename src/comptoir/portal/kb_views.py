"""The knowledge base as its readers see it: browse and search, one article, "did this help?",
and the articles suggested beside the new-request form.

Every read goes through ``kb.selectors`` (``articles_visible_to``, ``get_article_for``) and
``search.selectors.search``; every change through ``kb.services``. The portal shows published
articles only, and never an internal one, whoever reads: a visitor who is not signed in reads
the public ones, a requester also those restricted to their organisation. Anything else answers
404, like an article that does not exist.

A reader known only by their browser keeps one random key in their session (``READER``): their
"did this help?" answers and the suggestions they open are kept under it. It is data of the
session, not the session's own key, so it survives signing in: a ticket opened right after
signing in still cancels the suggestion read before.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from comptoir.core.actor import Actor, Channel
from comptoir.core.errors import DomainError, NotFound
from comptoir.core.files import download_response
from comptoir.core.pagination import SortKey, page
from comptoir.desks.models import Desk
from comptoir.kb import selectors as kb_selectors
from comptoir.kb import services as kb_services
from comptoir.kb.models import Article, ArticleStatus, ArticleVariant, Visibility
from comptoir.portal.forms import KbBrowseForm, KbFeedbackForm
from comptoir.portal.shared import actor_for, error_text
from comptoir.search.selectors import ArticleHit, search

#: Articles on a page of the list or of the search results.
PAGE_SIZE = 20
#: Search result pages a reader may walk through (the search ranks 1,000 at most anyway).
MAX_PAGES = 50
#: Articles suggested beside the new-request form, and the title's length before they are.
SUGGESTIONS = 5
MIN_QUERY = 3
MAX_QUERY = 250
#: The list's orders: newest change first (the index the list was built for), most read first.
SORTS = {"new": SortKey("updated_at", True, True), "views": SortKey("views", True)}

#: Session keys: the reader's key, their answers here, the last suggestion recorded.
READER = "kb_reader"
ANSWERS = "kb_answers"
OPENED = "kb_suggestion"
#: A suggestion's link carries the desk, the words typed and the reader, signed: a link made
#: up, changed, shared with someone else or older than this counts nothing.
SUGGESTION_SALT = "comptoir.portal.kb.suggestion"
SUGGESTION_MAX_AGE = 6 * 3600


# --- who reads, and what the portal shows them ----------------------------------------------


def reader_actor(request: HttpRequest) -> Actor:
    """The signed-in person on the portal channel, or a reader without an account."""
    if request.user.is_authenticated:
        return actor_for(request, Channel.PORTAL)
    return kb_selectors.anonymous()


def reader_key(request: HttpRequest, *, create: bool = True) -> str:
    """The browser's key for answers and suggestions, kept in its session ("" if none yet and
    ``create`` is false)."""
    key = request.session.get(READER)
    if isinstance(key, str) and key:
        return key
    if not create:
        return ""
    key = secrets.token_urlsafe(24)
    request.session[READER] = key
    return key


def readable(actor: Actor) -> QuerySet[Article]:
    """The articles the portal shows ``actor``: those they may read that are published and not
    internal. An agent reading the portal sees what a reader sees, as with a ticket's notes."""
    return (
        kb_selectors.articles_visible_to(actor)
        .filter(status=ArticleStatus.PUBLISHED)
        .exclude(visibility=Visibility.INTERNAL)
    )


def _article_for(actor: Actor, article_id: int) -> Article:
    """The article if the portal shows it to ``actor``; otherwise 404, whatever the reason."""
    try:
        article = kb_selectors.get_article_for(actor, article_id)
    except NotFound as exc:
        raise Http404(_("No such article.")) from exc
    if article.status != ArticleStatus.PUBLISHED or article.visibility == Visibility.INTERNAL:
        raise Http404(_("No such article."))
    return article


def _languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def _reader_language(request: HttpRequest) -> str:
    """The language asked for with ``?lang=``, else the page's."""
    asked = request.GET.get("lang", "")
    if asked in _languages():
        return asked
    return (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]


def _page_language() -> str:
    return (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]


def _article_url(article_id: int, variant: ArticleVariant, **params: str) -> str:
    """An article's page in ``variant``'s language (named only when it is not the page's)."""
    if variant.language != _page_language():
        params = {"lang": variant.language, **params}
    url = reverse("portal:kb_article", args=[article_id, variant.slug])
    return f"{url}?{urlencode(params)}" if params else url


def _is_htmx(request: HttpRequest, target: str) -> bool:
    return request.headers.get("HX-Request") == "true" and (
        request.headers.get("HX-Target") == target
    )


# --- browse and search ------------------------------------------------------------------------


@dataclass
class Row:
    """One article of a list: its title (safe HTML, found words marked), where it is filed."""

    article_id: int
    url: str
    title: SafeString
    desk: str
    category: str = ""
    snippet: SafeString | None = None
    updated_at: Any = None
    views: int | None = None


def _desks(articles: QuerySet[Article]) -> list[tuple[int, str, str, int]]:
    """The desks that hold articles the reader may read, with their counts: one grouped query."""
    return list(
        articles.values_list("desk_id", "desk__slug", "desk__name")
        .annotate(n=Count("id"))
        .order_by("desk__name")
    )


def _categories(
    articles: QuerySet[Article], desk_id: int | None
) -> list[tuple[int, str, str, int]]:
    """The categories (of ``desk_id``, or of every desk) that hold articles the reader may
    read, with their counts: one grouped query."""
    filed = articles.filter(category__isnull=False)
    if desk_id is not None:
        filed = filed.filter(desk_id=desk_id)
    return list(
        filed.values_list("category_id", "category__path", "desk__name")
        .annotate(n=Count("id"))
        .order_by("desk__name", "category__path")
    )


def _count_label(label: str, count: int) -> str:
    return f"{label} ({count})"


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The articles the reader may read, by desk and category, newest or most read first; or
    the best matches of a search. htmx swaps the results as the reader types."""
    actor = reader_actor(request)
    articles = readable(actor)
    data = request.GET.copy()
    desk_rows = _desks(articles)
    desk_id = {slug: pk for pk, slug, _name, _n in desk_rows}.get(data.get("desk", ""))
    if data.get("desk") and desk_id is None:
        data.pop("desk")  # a desk without an article the reader may read: every desk
    category_rows = _categories(articles, desk_id)
    several_desks = desk_id is None and len(desk_rows) > 1
    categories = [
        (
            str(pk),
            _count_label(f"{desk} › {path}" if several_desks else path, n),
        )
        for pk, path, desk, n in category_rows
    ]
    if data.get("category") and data["category"] not in {pk for pk, _label in categories}:
        data.pop("category")  # of another desk, or empty for this reader
    form = KbBrowseForm(
        data,
        desks=[(slug, _count_label(name, n)) for _pk, slug, name, n in desk_rows],
        categories=categories,
    )
    form.is_valid()
    chosen = form.cleaned_data
    query = " ".join(str(chosen.get("q") or "").split())
    category_id = int(chosen["category"]) if chosen.get("category") else None
    sort = chosen.get("sort") or "new"

    shown = articles
    if desk_id is not None:
        shown = shown.filter(desk_id=desk_id)
    if category_id is not None:
        shown = shown.filter(category_id=category_id)
    keep = {
        k: v
        for k, v in (("q", query), ("desk", data.get("desk", "")), ("category", category_id))
        if v
    }
    context: dict[str, Any] = {"form": form, "query": query, "searching": bool(query)}
    if query:
        context.update(_search_rows(actor, request, query, shown, desk_id, keep))
    else:
        try:
            context.update(_list_rows(request, shown, sort, {**keep, "sort": sort}))
        except DomainError as exc:  # a cursor of another order, or made up
            messages.error(request, error_text(exc))
            return redirect(f"{reverse('portal:kb')}?{urlencode({**keep, 'sort': sort})}")
    if _is_htmx(request, "kb-results"):
        response = render(request, "portal/kb/_results.html", {**context, "oob": True})
    else:
        response = render(request, "portal/kb/index.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _list_rows(
    request: HttpRequest, shown: QuerySet[Article], sort: str, keep: dict[str, Any]
) -> dict[str, Any]:
    """One keyset page of the list: three queries (the page, its languages, its tags)."""
    rows, next_cursor = page(
        kb_selectors.with_list_relations(shown),
        sort=sort,
        key=SORTS[sort],
        cursor=request.GET.get("cursor") or None,
        limit=PAGE_SIZE,
    )
    language = _page_language()
    found: list[Row] = []
    for article in rows:
        variant = kb_selectors.variant_for(article, language)
        if variant is None:
            continue
        found.append(
            Row(
                article_id=article.pk,
                url=_article_url(article.pk, variant),
                title=escape(variant.title),
                desk=article.desk.name,
                category=article.category.path if article.category else "",
                updated_at=article.updated_at,
                views=article.views,
            )
        )
    more = f"?{urlencode({**keep, 'cursor': next_cursor})}" if next_cursor else ""
    return {
        "rows": found,
        "next_url": more,
        "first_page": not request.GET.get("cursor"),
        "first_url": f"?{urlencode(keep)}",
    }


def _page_number(request: HttpRequest) -> int:
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGES)


def _search_rows(
    actor: Actor,
    request: HttpRequest,
    query: str,
    shown: QuerySet[Article],
    desk_id: int | None,
    keep: dict[str, Any],
) -> dict[str, Any]:
    """The best matches, a page at a time; narrowed to what the portal shows and the category
    chosen in one query over the page's ids, which also gives their categories."""
    number = _page_number(request)
    results = search(
        actor,
        query,
        kinds=("article",),
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
        filters={"desk_ids": [desk_id]} if desk_id is not None else None,
    )
    hits = results.articles
    filed = dict(
        shown.filter(pk__in=[hit.article.pk for hit in hits]).values_list("pk", "category__path")
    )
    found = [
        Row(
            article_id=hit.article.pk,
            url=_article_url(hit.article.pk, hit.variant),
            # The search marks found words in text it escaped first: safe HTML.
            title=mark_safe(hit.title) if hit.title else escape(hit.variant.title),  # noqa: S308
            snippet=mark_safe(hit.snippet),  # noqa: S308
            desk=hit.article.desk.name,
            category=filed[hit.article.pk] or "",
        )
        for hit in hits
        if hit.article.pk in filed
    ]
    total = results.totals.get("article", 0)
    more = number * PAGE_SIZE < total and number < MAX_PAGES
    return {
        "rows": found,
        "total": total,
        "next_url": f"?{urlencode({**keep, 'page': number + 1})}" if more else "",
        "first_page": number == 1,
        "first_url": f"?{urlencode(keep)}",
    }


# --- one article -----------------------------------------------------------------------------


@dataclass
class Suggestion:
    """The article was opened from the suggestions beside the new-request form."""

    query: str
    desk: Desk

    @property
    def back_to_form(self) -> str:
        return f"{reverse('portal:new')}?{urlencode({'desk': self.desk.slug, 'title': self.query})}"


def suggestion_link(
    article_id: int, variant: ArticleVariant, *, desk_id: int, query: str, reader: str
) -> str:
    token = signing.dumps(
        {"d": desk_id, "q": query, "r": reader}, salt=SUGGESTION_SALT, compress=True
    )
    return _article_url(article_id, variant, suggested=token)


def _opened_from_suggestion(
    request: HttpRequest, actor: Actor, article: Article
) -> Suggestion | None:
    """A suggestion's link, checked: record the candidate deflection (once per link)."""
    token = request.GET.get("suggested", "")
    if not token or len(token) > 2000:
        return None
    try:
        data = signing.loads(token, salt=SUGGESTION_SALT, max_age=SUGGESTION_MAX_AGE)
    except signing.BadSignature:
        return None
    reader = reader_key(request, create=False)
    if (
        not isinstance(data, dict)
        or data.get("d") != article.desk_id
        or not reader
        or data.get("r") != reader
    ):
        return None
    query = str(data.get("q") or "")[:MAX_QUERY]
    digest = hashlib.sha256(f"{article.pk}:{token}".encode()).hexdigest()
    if request.session.get(OPENED) != digest:  # a reload counts once
        kb_services.record_deflection_candidate(
            actor=actor, article=article, desk=article.desk, session_key=reader, query=query
        )
        request.session[OPENED] = digest
    return Suggestion(query=query, desk=article.desk)


def _answers(request: HttpRequest) -> dict[str, bool]:
    answers = request.session.get(ANSWERS)
    return answers if isinstance(answers, dict) else {}


def _article_page(
    request: HttpRequest,
    article: Article,
    *,
    form: KbFeedbackForm | None = None,
    suggestion: Suggestion | None = None,
    status: int = 200,
) -> HttpResponse:
    full = kb_selectors.with_detail_relations(article)
    asked = _reader_language(request)
    variant = kb_selectors.variant_for(full, asked)
    if variant is None:
        raise Http404(_("No such article."))
    order = {code: n for n, code in enumerate(_languages())}
    variants = sorted(full.variants.all(), key=lambda v: (order.get(v.language, len(order)), v.pk))
    languages = [
        {
            "code": v.language,
            "name": translation.get_language_info(v.language)["name_local"],
            "url": reverse("portal:kb_article", args=[full.pk, v.slug]) + f"?lang={v.language}",
            "current": v.pk == variant.pk,
        }
        for v in variants
    ]
    return render(
        request,
        "portal/kb/article.html",
        {
            "article": full,
            "variant": variant,
            "languages": languages,
            "fallback": variant.language != asked,
            "attachments": list(full.attachments.all()),
            "suggestion": suggestion,
            "solved_url": reverse(
                "portal:tickets" if request.user.is_authenticated else "portal:kb"
            ),
            "feedback_form": form or KbFeedbackForm(),
            "answer": _answers(request).get(str(full.pk)),
        },
        status=status,
    )


@require_GET
def article(request: HttpRequest, article_id: int, slug: str) -> HttpResponse:
    """An article in the reader's language (else English, else the first written), its files,
    "did this help?"; opened from a suggestion, "solved" or "I still need help"."""
    actor = reader_actor(request)
    found = _article_for(actor, article_id)
    kb_services.record_view(actor=actor, article=found)
    suggestion = _opened_from_suggestion(request, actor, found)
    return _article_page(request, found, suggestion=suggestion)


@require_GET
def article_short(request: HttpRequest, article_id: int) -> HttpResponseBase:
    """``/portal/kb/12/``: the article's page, with its title in the address."""
    found = _article_for(reader_actor(request), article_id)
    variant = kb_selectors.variant_for(found, _page_language())
    if variant is None:
        raise Http404(_("No such article."))
    return redirect(_article_url(found.pk, variant))


@require_POST
def feedback(request: HttpRequest, article_id: int) -> HttpResponse:
    """Yes or no, with an optional comment; a second answer replaces the first. htmx swaps
    the answer in place; without script the page comes back with a message."""
    actor = reader_actor(request)
    found = _article_for(actor, article_id)
    form = KbFeedbackForm(request.POST)
    recorded = False
    if form.is_valid():
        try:
            kb_services.give_feedback(
                actor=actor,
                article=found,
                helpful=form.cleaned_data["helpful"],
                comment=form.cleaned_data["comment"],
                language=form.cleaned_data["language"] or _page_language(),
                session_key="" if request.user.is_authenticated else reader_key(request),
            )
        except DomainError as exc:
            form.add_error(None, error_text(exc))
        else:
            recorded = True
            answers = _answers(request)
            answers[str(found.pk)] = form.cleaned_data["helpful"]
            request.session[ANSWERS] = dict(list(answers.items())[-200:])
    if _is_htmx(request, "kb-feedback-form"):
        answer = _answers(request).get(str(found.pk))
        return render(
            request,
            "portal/kb/_feedback.html",
            {
                "article": found,
                "variant_language": request.POST.get("language", ""),
                "feedback_form": KbFeedbackForm() if recorded else form,
                "answer": answer,
                "recorded": recorded,
                "oob": True,
            },
        )
    if recorded:
        messages.success(request, _("Thank you: your answer was recorded."))
        shown = kb_selectors.variant_for(found, form.cleaned_data["language"] or _page_language())
        url = _article_url(found.pk, shown) if shown is not None else reverse("portal:kb")
        return redirect(f"{url}#kb-feedback")
    return _article_page(request, found, form=form, status=422)


@require_GET
def attachment(request: HttpRequest, article_id: int, attachment_id: int) -> HttpResponseBase:
    """A file of an article, for whoever the portal shows the article to."""
    actor = reader_actor(request)
    found = _article_for(actor, article_id)
    try:
        file = kb_selectors.get_attachment_for(actor, found, attachment_id)
    except NotFound as exc:
        raise Http404(_("No such file.")) from exc
    return download_response(
        file.file.open("rb"), filename=file.filename, content_type=file.content_type
    )


# --- suggestions beside the new-request form --------------------------------------------------


@dataclass
class Suggested:
    url: str
    title: SafeString
    snippet: SafeString


def _suggestion_hits(actor: Actor, query: str, desk_id: int) -> list[ArticleHit]:
    """The articles of the desk matching the title typed, those matching more of its words
    first: a title often holds words no article has ("my printer jams again")."""
    return search(
        actor,
        query,
        kinds=("article",),
        limit=SUGGESTIONS,
        filters={"desk_ids": [desk_id]},
        any_word=True,
    ).articles


@require_GET
def suggest(request: HttpRequest) -> HttpResponse:
    """Up to five articles of the chosen desk matching the title typed (three characters at
    least), each linked with a signed marker so that opening it counts a candidate deflection."""
    actor = reader_actor(request)
    typed = request.GET.get("q") or request.GET.get("title") or ""
    query = " ".join(typed.split())[:MAX_QUERY]
    desk_slug = request.GET.get("desk", "")
    found: list[Suggested] = []
    if len(query) >= MIN_QUERY and desk_slug:
        articles = readable(actor)
        desk_id = articles.filter(desk__slug=desk_slug).values_list("desk_id", flat=True).first()
        if desk_id is not None:
            hits = _suggestion_hits(actor, query, desk_id)
            shown = set(
                articles.filter(pk__in=[hit.article.pk for hit in hits]).values_list(
                    "pk", flat=True
                )
            )
            reader = reader_key(request) if shown else ""
            found = [
                Suggested(
                    url=suggestion_link(
                        hit.article.pk, hit.variant, desk_id=desk_id, query=query, reader=reader
                    ),
                    # The search marks found words in text it escaped first: safe HTML.
                    title=mark_safe(hit.title) if hit.title else escape(hit.variant.title),  # noqa: S308
                    snippet=mark_safe(hit.snippet),  # noqa: S308
                )
                for hit in hits
                if hit.article.pk in shown
            ][:SUGGESTIONS]
    response = render(request, "portal/kb/_suggestions.html", {"suggestions": found})
    patch_vary_headers(response, ["HX-Request"])
    return response
