"""The knowledge base for agents: the articles of the desks they work, in every status, with
their languages, versions, files, linked tickets and figures; writing and editing them.

Every read goes through ``kb.selectors`` (``articles_visible_to``, ``get_article_for``…),
every change through ``kb.services``; no view writes a model. These pages are for the staff of
the article's desk (``kb.permissions.can_see_history``): another desk's article that an agent
may read is a published one, which the portal shows, and they are sent there; anything else
answers 404, like an article that does not exist. A refused change (a ``DomainError``) brings
the page back with the reason in words and what was typed kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, NotFound
from comptoir.core.files import download_response
from comptoir.core.pagination import SortKey, page
from comptoir.desks.models import Category, Desk
from comptoir.kb import permissions as kb_perms
from comptoir.kb import selectors as kb_selectors
from comptoir.kb import services as kb_services
from comptoir.kb.models import Article, ArticleStatus, ArticleVariant, ArticleVersion, Visibility
from comptoir.portal.shared import actor_for, error_text
from comptoir.tickets.selectors import tickets_visible_to
from comptoir.tickets.services import Upload
from comptoir.workspace.kb_forms import (
    ArticleFilters,
    ArticleForm,
    DiffForm,
    EditForm,
    FilesForm,
    VariantForm,
    language_choices,
)
from comptoir.workspace.views import _my_desks, agent_required

#: Articles on a page of the list (keyset pages, newest change first).
PAGE_SIZE = 50
_NEWEST = SortKey("updated_at", descending=True, is_datetime=True)
#: Versions listed in an article's history, newest first.
VERSIONS_SHOWN = 100
#: Tickets listed on an article's page, newest link first.
TICKETS_SHOWN = 50
#: The figures' period, in days up to today.
FIGURE_DAYS = 30

#: The status actions, in words, and whether they are the managers' (kb.services.MOVES).
ACTION_WORDS: dict[str, Any] = {
    "submit": gettext_lazy("Submit for review"),
    "publish": gettext_lazy("Publish"),
    "archive": gettext_lazy("Archive"),
    "draft": gettext_lazy("Back to draft"),
    "reviewed": gettext_lazy("Mark as reviewed"),
    "delete": gettext_lazy("Delete"),
}
DONE_WORDS: dict[str, Any] = {
    "submit": gettext_lazy("%(article)s is submitted for review."),
    "publish": gettext_lazy("%(article)s is published."),
    "archive": gettext_lazy("%(article)s is archived."),
    "draft": gettext_lazy("%(article)s is a draft again."),
    "reviewed": gettext_lazy("%(article)s is reviewed: the next review is due on %(day)s."),
    "delete": gettext_lazy("%(article)s is deleted."),
}


# --- reading ---------------------------------------------------------------------------------


def _language() -> str:
    return (get_language() or settings.LANGUAGE_CODE).split("-")[0]


def _languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def _portal_url(article: Article, variant: ArticleVariant | None) -> str:
    slug = variant.slug if variant is not None else "article"
    return kb_services.PORTAL_ARTICLE_PATH.format(id=article.pk, slug=slug)


def _staff_article(actor: Actor, article_id: int, *, for_update: bool = False) -> Article:
    """The article, for the staff of its desk; for anyone else 404, whatever the reason."""
    try:
        article = kb_selectors.get_article_for(actor, article_id, for_update=for_update)
    except NotFound as exc:
        raise Http404(_("No such article.")) from exc
    if not kb_perms.can_see_history(actor, article):
        raise Http404(_("No such article."))
    return article


def _variant(article: Article, language: str) -> ArticleVariant:
    try:
        variant = kb_selectors.get_variant_of(article, language)
    except NotFound as exc:
        raise Http404(_("No such language version.")) from exc
    variant.article = article
    return variant


def _categories(desks: list[Desk]) -> list[Category]:
    """The active categories of these desks, by desk and path: one query."""
    return list(
        Category.objects.filter(desk__in=desks, is_active=True)
        .select_related("desk")
        .order_by("desk__name", "path")
    )


def kb_error_text(exc: DomainError) -> str:
    """A refusal of the knowledge base in the reader's language."""
    if exc.code == ErrorCode.INVALID_TRANSITION:
        return _("This article's status changed meanwhile: that step is not possible from here.")
    if exc.code == ErrorCode.PERMISSION_DENIED:
        return _("You may not do this: ask one of the desk's managers.")
    if exc.code == ErrorCode.NOT_RESOLVED:
        return _("An article is written from a resolved or closed ticket.")
    if exc.code == ErrorCode.VALIDATION_ERROR:
        field = (exc.details or {}).get("field")
        if field == "tags":
            return _(
                "A tag holds letters, digits, dots, hyphens and spaces (50 characters at most); "
                "an article has 20 tags at most."
            )
        if field == "organisations":
            return _(
                "Choose at least one organisation for an article restricted to organisations, "
                "and none for any other."
            )
        if field == "language":
            return _("The article is already written in this language: edit it instead.")
    return error_text(exc)


def _refused(form: Any, exc: DomainError) -> int:
    """The refusal beside its field when the form has it, else above the form; its status."""
    field = (exc.details or {}).get("field")
    if field in form.fields:
        form.add_error(field, kb_error_text(exc))
    else:
        form.add_error(None, kb_error_text(exc))
    return exc.http_status if exc.http_status < 500 else 422


# --- the list ------------------------------------------------------------------------------------


@dataclass
class Row:
    article: Article
    variant: ArticleVariant | None
    stale: bool


@require_GET
@agent_required
def articles(request: HttpRequest) -> HttpResponse:
    """The articles of the desks the agent works, every status, newest change first."""
    actor = actor_for(request)
    desks = _my_desks(actor)
    form = ArticleFilters(request.GET, desks=desks, categories=_categories(desks))
    form.is_valid()  # an unknown value is dropped, and its default used
    values = {k: v for k, v in form.cleaned_data.items() if v}
    chosen = [d for d in desks if d.slug == values.get("desk")] or desks
    found = kb_selectors.articles_visible_to(actor).filter(desk_id__in=[d.pk for d in chosen])
    if values.get("status"):
        found = found.filter(status=values["status"])
    if values.get("visibility"):
        found = found.filter(visibility=values["visibility"])
    if values.get("category"):
        found = found.filter(category_id=int(values["category"]))
    if values.get("tag"):
        tagged = Article.tags.through.objects.filter(
            article_id=OuterRef("pk"), articletag__name=" ".join(values["tag"].split()).lower()
        )
        found = found.filter(Exists(tagged))
    today = timezone.localdate()
    stale = Q(status=ArticleStatus.PUBLISHED, review_on__lt=today)
    if values.get("stale") == "yes":
        found = found.filter(stale)
    elif values.get("stale") == "no":
        found = found.exclude(stale)
    try:
        rows, next_cursor = page(
            kb_selectors.with_list_relations(found),
            sort="-updated",
            key=_NEWEST,
            cursor=values.get("cursor"),
            limit=PAGE_SIZE,
        )
    except DomainError:
        rows, next_cursor = [], None
        messages.error(request, _("That page link no longer fits this list: back to its start."))
    language = _language()
    params = request.GET.copy()
    params.pop("cursor", None)
    return render(
        request,
        "workspace/kb/list.html",
        {
            "form": form,
            "rows": [
                Row(a, kb_selectors.variant_for(a, language), kb_selectors.is_stale(a, today))
                for a in rows
            ],
            "next_cursor": next_cursor,
            "params": params.urlencode(),
            "filtered": any(k != "cursor" for k in values),
            "desk": chosen[0] if len(chosen) == 1 else None,
        },
    )


# --- one article -----------------------------------------------------------------------------


@require_GET
@agent_required
def article(request: HttpRequest, article_id: int) -> HttpResponseBase:
    actor = actor_for(request)
    try:
        found = kb_selectors.get_article_for(actor, article_id)
    except NotFound as exc:
        raise Http404(_("No such article.")) from exc
    if not kb_perms.can_see_history(actor, found):
        # Another desk's article the agent may read is published: the portal shows it.
        found = kb_selectors.with_detail_relations(found)
        variant = kb_selectors.variant_for(found, _language())
        return redirect(_portal_url(found, variant))
    return _article_page(request, actor, found)


def _figures(article: Article) -> dict[str, Any]:
    until = timezone.now().date()
    since = until - timedelta(days=FIGURE_DAYS - 1)
    counted = kb_selectors.kb_figures([article.desk_id], since, until)
    mine = next((item for item in counted.articles if item.article_id == article.pk), None)
    return {
        "since": since,
        "until": until,
        "period": mine or kb_selectors.ArticleFigures(article_id=article.pk),
    }


def _article_page(
    request: HttpRequest, actor: Actor, article: Article, *, status: int = 200
) -> HttpResponse:
    detail = kb_selectors.with_detail_relations(article)
    asked = request.GET.get("lang", "")
    variant = kb_selectors.variant_for(detail, asked if asked in _languages() else _language())
    variants = list(detail.variants.all())
    names = dict(settings.LANGUAGES)
    written = {v.language for v in variants}
    links = (
        kb_selectors.tickets_of_article(detail)
        .filter(ticket__in=tickets_visible_to(actor))
        .select_related("ticket__desk")[:TICKETS_SHOWN]
    )
    actions = kb_services.allowed_actions(actor, detail)
    context = {
        "article": detail,
        "variant": variant,
        "languages": [
            (v.language, names.get(v.language, v.language), v == variant) for v in variants
        ],
        "missing_languages": [code for code in _languages() if code not in written],
        "actions": [(a, ACTION_WORDS[a]) for a in actions if a != "delete"],
        "can_delete": "delete" in actions,
        "can_write": kb_perms.can_write_article(actor, detail),
        "stale": kb_selectors.is_stale(detail, timezone.localdate()),
        "attachments": list(detail.attachments.all()),
        "tags": [t.name for t in detail.tags.all()],
        "organisations": [o.name for o in detail.organisations.all()],
        "links": list(links),
        "figures": _figures(detail) if kb_perms.can_see_figures(actor, detail) else None,
        "portal_url": (
            _portal_url(detail, variant)
            if detail.status == ArticleStatus.PUBLISHED and detail.visibility != Visibility.INTERNAL
            else ""
        ),
        "files_form": FilesForm(),
        "max_mb": settings.COMPTOIR_MAX_ATTACHMENT_SIZE // (1024 * 1024),
    }
    return render(request, "workspace/kb/article.html", context, status=status)


def _article_url(article: Article, language: str | None = None) -> str:
    url = reverse("workspace:kb_article", args=[article.pk])
    return f"{url}?lang={language}" if language else url


@require_POST
@agent_required
def article_action(request: HttpRequest, article_id: int, action: str) -> HttpResponseBase:
    """A status action (submit, publish, archive, draft), "reviewed", or delete; as
    ``kb.services.allowed_actions`` offers them, and as the services allow them."""
    if action not in ACTION_WORDS:
        raise Http404(_("No such action."))
    actor = actor_for(request)
    name = f"KB-{article_id}"
    try:
        with transaction.atomic():
            current = _staff_article(actor, article_id, for_update=True)
            if action == "reviewed":
                kb_services.mark_article_reviewed(actor=actor, article=current)
            elif action == "delete":
                kb_services.delete_article(actor=actor, article=current)
            else:
                kb_services.move_article(actor=actor, article=current, action=action)
    except DomainError as exc:
        messages.error(request, kb_error_text(exc))
        return _article_page(
            request, actor, _staff_article(actor, article_id), status=exc.http_status
        )
    if action == "delete":
        messages.success(request, DONE_WORDS[action] % {"article": name})
        return redirect("workspace:kb")
    day = date_format(current.review_on, "DATE_FORMAT") if current.review_on else ""
    messages.success(request, DONE_WORDS[action] % {"article": name, "day": day})
    return redirect(_article_url(current, request.POST.get("lang") or None))


# --- writing -------------------------------------------------------------------------------------


def _settings_changes(data: dict[str, Any], categories: list[Category]) -> dict[str, Any]:
    """The settings as ``kb.services.change_article_settings`` takes them."""
    category = next((c for c in categories if str(c.pk) == data.get("category")), None)
    return {
        "category": category,
        "tags": data.get("tags") or [],
        "visibility": data["visibility"],
        "organisations": list(data.get("organisations") or []),
        "review_on": data.get("review_on"),
    }


def _form_page(request: HttpRequest, template: str, status: int = 200, **context: Any):
    return render(request, f"workspace/kb/{template}", context, status=status)


@require_http_methods(["GET", "POST"])
@agent_required
def new_article(request: HttpRequest) -> HttpResponseBase:
    """A new article: a draft in one language, on a desk the agent works."""
    actor = actor_for(request)
    desks = [d for d in _my_desks(actor) if kb_perms.can_write_article(actor, d)]
    categories = _categories(desks)
    asked = request.GET.get("desk", "")
    initial = {
        "desk": asked if any(d.slug == asked for d in desks) else (desks[0].slug if desks else ""),
        "language": _language(),
    }
    form = ArticleForm(request.POST or None, desks=desks, categories=categories, initial=initial)
    if request.method == "GET":
        return _form_page(request, "new.html", form=form)
    if not form.is_valid():
        return _form_page(request, "new.html", status=422, form=form)
    data = form.cleaned_data
    desk = next(d for d in desks if d.slug == data["desk"])
    changes = _settings_changes(data, categories)
    try:
        created = kb_services.create_article(
            actor=actor,
            desk=desk,
            language=data["language"],
            title=data["title"],
            body=data["body"],
            **changes,
        )
    except DomainError as exc:
        status = _refused(form, exc)
        return _form_page(request, "new.html", status=status, form=form)
    messages.success(
        request,
        _("%(article)s is saved as a draft: submit it for review when it is ready.")
        % {"article": f"KB-{created.pk}"},
    )
    return redirect(_article_url(created))


def _edit_initial(article: Article, variant: ArticleVariant) -> dict[str, Any]:
    return {
        "title": variant.title,
        "body": variant.body,
        "category": str(article.category_id) if article.category_id else "",
        "tags": [t.name for t in article.tags.all()],
        "visibility": article.visibility,
        "organisations": [o.pk for o in article.organisations.all()],
        "review_on": article.review_on,
        "version": variant.version,
    }


@require_http_methods(["GET", "POST"])
@agent_required
def edit_article(request: HttpRequest, article_id: int) -> HttpResponseBase:
    """A new version of one language, and the settings its languages share, kept together or
    not at all. A version saved by someone else since the form was opened is never written
    over: the form comes back with the text typed, and says so."""
    actor = actor_for(request)
    found = _staff_article(actor, article_id)
    if not kb_perms.can_write_article(actor, found):
        raise Http404(_("No such article."))
    detail = kb_selectors.with_detail_relations(found)
    language = request.POST.get("language") or request.GET.get("lang") or ""
    if language not in _languages():
        chosen = kb_selectors.variant_for(detail, _language())
        language = chosen.language if chosen is not None else settings.LANGUAGE_CODE
    variant = _variant(detail, language)
    categories = _categories([detail.desk])
    form = EditForm(
        request.POST or None, categories=categories, initial=_edit_initial(detail, variant)
    )
    context: dict[str, Any] = {"form": form, "article": detail, "variant": variant}
    if request.method == "GET":
        return _form_page(request, "edit.html", **context)
    if not form.is_valid():
        return _form_page(request, "edit.html", status=422, **context)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            current = _staff_article(actor, article_id, for_update=True)
            latest = _variant(current, language)
            if data.get("version") and data["version"] != latest.version:
                form.add_error(
                    None,
                    _(
                        "Someone saved version %(number)s of this text since you opened it: "
                        "yours is kept below. Compare it with theirs in the history, then "
                        "save again."
                    )
                    % {"number": latest.version},
                )
                return _form_page(request, "edit.html", status=409, **context)
            # The settings first: their refusals (a tag, organisations) come before any version.
            kb_services.change_article_settings(
                actor=actor, article=current, changes=_settings_changes(data, categories)
            )
            kb_services.edit_variant(
                actor=actor,
                variant=latest,
                title=data["title"],
                body=data["body"],
                note=data.get("note") or "",
            )
    except DomainError as exc:
        status = _refused(form, exc)
        return _form_page(request, "edit.html", status=status, **context)
    messages.success(request, _("%(article)s is saved.") % {"article": f"KB-{article_id}"})
    return redirect(_article_url(found, language))


@require_http_methods(["GET", "POST"])
@agent_required
def add_language(request: HttpRequest, article_id: int) -> HttpResponseBase:
    """The article in a language it is not written in yet."""
    actor = actor_for(request)
    found = _staff_article(actor, article_id)
    if not kb_perms.can_write_article(actor, found):
        raise Http404(_("No such article."))
    detail = kb_selectors.with_detail_relations(found)
    written = {v.language for v in detail.variants.all()}
    missing = [code for code in _languages() if code not in written]
    source = kb_selectors.variant_for(detail, _language())
    form = VariantForm(request.POST or None, missing=missing)
    context: dict[str, Any] = {
        "form": form,
        "article": detail,
        "source": source,
        "missing": missing,
    }
    if request.method == "GET" or not missing:
        return _form_page(request, "language.html", **context)
    if not form.is_valid():
        return _form_page(request, "language.html", status=422, **context)
    data = form.cleaned_data
    try:
        kb_services.add_variant(
            actor=actor,
            article=found,
            language=data["language"],
            title=data["title"],
            body=data["body"],
        )
    except DomainError as exc:
        status = _refused(form, exc)
        return _form_page(request, "language.html", status=status, **context)
    name = dict(language_choices()).get(data["language"], data["language"])
    messages.success(
        request,
        _("%(article)s is now written in %(language)s too.")
        % {"article": f"KB-{article_id}", "language": name},
    )
    return redirect(_article_url(found, data["language"]))


# --- history ---------------------------------------------------------------------------------


@dataclass
class DiffLine:
    kind: str  # "add", "remove", "hunk", "file", "same"
    text: str


def diff_lines(old: ArticleVersion, new: ArticleVersion, names: tuple[str, str]) -> list[DiffLine]:
    """The knowledge base's diff of two versions, each line with its kind for the page to mark."""
    found = []
    for line in kb_selectors.version_diff(old, new, names):
        if line.startswith(("---", "+++")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "remove"
        else:
            kind = "same"
        found.append(DiffLine(kind, line))
    return found


@require_GET
@agent_required
def history(request: HttpRequest, article_id: int) -> HttpResponse:
    """The versions of one language, newest first, and what changed between two of them."""
    actor = actor_for(request)
    found = _staff_article(actor, article_id)
    detail = kb_selectors.with_detail_relations(found)
    asked = request.GET.get("lang", "")
    chosen = kb_selectors.variant_for(detail, asked if asked in _languages() else _language())
    if chosen is None:
        raise Http404(_("No such language version."))
    variant = _variant(detail, chosen.language)
    versions = list(kb_selectors.versions_of(variant)[:VERSIONS_SHOWN])
    form = DiffForm(request.GET)
    form.is_valid()
    old_number = form.cleaned_data.get("old")
    new_number = form.cleaned_data.get("new") or variant.version
    if not old_number and len(versions) > 1:
        # Opened without a choice: what the latest version changed.
        new_number, old_number = versions[0].number, versions[1].number
    lines: list[DiffLine] = []
    compared = None
    problem = ""
    if old_number:
        try:
            old = kb_selectors.get_version(variant, old_number)
            new = kb_selectors.get_version(variant, new_number)
        except NotFound:
            problem = _("There is no such version of this text.")
        else:
            compared = (old, new)
            lines = diff_lines(
                old,
                new,
                names=(
                    _("version %(number)s") % {"number": old.number},
                    _("version %(number)s") % {"number": new.number},
                ),
            )
    return render(
        request,
        "workspace/kb/history.html",
        {
            "article": detail,
            "variant": variant,
            "languages": [
                (v.language, dict(settings.LANGUAGES).get(v.language, v.language), v == variant)
                for v in detail.variants.all()
            ],
            "versions": versions,
            "old_number": old_number,
            "new_number": new_number,
            "compared": compared,
            "lines": lines,
            "same": compared is not None and not lines,
            "problem": problem,
            "can_write": kb_perms.can_write_article(actor, detail),
        },
        status=404 if problem else 200,
    )


@require_POST
@agent_required
def restore(request: HttpRequest, article_id: int) -> HttpResponseBase:
    """A new version with the title and text of an older one: nothing of the history is lost."""
    actor = actor_for(request)
    language = request.POST.get("language", "")
    number = request.POST.get("number", "")
    if language not in _languages() or not number.isdigit() or len(number) > 9:
        raise Http404(_("No such version."))
    try:
        with transaction.atomic():
            current = _staff_article(actor, article_id, for_update=True)
            version = kb_services.restore_version(
                actor=actor, variant=_variant(current, language), number=int(number)
            )
    except DomainError as exc:
        messages.error(request, kb_error_text(exc))
    else:
        messages.success(
            request,
            _("Version %(old)s is restored as version %(new)s.")
            % {"old": number, "new": version.number},
        )
    return redirect(f"{reverse('workspace:kb_history', args=[article_id])}?lang={language}")


# --- files -----------------------------------------------------------------------------------


@require_POST
@agent_required
def upload(request: HttpRequest, article_id: int) -> HttpResponseBase:
    """Files for the article: all of them kept, or none."""
    actor = actor_for(request)
    found = _staff_article(actor, article_id)
    files = request.FILES.getlist("uploads")
    if not files:
        messages.error(request, _("Choose at least one file."))
        return redirect(_article_url(found))
    uploads = [
        Upload(stream=f, name=f.name or "", declared_type=f.content_type, size=f.size)
        for f in files
    ]
    try:
        kept = kb_services.add_article_attachments(actor=actor, article=found, uploads=uploads)
    except DomainError as exc:
        messages.error(request, kb_error_text(exc))
    else:
        messages.success(
            request, _("Files added: %(names)s.") % {"names": ", ".join(a.filename for a in kept)}
        )
    return redirect(_article_url(found))


@require_GET
@agent_required
def attachment(request: HttpRequest, article_id: int, attachment_id: int) -> HttpResponseBase:
    actor = actor_for(request)
    found = _staff_article(actor, article_id)
    try:
        file = kb_selectors.get_attachment_for(actor, found, attachment_id)
    except NotFound as exc:
        raise Http404(_("No such file.")) from exc
    return download_response(
        file.file.open("rb"), filename=file.filename, content_type=file.content_type
    )
