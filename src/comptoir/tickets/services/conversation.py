"""Replies, internal notes and attachments."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.base import File
from django.db import connection, transaction
from django.utils import timezone

from comptoir.accounts.permissions import is_staff_on
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.events import publish
from comptoir.core.files import safe_display_name, sniff_content_type
from comptoir.core.text import render_markdown
from comptoir.tickets import events as ev
from comptoir.tickets import permissions as perms
from comptoir.tickets.lifecycle import StatusCategory, lifecycle_for
from comptoir.tickets.models import (
    Attachment,
    Comment,
    EventKind,
    Ticket,
    TicketEvent,
)
from comptoir.tickets.services._common import (
    MAX_BODY,
    _base,
    _clean_text,
    _record,
)
from comptoir.tickets.services.transitions import transition_ticket


@transaction.atomic
def add_comment(
    *, actor: Actor, ticket: Ticket, body: str, public: bool = True, with_change: bool = False
) -> Comment:
    """A public reply (the requester sees it) or an internal note (staff only).

    ``with_change``: the words that come with a status change just made in this transaction
    (``transition_ticket(comment=…)``); a change that closed the ticket still carries them.
    """
    if not perms.can_comment(actor, ticket, public=public):
        raise PermissionDenied(
            "Only the desk's staff write internal notes." if not public else "You may not reply."
        )
    if ticket.status == "merged":
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"This ticket was merged into {ticket.merged_into.ref if ticket.merged_into else 'another'}; reply there.",
            {"merged_into": ticket.merged_into.ref if ticket.merged_into else None},
        )
    if public and ticket.status_category == StatusCategory.CLOSED and not with_change:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"{ticket.ref} is {ticket.status}: reopen it, or open a new ticket.",
            {"status": ticket.status},
        )
    text = _clean_text(body, "body", required=True, limit=MAX_BODY)
    staff = is_staff_on(actor, ticket.desk_id)
    # A person answered: automatic replies (the system, an integration) are not a response.
    human = actor.user is not None and actor.user != ticket.requester
    by = "staff" if staff and human else ("customer" if actor.user is not None else "system")
    comment = Comment.objects.create(
        ticket=ticket,
        author=actor.user,
        author_label=actor.label,
        body=text,
        body_html=render_markdown(text),
        public=public,
        channel=str(actor.channel),
    )
    _record(
        ticket,
        actor,
        EventKind.COMMENTED if public else EventKind.NOTE_ADDED,
        after={"comment": comment.pk, "public": public, "by": by},
        public=public,
        comment=comment,
        at=comment.created_at,
    )
    fields = ["updated_at"]
    ticket.updated_at = comment.created_at
    if public and by == "staff" and ticket.first_response_at is None:
        ticket.first_response_at = comment.created_at
        fields.append("first_response_at")
    ticket.save(update_fields=fields)
    publish(
        ev.TicketCommented(
            **_base(ticket, actor),
            comment_id=comment.pk,
            public=public,
            by_staff=staff,
            with_change=with_change,
        )
    )

    # The requester's side answered while we waited on them: the ticket goes back to work.
    # (Waiting on a vendor is not ended by a reply from the requester.)
    lifecycle = lifecycle_for(ticket.kind)
    if (
        public
        and not staff
        and ticket.status in lifecycle.waiting_on_requester
        and lifecycle.transition("resume", ticket.status) is not None
    ):
        transition_ticket(
            actor=Actor.system("customer reply", actor.channel), ticket=ticket, action="resume"
        )
    return comment


@dataclass(frozen=True)
class Upload:
    """A file from outside: its bytes, and the name and type the sender claimed."""

    stream: IO[bytes]
    name: str | None
    declared_type: str | None = None
    size: int | None = None


def _hash_and_sniff(stream: IO[bytes], limit: int) -> tuple[str, int, str]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    stream.seek(0)
    while chunk := stream.read(1024 * 1024):
        if len(head) < 8192:
            head += chunk[: 8192 - len(head)]
        size += len(chunk)
        if size > limit:
            raise DomainError(
                ErrorCode.ATTACHMENT_TOO_LARGE,
                f"The file is larger than the limit of {limit // (1024 * 1024)} MB.",
                {"limit_bytes": limit},
            )
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest(), size, sniff_content_type(head)


def _check_attach(actor: Actor, ticket: Ticket, *, public: bool) -> None:
    if not perms.can_attach(actor, ticket, public=public):
        raise PermissionDenied(
            "Only the desk's staff attach internal files."
            if not public
            else "You may not attach files."
        )
    if ticket.status_category == StatusCategory.CLOSED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "A closed ticket takes no new files.",
            {"status": ticket.status},
        )


def _stored(
    actor: Actor, ticket: Ticket, upload: Upload, *, public: bool, comment: Comment | None
) -> Attachment:
    """The file checked (size, bytes) and stored; its row built, not saved. Its bytes are in
    storage: a caller that fails to save the row removes them."""
    limit = settings.COMPTOIR_MAX_ATTACHMENT_SIZE
    if upload.size is not None and upload.size > limit:
        raise DomainError(
            ErrorCode.ATTACHMENT_TOO_LARGE,
            f"The file is larger than the limit of {limit // (1024 * 1024)} MB.",
            {"limit_bytes": limit},
        )
    sha, size, sniffed = _hash_and_sniff(upload.stream, limit)
    if size == 0:
        raise DomainError(
            ErrorCode.ATTACHMENT_EMPTY,
            "The file is empty.",
            {"filename": safe_display_name(upload.name)},
        )
    attachment = Attachment(
        ticket=ticket,
        comment=comment,
        uploaded_by=actor.user,
        storage_key=uuid.uuid4().hex,
        filename=safe_display_name(upload.name),
        content_type=sniffed,
        declared_content_type=(upload.declared_type or "")[:150],
        size=size,
        sha256=sha,
        public=public,
    )
    attachment.file.save(attachment.storage_key, File(upload.stream), save=False)
    return attachment


def _added(attachment: Attachment) -> dict[str, object]:
    """What the timeline says of a file added."""
    return {
        "attachment": attachment.pk,
        "filename": attachment.filename,
        "size": attachment.size,
        "content_type": attachment.content_type,
    }


def _unstore(attachments: list[Attachment]) -> None:
    """Take back the bytes of files whose rows were not kept."""
    for attachment in attachments:
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)


@transaction.atomic
def add_attachment(
    *,
    actor: Actor,
    ticket: Ticket,
    upload: Upload,
    public: bool = True,
    comment: Comment | None = None,
) -> Attachment:
    _check_attach(actor, ticket, public=public)
    attachment = _stored(actor, ticket, upload, public=public, comment=comment)
    try:
        attachment.save()
        _record(
            ticket,
            actor,
            EventKind.ATTACHMENT_ADDED,
            after=_added(attachment),
            public=public,
            comment=comment,
        )
        ticket.updated_at = timezone.now()
        ticket.save(update_fields=["updated_at"])
    except Exception:
        # The bytes reached storage before the row: take them back so nothing is left behind.
        _unstore([attachment])
        raise
    return attachment


@transaction.atomic
def add_attachments(
    *,
    actor: Actor,
    ticket: Ticket,
    uploads: list[Upload],
    public: bool = True,
    comment: Comment | None = None,
) -> list[Attachment]:
    """Several files at once (an upload form, a mail): all of them are kept, or none.

    Each file is checked and stored, then the rows are written together: one INSERT for the
    files, one for their timeline events and one UPDATE of the ticket, however many files there
    are. When one is refused, nothing is written and the bytes already stored for the others
    are removed here, so nothing waits for ``prune_orphan_files``.
    """
    if not uploads:
        return []
    _check_attach(actor, ticket, public=public)
    created: list[Attachment] = []
    try:
        for upload in uploads:
            created.append(_stored(actor, ticket, upload, public=public, comment=comment))
        if connection.features.can_return_rows_from_bulk_insert:
            Attachment.objects.bulk_create(created)
        else:  # the events need the files' ids
            for attachment in created:
                attachment.save()
        now = timezone.now()
        who = actor.audit_fields()
        TicketEvent.objects.bulk_create(
            TicketEvent(
                ticket=ticket,
                kind=EventKind.ATTACHMENT_ADDED,
                before={},
                after=_added(attachment),
                public=public,
                comment=comment,
                created_at=now,
                **who,
            )
            for attachment in created
        )
        ticket.updated_at = now
        ticket.save(update_fields=["updated_at"])
    except Exception:
        _unstore(created)
        raise
    return created
