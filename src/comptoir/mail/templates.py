"""The words of automatic mail: the built-in texts (English and French), a desk's own templates
that replace them, and the one safe way both are rendered.

A template is written in Django's template language and rendered on plain strings only (the
ticket's reference, its title, the recipient's name…, listed per kind in ``VARIABLES``): no
object reaches a template, so there is no attribute to walk to. Only a few tags (``if``,
``firstof``, ``now``, ``comment``, ``verbatim``, ``templatetag``) and filters that keep a text's
length (``upper``, ``truncatechars``, ``default``…) exist; no library can be loaded, no file
included, no loop written. A template is checked when it is saved: a syntax error, or a tag,
filter or variable it may not use, is refused with its line; so is a subject of more than one
line. Whatever the values hold, the subject of a mail is cut to one line before it is sent.

Desk managers and admins write a desk's templates (``create_mail_template`` and its siblings,
audited); deleting one brings the built-in text back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, ClassVar
from urllib.parse import quote

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.template import (
    Context,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import (
    FilterExpression,
    Lexer,
    TextNode,
    TokenType,
    Variable,
    VariableNode,
)
from django.template.engine import Engine
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import translation

from comptoir.accounts.permissions import is_manager_on
from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.memo import RowCache
from comptoir.mail.models import MailKind, MailLocale, MailTemplate
from comptoir.mail.selectors import managed_desk_ids

logger = logging.getLogger(__name__)

LOCALES: tuple[str, ...] = tuple(MailLocale.values)
KINDS: tuple[str, ...] = tuple(MailKind.values)

#: What every mail about a ticket may use.
COMMON = {
    "ref": "the ticket's reference (IT-000042)",
    "title": "the ticket's title",
    "desk": "the desk's name",
    "name": "the recipient's name",
    "link": "the ticket's page: in the portal for requesters, in the workspace for agents",
}
#: What each kind may use besides ``COMMON``.
VARIABLES: dict[str, dict[str, str]] = {
    MailKind.ACKNOWLEDGEMENT: {},
    MailKind.REPLY: {"message": "the agent's reply", "author": "the agent's name"},
    MailKind.WAITING: {"message": "the agent's words with the change, if any"},
    MailKind.REOPENED: {
        "reason": "the reason given, if any",
        "message": "the agent's words with the change, if any",
    },
    MailKind.CANCELLED: {
        "reason": "the reason given, if any",
        "message": "the agent's words with the change, if any",
    },
    MailKind.REJECTED: {
        "reason": "the reason given",
        "message": "the agent's words with the change, if any",
    },
    MailKind.MERGED: {
        "into_ref": "the reference of the ticket the work goes on in",
        "into_title": "that ticket's title",
    },
    MailKind.RESOLVED: {
        "resolution": "the resolution",
        "message": "the agent's words with the change, if any",
    },
    MailKind.NOTIFICATION: {
        "notice": "the notice's title (it names the ticket)",
        "details": "the notice's text",
    },
}


_NEWLINES = re.compile(r"[\r\n\x00]+")


def one_line(text: str, limit: int = 250) -> str:
    """A header-safe value: no CR, LF or NUL can reach a header (no header injection)."""
    return _NEWLINES.sub(" ", text).strip()[:limit]


def ticket_link(ref: str, *, staff: bool = False) -> str:
    """Where a person opens the ticket, after ``COMPTOIR_BASE_URL``: its page in the agents'
    workspace (``staff``) or the requesters' portal, or its API address without those pages."""
    before, after = _ticket_path(staff, get_urlconf(), get_script_prefix())
    return f"{settings.COMPTOIR_BASE_URL}{before}{quote(ref, safe='')}{after}"


_SAMPLE_REF = "REF-000000"


@lru_cache(maxsize=16)
def _ticket_path(staff: bool, urlconf: str | None, prefix: str) -> tuple[str, str]:
    """A ticket page's path around its reference (resolving a URL name costs more than the
    rest of a mail's composition: done once per process)."""
    try:
        path = reverse("workspace:ticket" if staff else "portal:ticket", args=[_SAMPLE_REF])
    except NoReverseMatch:
        path = f"/api/v1/tickets/{_SAMPLE_REF}"
    before, _, after = path.partition(_SAMPLE_REF)
    return before, after


def variables_of(kind: str) -> dict[str, str]:
    return {**COMMON, **VARIABLES[kind]}


# --- the built-in texts ---------------------------------------------------------------------------

_SIGNATURE = "\n\n— {{ desk }}\n"
_MESSAGE = "{% if message %}\n\n{{ message }}{% endif %}"

#: kind → locale → (subject, body). Used when the desk has no template of its own.
DEFAULTS: dict[str, dict[str, tuple[str, str]]] = {
    MailKind.ACKNOWLEDGEMENT: {
        "en": (
            "[{{ ref }}] {{ title }}",
            "Hello {{ name }},\n\nWe received your request and opened ticket {{ ref }}: "
            "“{{ title }}”.\nReply to this mail to add to it; keep {{ ref }} in the subject."
            + _SIGNATURE,
        ),
        "fr": (
            "[{{ ref }}] {{ title }}",
            "Bonjour {{ name }},\n\nNous avons bien reçu votre demande et ouvert le ticket "
            "{{ ref }} : « {{ title }} ».\nRépondez à ce message pour la compléter ; gardez "
            "{{ ref }} dans l'objet." + _SIGNATURE,
        ),
    },
    MailKind.REPLY: {
        "en": ("Re: [{{ ref }}] {{ title }}", "{{ message }}\n\n— {{ author }}, {{ desk }}\n"),
        "fr": ("Re: [{{ ref }}] {{ title }}", "{{ message }}\n\n— {{ author }}, {{ desk }}\n"),
    },
    MailKind.WAITING: {
        "en": (
            "[{{ ref }}] Waiting for your answer: {{ title }}",
            "Hello {{ name }},\n\nTo go on with ticket {{ ref }} (“{{ title }}”), we need an "
            "answer from you." + _MESSAGE + "\n\nReply to this mail: the ticket goes back to "
            "work as soon as you do." + _SIGNATURE,
        ),
        "fr": (
            "[{{ ref }}] En attente de votre réponse : {{ title }}",
            "Bonjour {{ name }},\n\nPour poursuivre le traitement du ticket {{ ref }} "
            "(« {{ title }} »), nous avons besoin d'une réponse de votre part." + _MESSAGE + "\n\n"
            "Répondez à ce message : le ticket reprendra dès votre réponse." + _SIGNATURE,
        ),
    },
    MailKind.REOPENED: {
        "en": (
            "[{{ ref }}] Reopened: {{ title }}",
            "Hello {{ name }},\n\nTicket {{ ref }} (“{{ title }}”) was reopened"
            "{% if reason %}: {{ reason }}{% else %}.{% endif %}" + _MESSAGE + "\n\n"
            "We are working on it again." + _SIGNATURE,
        ),
        "fr": (
            "[{{ ref }}] Rouvert : {{ title }}",
            "Bonjour {{ name }},\n\nLe ticket {{ ref }} (« {{ title }} ») a été rouvert"
            "{% if reason %} : {{ reason }}{% else %}.{% endif %}" + _MESSAGE + "\n\n"
            "Nous le traitons de nouveau." + _SIGNATURE,
        ),
    },
    MailKind.CANCELLED: {
        "en": (
            "[{{ ref }}] Cancelled: {{ title }}",
            "Hello {{ name }},\n\nTicket {{ ref }} (“{{ title }}”) was cancelled"
            "{% if reason %}: {{ reason }}{% else %}.{% endif %}" + _MESSAGE + "\n\n"
            "If you still need help, reply to this mail: a new ticket will be opened." + _SIGNATURE,
        ),
        "fr": (
            "[{{ ref }}] Annulé : {{ title }}",
            "Bonjour {{ name }},\n\nLe ticket {{ ref }} (« {{ title }} ») a été annulé"
            "{% if reason %} : {{ reason }}{% else %}.{% endif %}" + _MESSAGE + "\n\n"
            "Si vous avez encore besoin d'aide, répondez à ce message : un nouveau ticket sera "
            "ouvert." + _SIGNATURE,
        ),
    },
    MailKind.REJECTED: {
        "en": (
            "[{{ ref }}] Rejected: {{ title }}",
            "Hello {{ name }},\n\nChange {{ ref }} (“{{ title }}”) was rejected"
            "{% if reason %}: {{ reason }}{% else %}.{% endif %}" + _MESSAGE + _SIGNATURE,
        ),
        "fr": (
            "[{{ ref }}] Refusé : {{ title }}",
            "Bonjour {{ name }},\n\nLe changement {{ ref }} (« {{ title }} ») a été refusé"
            "{% if reason %} : {{ reason }}{% else %}.{% endif %}" + _MESSAGE + _SIGNATURE,
        ),
    },
    MailKind.MERGED: {
        "en": (
            "[{{ ref }}] Merged into {{ into_ref }}: {{ title }}",
            "Hello {{ name }},\n\nTicket {{ ref }} (“{{ title }}”) is about the same request as "
            "{{ into_ref }} (“{{ into_title }}”): it was merged into it, and the work goes on "
            "there. Your replies to this mail are added to {{ into_ref }}." + _SIGNATURE,
        ),
        "fr": (
            "[{{ ref }}] Fusionné avec {{ into_ref }} : {{ title }}",
            "Bonjour {{ name }},\n\nLe ticket {{ ref }} (« {{ title }} ») porte sur la même "
            "demande que {{ into_ref }} (« {{ into_title }} ») : il y a été fusionné, et le "
            "traitement se poursuit là. Vos réponses à ce message sont ajoutées à {{ into_ref }}."
            + _SIGNATURE,
        ),
    },
    MailKind.RESOLVED: {
        "en": (
            "[{{ ref }}] Resolved: {{ title }}",
            "Hello {{ name }},\n\nTicket {{ ref }} is resolved:\n\n{{ resolution }}"
            + _MESSAGE
            + "\n\nIf the problem is still there, reply to this mail and the ticket will be "
            "reopened." + _SIGNATURE,
        ),
        "fr": (
            "[{{ ref }}] Résolu : {{ title }}",
            "Bonjour {{ name }},\n\nLe ticket {{ ref }} est résolu :\n\n{{ resolution }}"
            + _MESSAGE
            + "\n\nSi le problème persiste, répondez à ce message et le ticket sera rouvert."
            + _SIGNATURE,
        ),
    },
    MailKind.NOTIFICATION: {
        "en": (
            "{{ notice }}",
            "Hello {{ name }},\n\n{{ notice }}{% if details %}\n\n{{ details }}{% endif %}"
            "{% if link %}\n\nOpen the ticket: {{ link }}{% endif %}\n\nThis is an automatic "
            "notice: work on the ticket in Comptoir rather than by answering this mail. Notices "
            "by mail can be turned off in your settings." + _SIGNATURE,
        ),
        "fr": (
            "{{ notice }}",
            "Bonjour {{ name }},\n\n{{ notice }}{% if details %}\n\n{{ details }}{% endif %}"
            "{% if link %}\n\nOuvrir le ticket : {{ link }}{% endif %}\n\nCeci est un avis "
            "automatique : traitez le ticket dans Comptoir plutôt qu'en répondant à ce message. "
            "Les avis par mail se désactivent dans vos réglages." + _SIGNATURE,
        ),
    },
}

#: Values a preview shows, per language.
SAMPLES: dict[str, dict[str, str]] = {
    "en": {
        "ref": "IT-000042",
        "title": "The printer on the 3rd floor smokes",
        "desk": "IT",
        "name": "Rachel Martin",
        "link": "https://comptoir.example.com/portal/t/IT-000042/",
        "message": "Could you send us a photo of the message on its screen?",
        "author": "Alex Dupont",
        "reason": "Opened twice by mistake.",
        "into_ref": "IT-000041",
        "into_title": "Printer on the 3rd floor",
        "resolution": "The fuser was replaced; the printer works again.",
        "notice": "IT-000042: Resolution target breached",
        "details": "The printer on the 3rd floor smokes",
    },
    "fr": {
        "ref": "IT-000042",
        "title": "L'imprimante du 3e étage fume",
        "desk": "IT",
        "name": "Rachel Martin",
        "link": "https://comptoir.example.com/portal/t/IT-000042/",
        "message": "Pourriez-vous nous envoyer une photo du message affiché à l'écran ?",
        "author": "Alex Dupont",
        "reason": "Ouvert deux fois par erreur.",
        "into_ref": "IT-000041",
        "into_title": "Imprimante du 3e étage",
        "resolution": "Le four a été remplacé ; l'imprimante fonctionne de nouveau.",
        "notice": "IT-000042: Resolution target breached",
        "details": "L'imprimante du 3e étage fume",
    },
}


# --- the engine -----------------------------------------------------------------------------------

#: The only tags a template may use (and the tags that close them).
TAGS = ("if", "firstof", "now", "comment", "verbatim", "templatetag")
_CLOSERS = frozenset({"elif", "else", "endif", "endcomment", "endverbatim"})
#: The only filters: none of them makes a text much longer than it was.
FILTERS = (
    "capfirst",
    "cut",
    "default",
    "first",
    "last",
    "length",
    "lower",
    "slice",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "wordwrap",
    "yesno",
)
MAX_SUBJECT = 300
MAX_BODY = 20_000
#: How deep ``if`` may be nested.
MAX_DEPTH = 10
#: Places a template may show a value; bounds what one template can produce.
MAX_EXPRESSIONS = 200
#: Longest body a template may produce, in characters; longer is refused (or, at sending time,
#: replaced by the built-in text).
MAX_OUTPUT = 300_000

_library = Library()
for _name in TAGS:
    _library.tags[_name] = defaulttags.register.tags[_name]
for _name in FILTERS:
    _library.filters[_name] = defaultfilters.register.filters[_name]


class _MailEngine(Engine):
    """Django's engine with none of its default tags and filters: ours alone, no loader."""

    default_builtins: ClassVar[list[str]] = []


_engine = _MailEngine(debug=True, loaders=[], libraries={}, autoescape=False)
_engine.template_builtins = [_library]


class TemplateRefused(DomainError):
    """A template that cannot be used, with the field and line at fault."""

    def __init__(self, field: str, message: str, line: int | None = None):
        where = f"Line {line}: " if line else ""
        details: dict[str, Any] = {"field": field}
        if line:
            details["line"] = line
        super().__init__(
            ErrorCode.VALIDATION_ERROR, f"{field.capitalize()}: {where}{message}", details
        )


@lru_cache(maxsize=256)
def _compile(source: str) -> Template:
    return Template(source, engine=_engine)


def _tokens_allowed(source: str, field: str) -> None:
    """Refuse a tag we do not offer by its name, before Django says less clearly, and ``if``
    within ``if`` deeper than ``MAX_DEPTH``."""
    inside_comment = False
    depth = 0
    for token in Lexer(source).tokenize():
        if token.token_type != TokenType.BLOCK:
            continue
        words = token.contents.split()
        if not words:
            continue  # Django reports the empty tag itself
        name = words[0]
        if inside_comment:
            inside_comment = name != "endcomment"
            continue
        if name == "comment":
            inside_comment = True
        elif name in ("if", "endif"):
            depth += 1 if name == "if" else -1
            if depth > MAX_DEPTH:
                raise TemplateRefused(
                    field, f"“if” may be nested {MAX_DEPTH} deep at most.", token.lineno
                )
        elif name not in TAGS and name not in _CLOSERS:
            raise TemplateRefused(
                field,
                f"the tag {{% {name} %}} is not available; a template may use "
                + ", ".join(TAGS)
                + ".",
                token.lineno,
            )


def _unclosed(nodelist: Any, field: str) -> None:
    """A ``{{`` or ``{%`` left in the text is a tag the writer did not close."""
    for node in nodelist:
        if isinstance(node, TextNode):
            for opener in ("{{", "{%"):
                at = node.s.find(opener)
                if at >= 0:
                    line = getattr(node.token, "lineno", 1) + node.s.count("\n", 0, at)
                    raise TemplateRefused(field, f"“{opener}” is not closed.", line)
        elif isinstance(node, defaulttags.IfNode):
            for _condition, body in node.conditions_nodelists:
                _unclosed(body, field)


def _condition_parts(condition: Any) -> Iterator[FilterExpression]:
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield value
    for part in (getattr(condition, "first", None), getattr(condition, "second", None)):
        yield from _condition_parts(part)


def _expressions(nodelist: Any) -> Iterator[tuple[FilterExpression, int]]:
    """Every value a template shows or tests, with its line."""
    for node in nodelist:
        token = getattr(node, "token", None)
        line = getattr(token, "lineno", 0) or 0
        if isinstance(node, VariableNode):
            yield node.filter_expression, line
        elif isinstance(node, defaulttags.IfNode):
            for condition, body in node.conditions_nodelists:
                for part in _condition_parts(condition):
                    yield part, line
                yield from _expressions(body)
        elif isinstance(node, defaulttags.FirstOfNode):
            for part in node.vars:
                yield part, line


def _lookups(expression: FilterExpression) -> Iterator[tuple[str, ...]]:
    if isinstance(expression.var, Variable) and expression.var.lookups is not None:
        yield expression.var.lookups
    for _function, arguments in expression.filters:
        for is_lookup, argument in arguments:
            if is_lookup and isinstance(argument, Variable) and argument.lookups is not None:
                yield argument.lookups


def compile_checked(source: str, field: str, names: Mapping[str, str]) -> Template:
    """``source`` compiled, if it only uses what a mail template may; else ``TemplateRefused``."""
    _tokens_allowed(source, field)
    try:
        template = _compile(source)
    except TemplateSyntaxError as exc:
        info = getattr(exc, "template_debug", None) or {}
        message = str(exc)
        if message.startswith("Invalid filter"):
            message += "; a template may use " + ", ".join(FILTERS) + "."
        raise TemplateRefused(field, message, info.get("line")) from exc
    _unclosed(template.nodelist, field)
    for count, (expression, line) in enumerate(_expressions(template.nodelist), start=1):
        if count > MAX_EXPRESSIONS:
            raise TemplateRefused(
                field, f"a template may show at most {MAX_EXPRESSIONS} values.", line
            )
        for lookup in _lookups(expression):
            if len(lookup) != 1 or lookup[0] not in names:
                raise TemplateRefused(
                    field,
                    f"“{'.'.join(lookup)}” is not a value of this mail; it may use "
                    + ", ".join(names)
                    + ".",
                    line,
                )
    return template


def _render(template: Template, values: Mapping[str, Any], locale: str) -> str:
    with translation.override(locale):
        return template.render(Context({k: str(v) for k, v in values.items()}, autoescape=False))


def check_template(kind: str, subject: str, body: str) -> None:
    """Refuse (``TemplateRefused``) a subject or body that could not be used for ``kind``."""
    if kind not in VARIABLES:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"{kind!r} is not a kind of mail; one of: {', '.join(KINDS)}.",
            {"field": "kind"},
        )
    names = variables_of(kind)
    if not subject.strip():
        raise TemplateRefused("subject", "the subject is empty.")
    if "\r" in subject or "\n" in subject:
        raise TemplateRefused("subject", "a subject is one line.")
    if len(subject) > MAX_SUBJECT:
        raise TemplateRefused("subject", f"a subject is at most {MAX_SUBJECT} characters.")
    if not body.strip():
        raise TemplateRefused("body", "the body is empty.")
    if len(body) > MAX_BODY:
        raise TemplateRefused("body", f"a body is at most {MAX_BODY} characters.")
    for field, text in (("subject", subject), ("body", body)):
        if "\x00" in text:
            raise TemplateRefused(field, "it holds a NUL character.")
    compiled = {
        "subject": compile_checked(subject, "subject", names),
        "body": compile_checked(body, "body", names),
    }
    for locale in LOCALES:
        for field, template in compiled.items():
            try:
                text = _render(template, SAMPLES[locale], locale)
            except Exception as exc:  # a filter given an argument it cannot take, and such
                raise TemplateRefused(field, f"it cannot be rendered: {exc}") from exc
            if len(text) > MAX_OUTPUT:
                raise TemplateRefused(field, f"it renders more than {MAX_OUTPUT} characters.")


def render_mail(
    kind: str, locale: str, values: Mapping[str, Any], custom: MailTemplate | None = None
) -> tuple[str, str]:
    """(subject, body) of one mail: the desk's template when it has one, else the built-in text.

    The subject may still hold line breaks from the values: the caller makes it one line. A
    desk's template that fails on these values (it passed its check, so this is rare) gives way
    to the built-in text, so the mail is still sent.
    """
    names = variables_of(kind)
    full = {name: values.get(name, "") for name in names}
    if locale not in LOCALES:
        locale = "en"
    if custom is not None:
        try:
            subject = _render(compile_checked(custom.subject, "subject", names), full, locale)
            body = _render(compile_checked(custom.body, "body", names), full, locale)
            if len(body) <= MAX_OUTPUT:
                return subject, body
            logger.warning(
                "Mail template %s renders too long a body; built-in text used", custom.pk
            )
        except Exception:
            logger.exception("Mail template %s failed; built-in text used", custom.pk)
    subject, body = DEFAULTS[kind][locale]
    return _render(_compile(subject), full, locale), _render(_compile(body), full, locale)


# --- a desk's templates ---------------------------------------------------------------------------


#: Each desk's own templates by kind, read for every automatic mail; kept a few seconds per
#: process and dropped when a template changes (ADR 12). Read only: never changed in place.
templates_cache = RowCache("mail templates")


def desk_templates(desk_id: int, kind: str) -> dict[str, MailTemplate]:
    """The desk's own templates of ``kind`` by locale (none: the built-in texts)."""
    return dict(
        templates_cache.get(
            (desk_id, kind),
            lambda: {t.locale: t for t in MailTemplate.objects.filter(desk_id=desk_id, kind=kind)},
        )
        or {}
    )


def templates_for(actor: Actor) -> QuerySet[MailTemplate]:
    """The templates of the desks whose mail ``actor`` manages (every desk for a superuser)."""
    found = MailTemplate.objects.select_related("desk").order_by("desk__slug", "kind", "locale")
    desks = managed_desk_ids(actor)
    return found if desks is None else found.filter(desk_id__in=desks)


def _require_manager(actor: Actor, desk_id: int) -> None:
    if not is_manager_on(actor, desk_id):
        raise PermissionDenied("Only the desk's managers and admins write its mail templates.")


def _check_choices(kind: str, locale: str) -> None:
    if kind not in KINDS:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"{kind!r} is not a kind of mail; one of: {', '.join(KINDS)}.",
            {"field": "kind"},
        )
    if locale not in LOCALES:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"{locale!r} is not a language of mail; one of: {', '.join(LOCALES)}.",
            {"field": "locale"},
        )


@transaction.atomic
def create_mail_template(
    *, actor: Actor, desk, kind: str, locale: str, subject: str, body: str
) -> MailTemplate:
    """Give the desk its own text for one kind of mail in one language."""
    _require_manager(actor, desk.pk)
    _check_choices(kind, locale)
    check_template(kind, subject, body)
    try:
        with transaction.atomic():
            template = MailTemplate.objects.create(
                desk=desk, kind=kind, locale=locale, subject=subject, body=body
            )
    except IntegrityError as exc:  # the unique (desk, kind, locale)
        taken = MailTemplate.objects.filter(desk=desk, kind=kind, locale=locale).first()
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "The desk has its own text for this mail in this language already; change it.",
            {"field": "kind", "id": taken.pk if taken else None},
        ) from exc
    record_audit(actor=actor, action="create", obj=template, after=snapshot(template))
    return template


@transaction.atomic
def update_mail_template(
    *, actor: Actor, template: MailTemplate, subject: str | None = None, body: str | None = None
) -> MailTemplate:
    """Change a desk's text; what is not given is kept."""
    _require_manager(actor, template.desk_id)
    template = MailTemplate.objects.select_for_update().get(pk=template.pk)
    before = snapshot(template)
    new_subject = template.subject if subject is None else subject
    new_body = template.body if body is None else body
    check_template(template.kind, new_subject, new_body)
    template.subject, template.body = new_subject, new_body
    template.save()
    record_audit(
        actor=actor, action="update", obj=template, before=before, after=snapshot(template)
    )
    return template


@transaction.atomic
def delete_mail_template(*, actor: Actor, template: MailTemplate) -> None:
    """Remove a desk's text: its mail goes back to the built-in text."""
    _require_manager(actor, template.desk_id)
    record_audit(actor=actor, action="delete", obj=template, before=snapshot(template))
    template.delete()


def preview_mail_template(
    *,
    actor: Actor,
    desk,
    kind: str,
    locale: str,
    subject: str | None = None,
    body: str | None = None,
) -> tuple[str, str]:
    """The mail ``kind`` with sample values: of the text given, else the desk's, else built-in."""
    _require_manager(actor, desk.pk)
    _check_choices(kind, locale)
    stored = MailTemplate.objects.filter(desk=desk, kind=kind, locale=locale).first()
    default_subject, default_body = DEFAULTS[kind][locale]
    subject = subject if subject is not None else (stored.subject if stored else default_subject)
    body = body if body is not None else (stored.body if stored else default_body)
    check_template(kind, subject, body)
    values = {
        **SAMPLES[locale],
        "desk": desk.name,
        "link": ticket_link("IT-000042", staff=kind == MailKind.NOTIFICATION),
    }
    names = variables_of(kind)
    rendered_subject = _render(compile_checked(subject, "subject", names), values, locale)
    rendered_body = _render(compile_checked(body, "body", names), values, locale)
    return one_line(rendered_subject), rendered_body
