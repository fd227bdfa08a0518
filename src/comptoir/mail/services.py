"""The intake pipeline: store → record → parse → sort out → ticket or reply (one door for every
way mail arrives: the MTA pipe, the inbound API, IMAP and the SMTP receiver).

``receive`` stores the raw bytes durably, then records the message under its idempotency key
(mailbox + Message-ID, or the SHA-256 without one): a message seen twice is one row. ``process``
does the rest in one transaction with the row's status, so a crash leaves the message
"received", and processing it again (``process_pending``, every minute) creates it once.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import OperationalError, transaction
from django.utils import timezone

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
    """Store and record one message, then process it. Raises ``spool.StoreFailed`` (the sender
    must try again) only when the message could not be kept; anything after that is recorded."""
    relative, digest = spool.store(raw)
    message_id = _header_message_id(raw)
    key = f"{mailbox.pk if mailbox else 0}:" + (message_id or f"sha256:{digest}")
    inbound, created = InboundMessage.objects.get_or_create(
        key=key[:255],
        defaults={
            "mailbox": mailbox,
            "message_id": message_id[:255],
            "sha256": digest,
            "spool_path": relative,
            "size": len(raw),
            "source": source,
        },
    )
    if inbound.status == InboundStatus.RECEIVED:
        return process(inbound, raw=raw)
    return inbound


def process(inbound: InboundMessage, *, raw: bytes | None = None) -> InboundMessage:
    """Turn a stored message into a ticket or a reply, once (``raw``: its bytes, if in hand)."""
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
            outcome = _sort_out(locked, parsed)
            locked.status, locked.reason = outcome.status, outcome.reason
            locked.ticket, locked.comment = outcome.ticket, outcome.comment
            locked.sender = parsed.sender.email[:254]
            locked.message_id = locked.message_id or parsed.message_id[:255]
            locked.subject = parsed.subject[:300]
            locked.processed_at = timezone.now()
            locked.attempts += 1
            locked.save()
            if locked.mailbox_id:
                Mailbox.objects.filter(pk=locked.mailbox_id).update(
                    last_received_at=locked.processed_at
                )
            return locked
    except OperationalError:
        # The database is unavailable or busy: the message stays "received" for a later try
        # (the MTA's, or the worker's every minute), never "failed" for a passing cause.
        raise
    except Exception as exc:
        logger.exception("Mail %s could not be processed", inbound.key)
        return _finish(inbound, InboundStatus.FAILED, f"{type(exc).__name__}: {exc}")


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
    """Process messages stored but left unprocessed (a crash between storing and processing)."""
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
    if inbound.mailbox_id:
        return inbound.mailbox
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
    recent = InboundMessage.objects.filter(sender=sender, received_at__gte=hour_ago).count()
    if recent >= settings.COMPTOIR_MAIL_RATE_LIMIT:
        return Outcome(
            InboundStatus.IGNORED,
            f"More than {settings.COMPTOIR_MAIL_RATE_LIMIT} messages from {sender} in an hour.",
        )
    person = _person(sender, parsed.sender.name, mailbox)
    if person is None:
        return Outcome(InboundStatus.IGNORED, "Unknown sender, and this mailbox accepts none.")
    BouncingAddress.objects.filter(email=sender).delete()  # they write again: they read again
    actor = Actor.for_user(person, Channel.EMAIL)
    match = find_ticket(parsed, mailbox.desk_id)
    if (
        match is not None
        and can_see_ticket(actor, match.ticket)
        and ticket_perms.can_comment(actor, match.ticket, public=True)
    ):
        return _reply(actor, match.ticket, parsed, ours)
    return _new_ticket(actor, mailbox, parsed, ours, related=match.ticket if match else None)


def _person(email: str, name: str, mailbox: Mailbox):
    from comptoir.accounts.selectors import resolve_person

    found = resolve_person(email)
    if found is not None:
        return found
    if not mailbox.accept_unknown_senders:
        return None
    return contact_for(email, name)


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


def _uploads(parsed: ParsedMessage) -> list[tickets.Upload]:
    return [
        tickets.Upload(
            stream=io.BytesIO(a.data),
            name=a.filename,
            declared_type=a.content_type,
            size=len(a.data),
        )
        for a in parsed.attachments
        if a.data
    ]


def _reply(actor: Actor, ticket: Ticket, parsed: ParsedMessage, ours: set[str]) -> Outcome:
    ticket = Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
    if ticket.status_category in (StatusCategory.RESOLVED, StatusCategory.CLOSED):
        try:
            tickets.reopen_ticket(actor=actor, ticket=ticket, reason="Reply by mail.")
        except DomainError:
            # Too old to reopen, or not theirs to reopen: a new ticket, linked to this one.
            mailbox = Mailbox.objects.filter(desk_id=ticket.desk_id, is_active=True).first()
            assert mailbox is not None
            return _new_ticket(actor, mailbox, parsed, ours, related=ticket)
    comment = tickets.add_comment(actor=actor, ticket=ticket, body=_body(parsed), public=True)
    uploads = _uploads(parsed)
    if uploads:
        tickets.add_attachments(actor=actor, ticket=ticket, uploads=uploads, comment=comment)
    return Outcome(InboundStatus.PROCESSED, "Added to the ticket.", ticket, comment)


def _new_ticket(
    actor: Actor,
    mailbox: Mailbox,
    parsed: ParsedMessage,
    ours: set[str],
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
    uploads = _uploads(parsed)
    if uploads:
        tickets.add_attachments(actor=actor, ticket=ticket, uploads=uploads)
    system = Actor.system("mail", Channel.EMAIL)
    watchers = _cc_watchers(parsed, mailbox, ours, exclude=actor.user.pk)
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
        )
    return Outcome(InboundStatus.PROCESSED, "Opened a ticket.", ticket)


def _cc_watchers(parsed: ParsedMessage, mailbox: Mailbox, ours: set[str], *, exclude: int) -> list:
    """People in Cc (and other To addresses) become watchers: known people, or new contacts when
    the mailbox takes unknown senders. Our own addresses never do."""
    from comptoir.accounts.selectors import resolve_person

    people = []
    for address in (*parsed.cc, *parsed.to):
        email = address.email
        if not email or "@" not in email or _untagged(email) in ours:
            continue
        person = resolve_person(email)
        if person is None and mailbox.accept_unknown_senders:
            person = contact_for(email, address.name)
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
