"""The knowledge base on a ticket's page: the articles linked to the ticket, an article picker
in the composer, and an article drafted from a solved ticket.

- The "Knowledge" panel lists ``kb.selectors.articles_of_ticket`` and links or unlinks one
  through ``kb.services.link_article`` / ``unlink_article`` (htmx swaps the panel; without
  script the page comes back with the outcome).
- The pickers search articles through ``search.selectors.search(kinds=("article",))``, so
  they find what the agent may read, ranked, found words marked.
- "Insert" asks ``kb.services.article_insert`` for a link to the article's portal page or its
  text, in the requester's language, as plain text; ``workspace.js`` puts it where the cursor
  was in the reply.
- "Write an article from this ticket" calls ``kb.services.draft_article_from_ticket`` and
  opens the new draft.

Each is for the staff of the ticket's desk (others: 404, like the links panel).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, NotFound
from comptoir.kb import selectors as kb_selectors
from comptoir.kb import services as kb_services
from comptoir.kb.models import Article, ArticleStatus, Visibility
from comptoir.portal.shared import actor_for
from comptoir.search.selectors import search
from comptoir.tickets.models import Ticket
from comptoir.workspace.kb import kb_error_text
from comptoir.workspace.relations import _staff_ticket
from comptoir.workspace.views import agent_required, knowledge_context

#: Articles a picker lists.
PICKER_SHOWN = 10
#: Characters of the picker's words read.
MAX_WORDS = 200


def reply_language(ticket: Ticket) -> str:
    """The language a reply to the requester is written in: theirs, else the default one."""
    own = ticket.requester.locale if ticket.requester_id else ""
    return own if own in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _linkable(article: Article) -> bool:
    """A link reaches a requester only for an article the portal shows."""
    return article.status == ArticleStatus.PUBLISHED and article.visibility != Visibility.INTERNAL


@require_GET
@agent_required
def picker(request: HttpRequest, ref: str) -> HttpResponse:
    """Articles matching the words typed, to insert into the reply or to link to the ticket."""
    actor = actor_for(request)
    ticket = _staff_ticket(actor, ref)
    purpose = "link" if request.GET.get("for") == "link" else "insert"
    typed = request.GET.get("article_q") or request.GET.get("article") or ""
    text = " ".join(typed[:MAX_WORDS].split())
    hits = search(actor, text, kinds=("article",), limit=PICKER_SHOWN).articles if text else []
    linked: set[int] = set()
    if purpose == "link" and hits:
        linked = set(
            kb_selectors.articles_of_ticket(actor, ticket)
            .filter(pk__in=[hit.article.pk for hit in hits])
            .values_list("pk", flat=True)
        )
    return render(
        request,
        "workspace/partials/_article_picker.html",
        {
            "ticket": ticket,
            "purpose": purpose,
            "text": text,
            "rows": [(hit, _linkable(hit.article), hit.article.pk in linked) for hit in hits],
            "more": len(hits) >= PICKER_SHOWN,
        },
    )


@require_GET
@agent_required
def insert(request: HttpRequest, article_id: int, ref: str) -> HttpResponse:
    """The text to insert in the reply, as plain text: a Markdown link to the article's portal
    page (``mode=link``) or its Markdown text (``mode=text``); a refusal in words."""
    actor = actor_for(request)
    ticket = _staff_ticket(actor, ref)
    mode = request.GET.get("mode", "link")
    try:
        article = kb_selectors.get_article_for(actor, article_id)
        text = kb_services.article_insert(
            actor=actor, article=article, language=reply_language(ticket), mode=mode
        )
    except NotFound:
        return _plain(_("No article KB-%(id)s was found.") % {"id": article_id}, 404)
    except DomainError as exc:
        if exc.code == ErrorCode.INVALID_TRANSITION:
            words = _("Only a published article that readers may see is linked: insert its text.")
        else:
            words = kb_error_text(exc)
        return _plain(words, exc.http_status)
    return _plain(text if mode == "link" else text.strip() + "\n", 200)


def _plain(text: str, status: int) -> HttpResponse:
    response = HttpResponse(text, content_type="text/plain; charset=utf-8", status=status)
    response["Cache-Control"] = "private, no-store"
    return response


def _answer(
    request: HttpRequest,
    actor: Actor,
    ticket: Ticket,
    *,
    done: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """htmx: the panel anew (a refusal too, so htmx swaps it); else the page, with a message."""
    if not request.headers.get("HX-Request"):
        if error:
            messages.error(request, error)
        elif done:
            messages.success(request, done)
        return redirect("workspace:ticket", ref=ticket.ref)
    context = {"ticket": ticket, **knowledge_context(actor, ticket, done=done, error=error)}
    return render(request, "workspace/partials/_knowledge.html", context)


def _posted_article(request: HttpRequest, actor: Actor) -> tuple[Article | None, str]:
    raw = (request.POST.get("article") or "").strip().upper().removeprefix("KB-")
    if not raw.isdigit() or len(raw) > 12:
        return None, _("Type the article's number (KB-12), or choose it in the list.")
    try:
        return kb_selectors.get_article_for(actor, int(raw)), ""
    except NotFound:
        return None, _("No article KB-%(id)s was found.") % {"id": raw}


@require_POST
@agent_required
def link(request: HttpRequest, ref: str) -> HttpResponse:
    actor = actor_for(request)
    ticket = _staff_ticket(actor, ref)
    article, error = _posted_article(request, actor)
    if article is None:
        return _answer(request, actor, ticket, error=error)
    try:
        _link, created = kb_services.link_article(actor=actor, article=article, ticket=ticket)
    except DomainError as exc:
        return _answer(request, actor, ticket, error=kb_error_text(exc))
    words = (
        _("%(article)s is linked to this ticket.")
        if created
        else _("%(article)s was already linked to this ticket.")
    )
    return _answer(request, actor, ticket, done=words % {"article": f"KB-{article.pk}"})


@require_POST
@agent_required
def unlink(request: HttpRequest, ref: str) -> HttpResponse:
    actor = actor_for(request)
    ticket = _staff_ticket(actor, ref)
    article, error = _posted_article(request, actor)
    if article is None:
        return _answer(request, actor, ticket, error=error)
    try:
        kb_services.unlink_article(actor=actor, article=article, ticket=ticket)
    except DomainError as exc:
        if exc.code == ErrorCode.LINK_INVALID:
            words = _("%(article)s is not linked to this ticket.")
            return _answer(request, actor, ticket, error=words % {"article": f"KB-{article.pk}"})
        return _answer(request, actor, ticket, error=kb_error_text(exc))
    return _answer(
        request,
        actor,
        ticket,
        done=_("%(article)s is no longer linked to this ticket.") % {"article": f"KB-{article.pk}"},
    )


@require_POST
@agent_required
def draft(request: HttpRequest, ref: str) -> HttpResponseBase:
    """An internal draft told from the solved ticket, linked to it; its edit page opens."""
    actor = actor_for(request)
    ticket = _staff_ticket(actor, ref)
    try:
        created = kb_services.draft_article_from_ticket(actor=actor, ticket=ticket)
    except DomainError as exc:
        messages.error(request, kb_error_text(exc))
        return redirect("workspace:ticket", ref=ticket.ref)
    messages.success(
        request,
        _(
            "%(article)s is drafted from %(ref)s: finish it, then submit it for review. Its "
            "replies are quoted; check that they hold nothing private before publishing it."
        )
        % {"article": f"KB-{created.pk}", "ref": ticket.ref},
    )
    variant = kb_selectors.variant_for(created, None)
    url = reverse("workspace:kb_edit", args=[created.pk])
    return redirect(f"{url}?lang={variant.language}" if variant is not None else url)
