"""The intake pipeline: store → parse → record and sort out → ticket or reply (one door for
every way mail arrives: the MTA pipe, the inbound API, IMAP and the SMTP receiver).

``receive`` stores the raw bytes durably (the spool, with ``fsync``) and parses them; then, in
one transaction, it records the message under its idempotency key (mailbox + Message-ID, or the
SHA-256 without one) and sorts it out: a message seen twice is one row, one ticket or reply.
A crash before that commit leaves the message in the spool and nothing in the database: the
door that brought it has not confirmed it (no ``250``, no IMAP flag, exit status 75 or 503), so
its sender brings it again. When the database is busy or down, or the process is interrupted,
the message is recorded "received" if the database still takes it, and the worker processes it
once, a minute later (``process_pending``). A message that cannot be read, or whose processing
fails, is kept as "failed" with the reason, until ``retry``.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from comptoir.accounts.permissions import is_manager_on
from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.sql import insert, when
from comptoir.mail import spool
from comptoir.mail.models import InboundMessage, InboundStatus, Mailbox
from comptoir.mail.parsing import (
    MessageTooLarge,
    ParsedMessage,
    UnreadableMessage,
    parse_message,
)
from comptoir.mail.sorting import ReceivedBefore, files_kept, forget_files, sort_out
from comptoir.mail.sql import intake_statement

__all__ = [
    "MAILBOX_FIELDS",
    "MAX_ATTEMPTS",
    "create_mailbox",
    "process",
    "process_pending",
    "receive",
    "retry",
    "update_mailbox",
]

logger = logging.getLogger(__name__)

# The value may be folded onto the next line ("Message-ID:\r\n <…>", as Exchange writes it).
_MESSAGE_ID = re.compile(
    rb"^message-id:[ \t]*(?:\r?\n[ \t]+)?<([^>\r\n]{1,250})>", re.IGNORECASE | re.MULTILINE
)
MAX_ATTEMPTS = 5


def _header_message_id(raw: bytes) -> str:
    """The Message-ID from the header block alone (before any parsing, for the key)."""
    head = raw[:65536].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = _MESSAGE_ID.search(head)
    return found.group(1).decode("ascii", "replace").strip() if found else ""


def receive(raw: bytes, *, mailbox: Mailbox | None = None, source: str = "pipe") -> InboundMessage:
    """Store, parse and sort out one message; returns its row.

    Raises ``spool.StoreFailed`` when the message could not be kept, and the database's error
    when it could not be recorded: the sender must try again. Anything else is recorded (a
    message that cannot be read, or whose processing failed, is kept and marked ``failed``).
    """
    relative, digest = spool.store(raw)
    message_id = _header_message_id(raw)
    key = (f"{mailbox.pk if mailbox else 0}:" + (message_id or f"sha256:{digest}"))[:255]
    inbound = InboundMessage(
        key=key,
        mailbox=mailbox,
        message_id=message_id[:255],
        sha256=digest,
        spool_path=relative,
        size=len(raw),
        source=source,
    )
    try:
        parsed = parse_message(raw, max_bytes=settings.COMPTOIR_MAIL_MAX_BYTES)
    except (MessageTooLarge, UnreadableMessage) as exc:
        return _record(inbound, InboundStatus.FAILED, str(exc))
    except Exception as exc:  # a message the parser trips on is kept for a later try
        logger.exception("Mail %s could not be read", key)
        return _record(inbound, InboundStatus.FAILED, f"{type(exc).__name__}: {exc}")
    # Parsed before the transaction: on SQLite, the database's write lock is held only for the
    # writes. The row is written once, with its outcome, last: a message received before is
    # found by its key with the sender's hourly count (``ReceivedBefore``), before anything
    # is written, or, brought in by two doors at once, by the insert, which rolls back what
    # the second one did.
    with files_kept() as stored:
        try:
            with transaction.atomic():
                _settle(inbound, parsed)
                insert([inbound])
                _note_last_mail(inbound)
            return inbound
        except (ReceivedBefore, IntegrityError):
            # Received before (a sender trying again, a message polled twice...), or meanwhile
            # by another door: whatever was done here was rolled back, and the first one stands.
            forget_files(stored)
            known = InboundMessage.objects.filter(key=key).first()
            if known is not None:
                return process(known, raw=raw) if known.status == InboundStatus.RECEIVED else known
            logger.exception("Mail %s could not be processed", key)
            return _record(inbound, InboundStatus.FAILED, "The database refused the changes.")
        except OperationalError:
            # The database is unavailable or busy: kept "received" (if it takes even that) for
            # a later try, the sender's or the worker's, never "failed" for a passing cause.
            forget_files(stored)
            _record_quietly(inbound)
            raise
        except Exception as exc:
            forget_files(stored)
            logger.exception("Mail %s could not be processed", key)
            return _record(inbound, InboundStatus.FAILED, f"{type(exc).__name__}: {exc}")
        except BaseException:
            forget_files(stored)
            _record_quietly(inbound)  # interrupted: the worker takes it from there
            raise


def process(inbound: InboundMessage, *, raw: bytes | None = None) -> InboundMessage:
    """Turn a message recorded but not processed into a ticket or a reply, once (``raw``: its
    bytes, if in hand)."""
    try:
        if raw is None:
            raw = spool.read(inbound.spool_path)
        parsed = parse_message(raw, max_bytes=settings.COMPTOIR_MAIL_MAX_BYTES)
    except (MessageTooLarge, UnreadableMessage, OSError) as exc:
        return _finish(inbound, InboundStatus.FAILED, str(exc))
    with files_kept() as stored:
        try:
            with transaction.atomic():
                locked = InboundMessage.objects.select_for_update().get(pk=inbound.pk)
                if locked.status != InboundStatus.RECEIVED:
                    return locked  # done by someone else meanwhile
                _settle(locked, parsed)
                locked.save(update_fields=_OUTCOME_FIELDS)
                _note_last_mail(locked)
                return locked
        except OperationalError:
            forget_files(stored)
            raise  # stays "received" for a later try
        except Exception as exc:
            forget_files(stored)
            logger.exception("Mail %s could not be processed", inbound.key)
            return _finish(inbound, InboundStatus.FAILED, f"{type(exc).__name__}: {exc}")
        except BaseException:
            forget_files(stored)
            raise


_OUTCOME_FIELDS = (
    "mailbox",
    "status",
    "reason",
    "ticket",
    "comment",
    "sender",
    "message_id",
    "subject",
    "processed_at",
    "attempts",
)


def _settle(inbound: InboundMessage, parsed: ParsedMessage) -> None:
    """Sort the message out and write the outcome on its row (not saved)."""
    outcome = sort_out(inbound, parsed)
    inbound.status, inbound.reason = outcome.status, outcome.reason
    inbound.ticket, inbound.comment = outcome.ticket, outcome.comment
    inbound.sender = parsed.sender.email[:254]
    inbound.message_id = inbound.message_id or parsed.message_id[:255]
    inbound.subject = parsed.subject[:300]
    inbound.processed_at = timezone.now()
    inbound.attempts += 1


def _note_last_mail(inbound: InboundMessage) -> None:
    if inbound.mailbox_id:
        intake_statement(
            "UPDATE {mailbox} SET {last_received_at} = %s WHERE {mailbox_id} = %s",
            [when(inbound.processed_at), inbound.mailbox_id],
        )


def _record(inbound: InboundMessage, status: str, reason: str) -> InboundMessage:
    """Record a message that was not (or not fully) processed; the row already there if the
    message was received before."""
    inbound.pk = None
    inbound.status, inbound.reason = status, reason[:4000]
    inbound.ticket = inbound.comment = None
    if status != InboundStatus.RECEIVED:
        inbound.processed_at = timezone.now()
        inbound.attempts = 1
    else:
        inbound.processed_at, inbound.attempts = None, 0
    try:
        with transaction.atomic():
            inbound.save(force_insert=True)
    except IntegrityError:
        return InboundMessage.objects.get(key=inbound.key)
    return inbound


def _record_quietly(inbound: InboundMessage) -> None:
    """Record the message "received" if the database takes it; it is in the spool either way."""
    try:
        _record(inbound, InboundStatus.RECEIVED, "")
    except Exception:
        logger.warning("Mail %s is in the spool but could not be recorded", inbound.key)


def _finish(inbound: InboundMessage, status: str, reason: str) -> InboundMessage:
    InboundMessage.objects.filter(pk=inbound.pk, status=InboundStatus.RECEIVED).update(
        status=status,
        reason=reason[:4000],
        processed_at=timezone.now(),
        attempts=inbound.attempts + 1,
    )
    inbound.refresh_from_db()
    return inbound


def process_pending(*, older_than: timedelta = timedelta(minutes=1), batch: int = 200) -> int:
    """Process messages stored but left unprocessed (the database was busy, or the process was
    interrupted)."""
    cutoff = timezone.now() - older_than
    ids = list(
        InboundMessage.objects.filter(status=InboundStatus.RECEIVED, received_at__lte=cutoff)
        .order_by("id")
        .values_list("pk", flat=True)[:batch]
    )
    done = 0
    for pk in ids:
        try:
            process(InboundMessage.objects.get(pk=pk))
        except OperationalError:
            logger.warning("Mail %s: the database is unavailable; trying again later", pk)
            break
        done += 1
    return done


def retry(inbound: InboundMessage) -> InboundMessage:
    """Process a failed message again (after a fix, or a change of configuration)."""
    InboundMessage.objects.filter(pk=inbound.pk, status=InboundStatus.FAILED).update(
        status=InboundStatus.RECEIVED, reason=""
    )
    inbound.refresh_from_db()
    return process(inbound) if inbound.status == InboundStatus.RECEIVED else inbound


# --- mailboxes ----------------------------------------------------------------------------------

MAILBOX_FIELDS = ("name", "is_active", "accept_unknown_senders")


def _require_mail_manager(actor: Actor, desk_id: int) -> None:
    if not is_manager_on(actor, desk_id):
        raise PermissionDenied("Only the desk's managers connect mailboxes.")


@transaction.atomic
def create_mailbox(*, actor: Actor, desk, address: str, **values) -> Mailbox:
    _require_mail_manager(actor, desk.pk)
    address = address.strip().lower()
    try:
        validate_email(address)
    except ValidationError as exc:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, f"{address!r} is not a mail address.", {"field": "address"}
        ) from exc
    if Mailbox.objects.filter(address__iexact=address).exists():
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "This address is connected already.", {"field": "address"}
        )
    box = Mailbox.objects.create(
        desk=desk, address=address, **{k: v for k, v in values.items() if k in MAILBOX_FIELDS}
    )
    record_audit(actor=actor, action="create", obj=box, after=snapshot(box))
    return box


@transaction.atomic
def update_mailbox(*, actor: Actor, mailbox: Mailbox, **values) -> Mailbox:
    _require_mail_manager(actor, mailbox.desk_id)
    before = snapshot(mailbox)
    for name, value in values.items():
        if name in MAILBOX_FIELDS and value is not None:
            setattr(mailbox, name, value)
    mailbox.save()
    record_audit(actor=actor, action="update", obj=mailbox, before=before, after=snapshot(mailbox))
    return mailbox
