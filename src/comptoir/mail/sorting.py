"""Sorting a message out: what it is (a delivery report, our own mail coming back, a flood,
an automatic reply…), who sent it, which ticket it belongs to, and what it does there (a reply,
an internal note, a new ticket), in the transaction ``services.receive`` opens.

The rules are those of docs/subsystems/mail.md: the loop and noise rules, threading
(``matching``), automatic replies kept as notes that change nothing, answers to agents' notices
kept as those agents' notes, and a new ticket otherwise.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext

from comptoir.accounts.models import User
from comptoir.core.actor import Actor, Channel
from comptoir.core.errors import DomainError
from comptoir.core.sql import when
from comptoir.mail import spool
from comptoir.mail.matching import find_ticket
from comptoir.mail.models import BouncingAddress, InboundMessage, InboundStatus, Mailbox
from comptoir.mail.outbound import our_addresses, queue_mail
from comptoir.mail.parsing import ParsedMessage
from comptoir.mail.people import (
    actor_for,
    cc_watchers,
    copied,
    known_people,
    person_for,
    untagged,
)
from comptoir.mail.sql import intake_statement
from comptoir.tickets import permissions as ticket_perms
from comptoir.tickets import services as tickets
from comptoir.tickets.lifecycle import StatusCategory
from comptoir.tickets.models import Attachment, Comment, Ticket
from comptoir.tickets.selectors import can_see_ticket

logger = logging.getLogger(__name__)


class ReceivedBefore(Exception):
    """The message's key is recorded already: stop, and roll back what was done."""


#: The attachment files stored while one message is sorted out (see ``files_kept``).
_stored_files: ContextVar[list[str] | None] = ContextVar("mail_stored_files", default=None)


@contextmanager
def files_kept() -> Iterator[list[str]]:
    """Collect the names of the attachment files stored while a message is sorted out, so
    that a transaction rolled back (a message received before, a failure) takes its files
    back with it instead of leaving them to ``prune_orphan_files``."""
    stored: list[str] = []
    token = _stored_files.set(stored)
    try:
        yield stored
    finally:
        _stored_files.reset(token)


def forget_files(stored: list[str]) -> None:
    """Remove the files of a transaction that was rolled back."""
    storage = Attachment._meta.get_field("file").storage
    for name in stored:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("Could not remove %s, left by a transaction rolled back", name)
    stored.clear()


@dataclass
class Outcome:
    status: str
    reason: str = ""
    ticket: Ticket | None = None
    comment: Comment | None = None


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
    plain = {untagged(r) for r in recipients if r}
    return Mailbox.objects.filter(address__in=plain, is_active=True).select_related("desk").first()


def sort_out(inbound: InboundMessage, parsed: ParsedMessage) -> Outcome:
    """What ``parsed`` is and does, done in the caller's transaction; its outcome for the
    message's row (``services._settle`` writes it). Raises ``ReceivedBefore`` when the message
    (not recorded yet) turns out to be recorded already."""
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
    if untagged(sender) in ours:
        return Outcome(
            InboundStatus.IGNORED, "The message claims to come from one of our addresses."
        )
    hour_ago = timezone.now() - timedelta(hours=1)
    # The sender's messages of the last hour, and (for a message not recorded yet) whether its
    # key is recorded already, in one statement.
    counted = intake_statement(
        "SELECT (SELECT COUNT(*) FROM {inbound} WHERE {sender} = %s AND {received_at} >= %s), "
        "(SELECT {inbound_id} FROM {inbound} WHERE {key} = %s)",
        [sender, when(hour_ago), inbound.key if inbound.pk is None else ""],
    )
    recent, known_before = counted if counted else (0, None)
    if known_before is not None:
        raise ReceivedBefore(inbound.key)
    if recent >= settings.COMPTOIR_MAIL_RATE_LIMIT:
        return Outcome(
            InboundStatus.IGNORED,
            f"More than {settings.COMPTOIR_MAIL_RATE_LIMIT} messages from {sender} in an hour.",
        )
    # The sender and the people in Cc, in one read.
    known = known_people([sender, *(a.email for a in copied(parsed, ours))])
    # A robot's answer makes no new contact: it can only be kept on a ticket its sender has.
    robot = parsed.auto_reply_certain
    person = person_for(sender, parsed.sender.name, mailbox, known, create=not robot)
    if person is None:
        if robot:
            return Outcome(
                InboundStatus.IGNORED,
                f"An automatic reply ({parsed.auto_reply}) from an unknown sender: "
                "no ticket opened.",
            )
        return Outcome(InboundStatus.IGNORED, "Unknown sender, and this mailbox accepts none.")
    if not person.is_active:
        return Outcome(
            InboundStatus.IGNORED, "The sender's account is deactivated: no ticket opened."
        )
    intake_statement("DELETE FROM {bouncing} WHERE {email} = %s", [sender])  # they read again
    actor = actor_for(person)
    match = find_ticket(parsed, mailbox.desk_id, lock=True)
    related = match.ticket if match else None
    if match is not None and match.notice:
        if ticket_perms.can_view_internal(actor, match.ticket):
            if parsed.auto_reply:
                return _automatic_note(match.ticket, parsed)
            return _note(actor, match.ticket, parsed)
        # Anyone else answering a notice (one forwarded to them) gains nothing from it: the
        # mail is sorted out as a stranger's quoting the ticket.
        match = None
    if (
        match is not None
        and can_see_ticket(actor, match.ticket)
        and ticket_perms.can_comment(actor, match.ticket, public=True)
    ):
        if parsed.auto_reply:
            return _automatic_note(match.ticket, parsed)
        return _reply(actor, mailbox, match.ticket, parsed, ours, known)
    if robot:
        return Outcome(
            InboundStatus.IGNORED,
            f"An automatic reply ({parsed.auto_reply}) to no ticket its sender has on this "
            "desk: no ticket opened.",
        )
    return _new_ticket(actor, mailbox, parsed, ours, known, related=related)


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


def _files(
    actor: Actor,
    ticket: Ticket,
    parsed: ParsedMessage,
    comment: Comment | None,
    *,
    public: bool = True,
) -> bool:
    """Attach the message's files to the ticket (and ``comment``); False when there were files
    and the ticket takes none (it is closed: they stay in the spool, with the message)."""
    if not any(attachment.size for attachment in parsed.attachments):
        return True
    if ticket.status_category == StatusCategory.CLOSED:
        return False
    with ExitStack() as files:
        made = tickets.add_attachments(
            actor=actor,
            ticket=ticket,
            uploads=_uploads(parsed, files),
            public=public,
            comment=comment,
        )
    stored = _stored_files.get()
    if stored is not None:
        stored.extend(attachment.file.name for attachment in made if attachment.file.name)
    return True


_CLOSED_NO_FILES = " Its files were not attached: the ticket is closed (they stay in the spool)."


def automatic_reply_label(name: str, email: str) -> str:
    """Who an automatic reply kept on a ticket is shown as, in the install's language."""
    sender = f"{name} <{email}>" if name and name.lower() != email.lower() else email
    with translation.override(settings.LANGUAGE_CODE):
        return gettext("Automatic reply from %(sender)s") % {"sender": sender}


def _automatic_note(ticket: Ticket, parsed: ParsedMessage) -> Outcome:
    """An automatic reply (an out-of-office…) on ``ticket``: an internal note marked as such,
    and nothing else. It is not the requester answering: the ticket's status stays, no SLA
    clock moves (a note moves none), nothing is mailed (a note mails nothing)."""
    robot = Actor.system(
        automatic_reply_label(parsed.sender.name, parsed.sender.email)[:200], Channel.EMAIL
    )
    comment = tickets.add_comment(actor=robot, ticket=ticket, body=_body(parsed), public=False)
    reason = f"An automatic reply ({parsed.auto_reply}): kept on the ticket as an internal note."
    if not _files(robot, ticket, parsed, comment, public=False):
        reason += _CLOSED_NO_FILES
    return Outcome(InboundStatus.PROCESSED, reason, ticket, comment)


def _note(actor: Actor, ticket: Ticket, parsed: ParsedMessage) -> Outcome:
    """A staff member's answer to a notice about ``ticket``: their internal note there, with
    the files kept internal; nothing reaches the requester."""
    comment = tickets.add_comment(actor=actor, ticket=ticket, body=_body(parsed), public=False)
    reason = "An answer to a notice: added to the ticket as an internal note."
    if not _files(actor, ticket, parsed, comment, public=False):
        reason += _CLOSED_NO_FILES
    return Outcome(InboundStatus.PROCESSED, reason, ticket, comment)


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
    _files(actor, ticket, parsed, comment)
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
    _files(actor, ticket, parsed, None)
    system = Actor.system("mail", Channel.EMAIL)
    watchers = cc_watchers(parsed, mailbox, ours, known, exclude=actor.user.pk)
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
            # Their bouncing mark was just cleared (``sort_out``), when it is their address.
            bouncing=set() if actor.user.email.lower() == parsed.sender.email else None,
        )
    return Outcome(InboundStatus.PROCESSED, "Opened a ticket.", ticket)
