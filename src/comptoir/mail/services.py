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

import io
import logging
import re
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.utils import timezone

from comptoir.accounts.models import User
from comptoir.accounts.permissions import is_manager_on
from comptoir.accounts.services import contact_for
from comptoir.core.actor import Actor, Channel
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.mail import spool
from comptoir.mail.matching import find_ticket
from comptoir.mail.models import (
    BouncingAddress,
    InboundMessage,
    InboundStatus,
    Mailbox,
)
from comptoir.mail.outbound import our_addresses, queue_mail
from comptoir.mail.parsing import (
    MessageTooLarge,
    ParsedMessage,
    UnreadableMessage,
    parse_message,
)
from comptoir.tickets import permissions as ticket_perms
from comptoir.tickets import services as tickets
from comptoir.tickets.lifecycle import StatusCategory
from comptoir.tickets.models import Comment, Ticket
from comptoir.tickets.selectors import can_see_ticket

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
    # writes. A message received before is found by its key at the first insert.
    try:
        with transaction.atomic():
            inbound.save(force_insert=True)  # first: a message brought in twice stops here
            _settle(inbound, parsed)
            inbound.save(update_fields=_OUTCOME_FIELDS)
            _note_last_mail(inbound)
        return inbound
    except IntegrityError:
        # Received before (a sender trying again, a message polled twice...), or meanwhile by
        # another door: whatever was done here was rolled back, and the first one stands.
        known = InboundMessage.objects.filter(key=key).first()
        if known is not None:
            return process(known, raw=raw) if known.status == InboundStatus.RECEIVED else known
        logger.exception("Mail %s could not be processed", key)
        return _record(inbound, InboundStatus.FAILED, "The database refused the changes.")
    except OperationalError:
        # The database is unavailable or busy: kept "received" (if it takes even that) for a
        # later try, the sender's or the worker's, never "failed" for a passing cause.
        _record_quietly(inbound)
        raise
    except Exception as exc:
        logger.exception("Mail %s could not be processed", key)
        return _record(inbound, InboundStatus.FAILED, f"{type(exc).__name__}: {exc}")
    except BaseException:
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
        raise  # stays "received" for a later try
    except Exception as exc:
        logger.exception("Mail %s could not be processed", inbound.key)
        return _finish(inbound, InboundStatus.FAILED, f"{type(exc).__name__}: {exc}")


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
    outcome = _sort_out(inbound, parsed)
    inbound.status, inbound.reason = outcome.status, outcome.reason
    inbound.ticket, inbound.comment = outcome.ticket, outcome.comment
    inbound.sender = parsed.sender.email[:254]
    inbound.message_id = inbound.message_id or parsed.message_id[:255]
    inbound.subject = parsed.subject[:300]
    inbound.processed_at = timezone.now()
    inbound.attempts += 1


def _note_last_mail(inbound: InboundMessage) -> None:
    if inbound.mailbox_id:
        _statement(
            "UPDATE {mailbox} SET {last_received_at} = %s WHERE {mailbox_id} = %s",
            [_when(inbound.processed_at), inbound.mailbox_id],
        )


# Three statements every message makes, written out: compiling them through the ORM costs
# several times what running them does (as for ``core.lookups.any_row``).
def _statement(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    """Run one statement naming the tables and columns below in braces; its first row, if it
    returns rows."""
    quote = connection.ops.quote_name

    def column(model: type[models.Model], name: str) -> str:
        return quote(str(getattr(model._meta.get_field(name), "column", name)))

    names = {
        "mailbox": quote(Mailbox._meta.db_table),
        "last_received_at": column(Mailbox, "last_received_at"),
        "mailbox_id": column(Mailbox, "id"),
        "inbound": quote(InboundMessage._meta.db_table),
        "sender": column(InboundMessage, "sender"),
        "received_at": column(InboundMessage, "received_at"),
        "bouncing": quote(BouncingAddress._meta.db_table),
        "email": column(BouncingAddress, "email"),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**names), params)
        return cursor.fetchone() if cursor.description else None


def _when(moment: datetime | None) -> Any:
    """A time as the database takes it in a statement written out."""
    return connection.ops.adapt_datetimefield_value(moment)


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


# --- sorting a message out ----------------------------------------------------------------------


@dataclass
class Outcome:
    status: str
    reason: str = ""
    ticket: Ticket | None = None
    comment: Comment | None = None


def _untagged(address: str) -> str:
    """``support+IT-000042@example.com`` → ``support@example.com``."""
    return re.sub(r"\+[^@]*@", "@", address.lower())


def _mailbox_for(inbound: InboundMessage, parsed: ParsedMessage) -> Mailbox | None:
    """The mailbox with its desk, read once: the one given, or the first active one among the
    recipients."""
    if inbound.mailbox_id:
        if InboundMessage.mailbox.is_cached(inbound):
            mailbox = inbound.mailbox
            if mailbox is not None and Mailbox.desk.is_cached(mailbox):
                return mailbox
        return Mailbox.objects.select_related("desk").filter(pk=inbound.mailbox_id).first()
    recipients = [*parsed.delivered_to, *(a.email for a in (*parsed.to, *parsed.cc))]
    plain = {_untagged(r) for r in recipients if r}
    return Mailbox.objects.filter(address__in=plain, is_active=True).select_related("desk").first()


def _sort_out(inbound: InboundMessage, parsed: ParsedMessage) -> Outcome:
    ours = our_addresses()  # read once per message, passed to what needs it
    mailbox = _mailbox_for(inbound, parsed)
    if mailbox is None:
        return Outcome(InboundStatus.IGNORED, "No active mailbox among the recipients.")
    if inbound.mailbox_id is None:
        inbound.mailbox = mailbox
    if parsed.bounce is not None:
        _note_bounce(parsed)
        return Outcome(InboundStatus.IGNORED, "Delivery report: the addresses are marked bouncing.")
    if any(value.strip().lower() in ({"comptoir"} | ours) for value in parsed.x_loop):
        return Outcome(InboundStatus.IGNORED, "Our own mail came back (X-Loop).")
    sender = parsed.sender.email
    if not sender or "@" not in sender:
        return Outcome(InboundStatus.IGNORED, "The message has no sender address.")
    if _untagged(sender) in ours:
        return Outcome(
            InboundStatus.IGNORED, "The message claims to come from one of our addresses."
        )
    hour_ago = timezone.now() - timedelta(hours=1)
    counted = _statement(
        "SELECT COUNT(*) FROM {inbound} WHERE {sender} = %s AND {received_at} >= %s",
        [sender, _when(hour_ago)],
    )
    recent = counted[0] if counted else 0
    if recent >= settings.COMPTOIR_MAIL_RATE_LIMIT:
        return Outcome(
            InboundStatus.IGNORED,
            f"More than {settings.COMPTOIR_MAIL_RATE_LIMIT} messages from {sender} in an hour.",
        )
    # The sender and the people in Cc, in one read.
    known = _known_people([sender, *(a.email for a in _copied(parsed, ours))])
    person = _person(sender, parsed.sender.name, mailbox, known)
    if person is None:
        return Outcome(InboundStatus.IGNORED, "Unknown sender, and this mailbox accepts none.")
    _statement("DELETE FROM {bouncing} WHERE {email} = %s", [sender])  # they read again
    actor = Actor.for_user(person, Channel.EMAIL)
    match = find_ticket(parsed, mailbox.desk_id, lock=True)
    if (
        match is not None
        and can_see_ticket(actor, match.ticket)
        and ticket_perms.can_comment(actor, match.ticket, public=True)
    ):
        return _reply(actor, mailbox, match.ticket, parsed, ours, known)
    return _new_ticket(actor, mailbox, parsed, ours, known, related=match.ticket if match else None)


def _known_people(emails: list[str]) -> dict[str, User]:
    """Active people by address, with their organisation (one query; addresses are kept in
    lower case)."""
    wanted = {e.lower() for e in emails if e and "@" in e}
    if not wanted:
        return {}
    found = (
        User.objects.filter(is_active=True, email__in=wanted)
        .select_related("organisation")
        .order_by()
    )
    return {user.email.lower(): user for user in found}


def _person(email: str, name: str, mailbox: Mailbox, known: dict[str, User]) -> User | None:
    """The person writing from ``email``: known, or (if the mailbox takes strangers) a new
    contact. An address stored in another case is found by the slower lookups."""
    from comptoir.accounts.selectors import resolve_person

    found = known.get(email.lower())
    if found is not None:
        return found
    if mailbox.accept_unknown_senders:
        return contact_for(email, name)
    return resolve_person(email)


def _note_bounce(parsed: ParsedMessage) -> None:
    assert parsed.bounce is not None
    if not parsed.bounce.permanent:
        return
    now = timezone.now()
    for address in parsed.bounce.recipients:
        row, created = BouncingAddress.objects.get_or_create(
            email=address.lower()[:254],
            defaults={"status": parsed.bounce.status, "bounces": 1, "last_bounce_at": now},
        )
        if not created:
            BouncingAddress.objects.filter(pk=row.pk).update(
                bounces=row.bounces + 1, status=parsed.bounce.status, last_bounce_at=now
            )


def _body(parsed: ParsedMessage) -> str:
    text = parsed.text.strip() or parsed.full_text.strip()
    return text[: tickets.MAX_BODY] or "(empty message)"


# An attachment larger than this is decoded into a temporary file rather than into memory.
_IN_MEMORY_BYTES = 256 * 1024


def _uploads(parsed: ParsedMessage, files: ExitStack) -> list[tickets.Upload]:
    """The attachments as files to store. A large one is decoded once, a piece at a time, into
    an unnamed temporary file beside the spool (the store reads a file twice: to check it, then
    to keep it), so that it is never whole in memory; ``files`` closes them."""
    uploads = []
    for attachment in parsed.attachments:
        if not attachment.size:
            continue
        stream: IO[bytes]
        if attachment.size <= _IN_MEMORY_BYTES:
            stream = io.BytesIO(attachment.data)
        else:
            temporary = tempfile.TemporaryFile(dir=spool.spool_root())  # noqa: SIM115
            stream = files.enter_context(temporary)  # closed with ``files``
            for chunk in attachment.chunks():
                stream.write(chunk)
            stream.seek(0)
        uploads.append(
            tickets.Upload(
                stream=stream,
                name=attachment.filename,
                declared_type=attachment.content_type,
                size=attachment.size,
            )
        )
    return uploads


def _reply(
    actor: Actor,
    mailbox: Mailbox,
    ticket: Ticket,
    parsed: ParsedMessage,
    ours: set[str],
    known: dict[str, User],
) -> Outcome:
    """A comment on ``ticket`` (found by ``find_ticket``, and locked)."""
    if ticket.status_category in (StatusCategory.RESOLVED, StatusCategory.CLOSED):
        try:
            tickets.reopen_ticket(actor=actor, ticket=ticket, reason="Reply by mail.")
        except DomainError:
            # Too old to reopen, or not theirs to reopen: a new ticket, linked to this one.
            return _new_ticket(actor, mailbox, parsed, ours, known, related=ticket)
    comment = tickets.add_comment(actor=actor, ticket=ticket, body=_body(parsed), public=True)
    with ExitStack() as files:
        uploads = _uploads(parsed, files)
        if uploads:
            tickets.add_attachments(actor=actor, ticket=ticket, uploads=uploads, comment=comment)
    return Outcome(InboundStatus.PROCESSED, "Added to the ticket.", ticket, comment)


def _new_ticket(
    actor: Actor,
    mailbox: Mailbox,
    parsed: ParsedMessage,
    ours: set[str],
    known: dict[str, User],
    *,
    related: Ticket | None,
) -> Outcome:
    assert actor.user is not None
    ticket = tickets.create_ticket(
        actor=actor,
        desk=mailbox.desk,
        kind="incident" if mailbox.desk.kind == "it" else "service_request",
        title=(parsed.subject or "(no subject)")[: tickets.MAX_TITLE],
        description=_body(parsed),
    )
    with ExitStack() as files:
        uploads = _uploads(parsed, files)
        if uploads:
            tickets.add_attachments(actor=actor, ticket=ticket, uploads=uploads)
    system = Actor.system("mail", Channel.EMAIL)
    watchers = _cc_watchers(parsed, mailbox, ours, known, exclude=actor.user.pk)
    if watchers:
        tickets.update_ticket(actor=system, ticket=ticket, changes={"watchers": watchers})
    if related is not None:
        tickets.link_tickets(actor=system, ticket=ticket, target=related, kind="related")
    if not parsed.is_auto:
        queue_mail(
            ticket=ticket,
            kind="acknowledgement",
            recipients=[actor.user],
            key=f"ack:{ticket.pk}",
            values={},
            automatic="auto-replied",
            thread=(parsed.message_id, [*parsed.references, parsed.message_id]),
            ours=ours,
            answers_a_person=True,  # the sender's latest mail is this one, not automatic
        )
    return Outcome(InboundStatus.PROCESSED, "Opened a ticket.", ticket)


def _copied(parsed: ParsedMessage, ours: set[str]):
    """The addresses in Cc and To that are not ours, each once."""
    seen: set[str] = set()
    found = []
    for address in (*parsed.cc, *parsed.to):
        email = address.email
        if not email or "@" not in email or _untagged(email) in ours or email in seen:
            continue
        seen.add(email)
        found.append(address)
    return found


def _cc_watchers(
    parsed: ParsedMessage,
    mailbox: Mailbox,
    ours: set[str],
    known: dict[str, User],
    *,
    exclude: int,
) -> list[User]:
    """People in Cc (and other To addresses) become watchers: known people, or new contacts when
    the mailbox takes unknown senders. Our own addresses never do."""
    people: list[User] = []
    for address in _copied(parsed, ours):
        person = _person(address.email, address.name, mailbox, known)
        if person is not None and person.pk != exclude and person not in people:
            people.append(person)
    return people[:20]


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
