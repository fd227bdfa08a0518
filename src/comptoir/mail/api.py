"""``/api/v1/mail``: raw inbound messages (providers' webhooks), mailboxes, failed messages, and
the desks' own mail templates."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.db import OperationalError, transaction
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import BaseModel, Field

from comptoir.accounts.permissions import is_manager_on
from comptoir.core.api import ErrorOut, actor_of
from comptoir.core.errors import DomainError, ErrorCode, NotFound, PermissionDenied
from comptoir.desks.selectors import resolve_desk
from comptoir.mail import imap, services, templates
from comptoir.mail.models import InboundMessage, Mailbox, MailTemplate
from comptoir.mail.selectors import mailboxes_for, messages_for
from comptoir.mail.spool import StoreFailed

router = Router(tags=["mail"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 413: ErrorOut, 422: ErrorOut}


class MessageOut(BaseModel):
    id: int
    mailbox: str | None
    status: str
    reason: str
    sender: str
    subject: str
    message_id: str
    size: int
    ticket: str | None
    received_at: datetime
    processed_at: datetime | None
    attempts: int


_WRITE_ONLY = "Write-only: never shown back (see the matching `…_set`). Empty: forget it."


class MailboxConnectionIn(Schema):
    """How the mailbox is polled by IMAP; a setting left out is kept (on creation: its default)."""

    imap_host: str | None = Field(
        None, max_length=255, description="The IMAP server; empty: not polled."
    )
    imap_port: int | None = Field(
        None, ge=1, le=65535, description="Left out: 993 for `ssl`, 143 otherwise."
    )
    imap_security: Literal["ssl", "starttls", "none"] | None = Field(
        None, description="`none` only to 127.0.0.1 or localhost."
    )
    imap_username: str | None = Field(
        None, max_length=255, description="Empty: the mailbox's address."
    )
    imap_password: str | None = Field(None, max_length=255, description=_WRITE_ONLY)
    imap_oauth_token: str | None = Field(
        None,
        max_length=16384,
        description="An OAuth2 access token (XOAUTH2), used instead of the password. "
        + _WRITE_ONLY,
    )
    imap_folder: str | None = Field(None, max_length=255, description="`INBOX` by default.")
    imap_after: Literal["flag", "delete"] | None = None
    oauth_provider: Literal["", "microsoft", "google", "other"] | None = Field(
        None, description="Set: Comptoir renews the access token itself. Empty: it does not."
    )
    oauth_tenant: str | None = Field(
        None,
        max_length=100,
        description="Microsoft 365: tenant ID or domain; empty: organizations.",
    )
    oauth_token_url: str | None = Field(
        None, max_length=500, description="Provider `other`: its token endpoint (https://…)."
    )
    oauth_client_id: str | None = Field(None, max_length=255)
    oauth_client_secret: str | None = Field(None, max_length=255, description=_WRITE_ONLY)
    oauth_refresh_token: str | None = Field(None, max_length=16384, description=_WRITE_ONLY)
    oauth_scope: str | None = Field(
        None, max_length=500, description="Empty: the provider's IMAP scope."
    )


class MailboxIn(MailboxConnectionIn):
    desk: str
    address: str
    name: str = ""
    is_active: bool = True
    accept_unknown_senders: bool = True


class MailboxPatch(MailboxConnectionIn):
    name: str | None = None
    is_active: bool | None = None
    accept_unknown_senders: bool | None = None


class MailboxOut(BaseModel):
    id: int
    desk: str
    address: str
    name: str
    is_active: bool
    accept_unknown_senders: bool
    imap_host: str
    imap_port: int
    imap_security: str
    imap_username: str
    imap_password_set: bool
    imap_oauth_token_set: bool
    imap_folder: str
    imap_after: str
    oauth_provider: str
    oauth_tenant: str
    oauth_token_url: str
    oauth_client_id: str
    oauth_client_secret_set: bool
    oauth_refresh_token_set: bool
    oauth_scope: str
    oauth_token_expires_at: datetime | None
    last_polled_at: datetime | None
    last_received_at: datetime | None
    last_error: str


class ConnectionCheckOut(BaseModel):
    ok: bool
    message: str = Field(description="What happened, in the server's words when it refused.")
    messages: int | None = Field(description="How many messages the folder holds, if opened.")


def message_out(message: InboundMessage) -> dict:
    return {
        "id": message.pk,
        "mailbox": message.mailbox.address if message.mailbox else None,
        "status": message.status,
        "reason": message.reason,
        "sender": message.sender,
        "subject": message.subject,
        "message_id": message.message_id,
        "size": message.size,
        "ticket": message.ticket.ref if message.ticket else None,
        "received_at": message.received_at,
        "processed_at": message.processed_at,
        "attempts": message.attempts,
    }


def mailbox_out(box: Mailbox) -> dict:
    shown = {name: getattr(box, name) for name in imap.CONNECTION_FIELDS}
    for secret in imap.SECRET_FIELDS:
        shown[f"{secret}_set"] = bool(shown.pop(secret))
    return {
        "id": box.pk,
        "desk": box.desk.slug,
        "address": box.address,
        "name": box.name,
        "is_active": box.is_active,
        "accept_unknown_senders": box.accept_unknown_senders,
        **shown,
        "oauth_token_expires_at": box.oauth_token_expires_at,
        "last_polled_at": box.last_polled_at,
        "last_received_at": box.last_received_at,
        "last_error": box.last_error,
    }


def _split(values: dict) -> tuple[dict, dict]:
    """(the mailbox's own settings, its connection settings)."""
    connection = {k: v for k, v in values.items() if k in imap.CONNECTION_FIELDS}
    return {k: v for k, v in values.items() if k not in connection}, connection


@router.post(
    "/inbound",
    response={201: MessageOut, 503: ErrorOut, **ERRORS},
    summary="Deliver one raw message (RFC 5322 bytes as the body) to a mailbox",
)
def inbound(request: HttpRequest, mailbox: str):
    actor = actor_of(request)
    box = Mailbox.objects.select_related("desk").filter(address__iexact=mailbox.strip()).first()
    if box is None or not box.is_active:
        raise NotFound("mailbox", {"mailbox": mailbox})
    if not is_manager_on(actor, box.desk_id):
        raise PermissionDenied("Only the desk's managers (or an integration's token) post mail.")
    limit = settings.COMPTOIR_MAIL_MAX_BYTES
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise DomainError(
            ErrorCode.ATTACHMENT_TOO_LARGE, f"The message is larger than {limit} bytes."
        )
    if not raw:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "The body is empty: send the raw message.")
    try:
        message = services.receive(raw, mailbox=box, source="api")
    except (StoreFailed, OperationalError) as exc:
        # Not kept (or not yet recorded): the sender keeps the message and tries again.
        return Status(503, {"code": "server_error", "message": str(exc), "details": {}})
    return Status(201, message_out(message))


@router.get("/messages", response={200: list[MessageOut], **ERRORS}, summary="Received mail")
def list_messages(request: HttpRequest, status: str | None = None, limit: int = 50):
    found = messages_for(actor_of(request))
    if status:
        found = found.filter(status=status)
    return [message_out(m) for m in found[: max(1, min(limit, 200))]]


@router.post(
    "/messages/{message_id}/retry", response={200: MessageOut, **ERRORS}, summary="Process again"
)
def retry_message(request: HttpRequest, message_id: int):
    message = messages_for(actor_of(request)).filter(pk=message_id).first()
    if message is None:
        raise NotFound("message", {"id": message_id})
    if message.status != "failed":
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "Only a failed message is processed again.",
            {"status": message.status},
        )
    return message_out(services.retry(message))


@router.get("/mailboxes", response={200: list[MailboxOut], **ERRORS}, summary="Mailboxes")
def list_mailboxes(request: HttpRequest):
    return [mailbox_out(b) for b in mailboxes_for(actor_of(request))]


@router.post("/mailboxes", response={201: MailboxOut, **ERRORS}, summary="Connect an address")
def create_mailbox(request: HttpRequest, payload: MailboxIn):
    actor = actor_of(request)
    values, connection = _split(payload.model_dump(exclude_none=True))
    desk = resolve_desk(actor, values.pop("desk"))
    with transaction.atomic():  # a refused IMAP setting creates nothing
        box = services.create_mailbox(actor=actor, desk=desk, **values)
        if connection:
            box = imap.configure_imap(actor=actor, mailbox=box, **connection)
    return Status(201, mailbox_out(box))


@router.get("/mailboxes/{box_id}", response={200: MailboxOut, **ERRORS}, summary="A mailbox")
def get_mailbox(request: HttpRequest, box_id: int):
    box = mailboxes_for(actor_of(request)).filter(pk=box_id).first()
    if box is None:
        raise NotFound("mailbox", {"id": box_id})
    return mailbox_out(box)


@router.patch(
    "/mailboxes/{box_id}", response={200: MailboxOut, **ERRORS}, summary="Change a mailbox"
)
def update_mailbox(request: HttpRequest, box_id: int, payload: MailboxPatch):
    actor = actor_of(request)
    values, connection = _split(payload.model_dump(exclude_unset=True, exclude_none=True))
    with transaction.atomic():
        # Locked as it is now: a poll may have renewed its OAuth2 tokens meanwhile.
        box = mailboxes_for(actor).select_for_update(of=("self",)).filter(pk=box_id).first()
        if box is None:
            raise NotFound("mailbox", {"id": box_id})
        if values or not connection:
            box = services.update_mailbox(actor=actor, mailbox=box, **values)
        if connection:
            box = imap.configure_imap(actor=actor, mailbox=box, **connection)
    return mailbox_out(box)


@router.post(
    "/mailboxes/{box_id}/test-connection",
    response={200: ConnectionCheckOut, **ERRORS},
    summary="Log in to the mailbox's IMAP server, taking no message",
)
def test_mailbox_connection(request: HttpRequest, box_id: int):
    actor = actor_of(request)
    box = mailboxes_for(actor).filter(pk=box_id).first()
    if box is None:
        raise NotFound("mailbox", {"id": box_id})
    return asdict(imap.check_connection(actor=actor, mailbox=box))


# --- templates ------------------------------------------------------------------------------------

_KIND = "One of: " + ", ".join(templates.KINDS) + "."
_LOCALE = "One of: " + ", ".join(templates.LOCALES) + "."
_TEXT = "Django template language; see `GET /mail/templates/kinds` for the values of each kind."


class MailTemplateIn(Schema):
    desk: str = Field(description="The desk's slug, prefix or id.")
    kind: str = Field(description=_KIND)
    locale: str = Field(description=_LOCALE)
    subject: str = Field(description="One line. " + _TEXT)
    body: str = Field(description=_TEXT)


class MailTemplatePatch(Schema):
    subject: str | None = None
    body: str | None = None


class MailTemplateOut(BaseModel):
    id: int
    desk: str
    kind: str
    locale: str
    subject: str
    body: str
    created_at: datetime
    updated_at: datetime


class PreviewIn(Schema):
    desk: str = Field(description="The desk's slug, prefix or id.")
    kind: str = Field(description=_KIND)
    locale: str = Field(description=_LOCALE)
    subject: str | None = Field(None, description="Left out: the desk's, else the built-in.")
    body: str | None = Field(None, description="Left out: the desk's, else the built-in.")


class PreviewOut(BaseModel):
    subject: str
    body: str


class BuiltInText(BaseModel):
    subject: str
    body: str


class MailKindOut(BaseModel):
    kind: str
    label: str
    variables: dict[str, str] = Field(description="Name → what it holds.")
    defaults: dict[str, BuiltInText] = Field(description="The built-in text, by language.")


def template_out(template: MailTemplate) -> dict:
    return {
        "id": template.pk,
        "desk": template.desk.slug,
        "kind": template.kind,
        "locale": template.locale,
        "subject": template.subject,
        "body": template.body,
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }


def _own_template(request: HttpRequest, template_id: int) -> MailTemplate:
    found = templates.templates_for(actor_of(request)).filter(pk=template_id).first()
    if found is None:
        raise NotFound("mail template", {"id": template_id})
    return found


@router.get(
    "/templates/kinds",
    response={200: list[MailKindOut], **ERRORS},
    summary="Kinds of automatic mail, their values and built-in texts",
)
def list_mail_kinds(request: HttpRequest):
    return [
        {
            "kind": kind,
            "label": str(label),
            "variables": templates.variables_of(kind),
            "defaults": {
                locale: {"subject": subject, "body": body}
                for locale, (subject, body) in templates.DEFAULTS[kind].items()
            },
        }
        for kind, label in MailTemplate._meta.get_field("kind").choices or []
    ]


@router.get(
    "/templates", response={200: list[MailTemplateOut], **ERRORS}, summary="Desks' mail templates"
)
def list_mail_templates(request: HttpRequest, desk: str | None = None):
    actor = actor_of(request)
    found = templates.templates_for(actor)
    if desk:
        found = found.filter(desk=resolve_desk(actor, desk))
    return [template_out(t) for t in found]


@router.post(
    "/templates",
    response={201: MailTemplateOut, **ERRORS},
    summary="Give a desk its own text for one kind of mail in one language",
)
def create_mail_template(request: HttpRequest, payload: MailTemplateIn):
    actor = actor_of(request)
    values = payload.model_dump()
    desk = resolve_desk(actor, values.pop("desk"))
    template = templates.create_mail_template(actor=actor, desk=desk, **values)
    return Status(201, template_out(template))


@router.post(
    "/templates/preview",
    response={200: PreviewOut, **ERRORS},
    summary="A mail as a template would write it, with sample values",
)
def preview_mail_template(request: HttpRequest, payload: PreviewIn):
    actor = actor_of(request)
    values = payload.model_dump()
    desk = resolve_desk(actor, values.pop("desk"))
    subject, body = templates.preview_mail_template(actor=actor, desk=desk, **values)
    return {"subject": subject, "body": body}


@router.get(
    "/templates/{template_id}", response={200: MailTemplateOut, **ERRORS}, summary="A template"
)
def get_mail_template(request: HttpRequest, template_id: int):
    return template_out(_own_template(request, template_id))


@router.patch(
    "/templates/{template_id}", response={200: MailTemplateOut, **ERRORS}, summary="Change it"
)
def update_mail_template(request: HttpRequest, template_id: int, payload: MailTemplatePatch):
    template = _own_template(request, template_id)
    values = payload.model_dump(exclude_unset=True, exclude_none=True)
    return template_out(
        templates.update_mail_template(actor=actor_of(request), template=template, **values)
    )


@router.delete(
    "/templates/{template_id}",
    response={204: None, **ERRORS},
    summary="Remove it: the desk's mail goes back to the built-in text",
)
def delete_mail_template(request: HttpRequest, template_id: int):
    template = _own_template(request, template_id)
    templates.delete_mail_template(actor=actor_of(request), template=template)
    return Status(204, None)
