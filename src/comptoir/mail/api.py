"""``/api/v1/mail``: raw inbound messages (providers' webhooks), mailboxes, failed messages."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import BaseModel

from comptoir.accounts.permissions import is_manager_on
from comptoir.core.api import ErrorOut, actor_of
from comptoir.core.errors import DomainError, ErrorCode, NotFound, PermissionDenied
from comptoir.desks.selectors import resolve_desk
from comptoir.mail import services
from comptoir.mail.models import InboundMessage, Mailbox
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


class MailboxIn(Schema):
    desk: str
    address: str
    name: str = ""
    is_active: bool = True
    accept_unknown_senders: bool = True


class MailboxPatch(Schema):
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
    last_received_at: datetime | None
    last_error: str


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
    return {
        "id": box.pk,
        "desk": box.desk.slug,
        "address": box.address,
        "name": box.name,
        "is_active": box.is_active,
        "accept_unknown_senders": box.accept_unknown_senders,
        "last_received_at": box.last_received_at,
        "last_error": box.last_error,
    }


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
    values = payload.model_dump()
    desk = resolve_desk(actor, values.pop("desk"))
    return Status(201, mailbox_out(services.create_mailbox(actor=actor, desk=desk, **values)))


@router.patch(
    "/mailboxes/{box_id}", response={200: MailboxOut, **ERRORS}, summary="Change a mailbox"
)
def update_mailbox(request: HttpRequest, box_id: int, payload: MailboxPatch):
    actor = actor_of(request)
    box = mailboxes_for(actor).filter(pk=box_id).first()
    if box is None:
        raise NotFound("mailbox", {"id": box_id})
    values = payload.model_dump(exclude_unset=True)
    return mailbox_out(services.update_mailbox(actor=actor, mailbox=box, **values))
