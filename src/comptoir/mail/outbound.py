"""Outbound mail: composed in the transaction of the change, as outbox rows, sent by the worker.

Every mail about a ticket to its requester's side carries the ticket's reference in its subject
and in its Reply-To (``desk+IT-000042@…``), a Message-ID of ours, and In-Reply-To/References that
chain the ticket's conversation, so that a reply lands on the same ticket and mail clients thread
it. Automatic mail says so (``Auto-Submitted``) and is never sent to an automatic message, to a
bouncing address, or to one of our own addresses. The words come from the desk's own templates,
or the built-in texts, in the recipient's language (``comptoir.mail.templates``).

Notices to agents (``queue_notice``) come from the desk's address too, name the ticket in their
subject and link to it, but stay out of the ticket's conversation: they are not threaded with
it, and their reply address is a notice's (``desk+IT-000042-notice@…``). An answer to one is
recognised as such (``matching``) and kept as an internal note of its author when that is the
desk's staff, so that it never reaches the requester.

Mails about a person's account (a password reset, a sign-in link: ``queue_account_mail``) go
through the same outbox: retried with backoff, listed in the admin, never sent twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from email.headerregistry import Address
from email.utils import formataddr, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from comptoir.core.memo import RowCache
from comptoir.core.sql import column, insert, table
from comptoir.mail import spool
from comptoir.mail.matching import NOTICE_SUFFIX
from comptoir.mail.models import (
    BouncingAddress,
    InboundMessage,
    InboundStatus,
    Mailbox,
    MailKind,
    OutboundMessage,
)
from comptoir.mail.parsing import MessageTooLarge, UnreadableMessage, parse_message
from comptoir.mail.templates import LOCALES, desk_templates, one_line, render_mail, ticket_link
from comptoir.notifications.models import Notification
from comptoir.notifications.services import mark_delivered
from comptoir.tickets.models import Comment, Ticket

__all__ = [
    "LOCALES",
    "desk_address",
    "one_line",
    "our_addresses",
    "queue_mail",
    "queue_notice",
    "ticket_link",
]

logger = logging.getLogger(__name__)

#: How much of a stored message is read to tell whether it was automatic (its header block).
_HEAD_BYTES = 64 * 1024

#: Each desk's sender address, and every address of ours, read for every mail in and out; kept
#: a few seconds per process and dropped when a mailbox or a desk changes (ADR 12).
senders_cache = RowCache("mail senders")


def desk_address(ticket: Ticket) -> str:
    """The address the desk's mail comes from: its active mailbox, else the desk's address,
    else ``COMPTOIR_DEFAULT_FROM``."""
    return senders_cache.get(ticket.desk_id, lambda: _desk_address(ticket)) or ""


def _desk_address(ticket: Ticket) -> str:
    address = (
        Mailbox.objects.filter(desk_id=ticket.desk_id, is_active=True)
        .values_list("address", flat=True)
        .first()
    )
    return address or ticket.desk.email or settings.DEFAULT_FROM_EMAIL


def reply_address(address: str, ref: str, *, notice: bool = False) -> str:
    """``support@example.com`` → ``support+IT-000042@example.com`` (a notice's:
    ``support+IT-000042-notice@example.com``)."""
    local, _, domain = address.partition("@")
    tag = f"{ref}{NOTICE_SUFFIX}" if notice else ref
    return f"{local.split('+', 1)[0]}+{tag}@{domain}" if domain else address


def our_addresses() -> set[str]:
    """Every address Comptoir receives at or sends from (a copy: callers may add to it)."""
    return set(senders_cache.get("ours", _our_addresses) or ())


def _our_addresses() -> frozenset[str]:
    return frozenset(
        {a.lower() for a in Mailbox.objects.values_list("address", flat=True)}
        | {settings.DEFAULT_FROM_EMAIL.lower()}
    )


def new_message_id(ref: str, address: str) -> str:
    domain = address.partition("@")[2] or "comptoir.invalid"
    return f"{uuid.uuid4().hex}.{ref.lower()}@{domain}"


#: How many of a ticket's earlier messages a mail's References name (the latest).
THREAD = 20


@cache
def _thread_sql(vendor: str) -> str:
    """The Message-IDs of a ticket's latest ``THREAD`` mails with the requester's side, newest
    first: received (unless kept as an internal note) and sent (not the notices to agents).
    Written out (``core.sql``): every reply and change the requester hears about runs it."""
    i, o, c = table(InboundMessage), table(OutboundMessage), table(Comment)
    received, sent = (
        f"SELECT * FROM (SELECT i.{column(InboundMessage, 'received_at')} AS at, "  # noqa: S608
        f"i.{column(InboundMessage, 'message_id')} AS mid FROM {i} i "
        f"LEFT JOIN {c} c ON c.{column(Comment, 'id')} = i.{column(InboundMessage, 'comment')} "
        f"WHERE i.{column(InboundMessage, 'ticket')} = %s "
        f"AND i.{column(InboundMessage, 'message_id')} <> '' "
        f"AND (c.{column(Comment, 'public')} IS NULL OR c.{column(Comment, 'public')} = %s) "
        f"ORDER BY at DESC LIMIT {THREAD}) r",
        f"SELECT * FROM (SELECT o.{column(OutboundMessage, 'created_at')} AS at, "  # noqa: S608
        f"o.{column(OutboundMessage, 'message_id')} AS mid FROM {o} o "
        f"WHERE o.{column(OutboundMessage, 'ticket')} = %s "
        f"AND o.{column(OutboundMessage, 'kind')} <> %s "
        f"ORDER BY o.{column(OutboundMessage, 'id')} DESC LIMIT {THREAD}) s",
    )
    return (
        f"SELECT mid FROM ({received} UNION ALL {sent}) t "  # noqa: S608
        f"ORDER BY at DESC, mid DESC LIMIT {THREAD}"
    )


def thread_of(ticket: Ticket) -> tuple[str, list[str]]:
    """(In-Reply-To, References) for the next mail about ``ticket``: its conversation so far
    with the requester's side (not the notices to agents, nor the mail kept as internal
    notes), its latest ``THREAD`` messages, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            _thread_sql(connection.vendor),
            [ticket.pk, True, ticket.pk, MailKind.NOTIFICATION.value],
        )
        chain = [mid for (mid,) in reversed(cursor.fetchall())]
    return (chain[-1] if chain else ""), chain


def locale_of(user) -> str:
    locale = (getattr(user, "locale", "") or "en")[:2]
    return locale if locale in LOCALES else "en"


def _read_head(relative: str) -> bytes:
    """The header block of a stored message ("" when the file is gone or out of the spool)."""
    root = spool.spool_root().resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        return b""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(_HEAD_BYTES)
    except OSError:
        return b""
    for blank in (b"\r\n\r\n", b"\n\n"):
        end = data.find(blank)
        if end >= 0:
            return data[: end + len(blank)]
    return data + b"\r\n\r\n"


def wrote_automatically(ticket: Ticket, email: str) -> bool:
    """Whether the latest mail ``email`` sent about ``ticket`` was automatic (an auto-reply, a
    mailing list, a robot): automatic mail from us does not answer such a sender."""
    latest = (
        InboundMessage.objects.filter(
            ticket=ticket, sender__iexact=email, status=InboundStatus.PROCESSED
        )
        .order_by("-id")
        .values_list("spool_path", flat=True)
        .first()
    )
    if not latest:
        return False
    head = _read_head(latest)
    if not head.strip():
        return False
    try:
        return parse_message(head).is_auto
    except (MessageTooLarge, UnreadableMessage):
        return False


def compose(
    *, ticket: Ticket, kind: str, user, values: Mapping[str, Any], templates=None
) -> tuple[str, str]:
    """(subject, body) of the mail ``kind`` about ``ticket`` to ``user``, in their language."""
    email = (getattr(user, "email", "") or "").lower()
    fields = {
        "ref": ticket.ref,
        "title": ticket.title,
        "desk": ticket.desk.name,
        "name": getattr(user, "name", email),
        "link": ticket_link(ticket.ref, staff=kind == MailKind.NOTIFICATION),
        **values,
    }
    locale = locale_of(user)
    own = desk_templates(ticket.desk_id, kind) if templates is None else templates
    subject, body = render_mail(kind, locale, fields, own.get(locale))
    return one_line(subject), body


def queue_mail(
    *,
    ticket: Ticket,
    kind: str,
    recipients: Iterable,
    key: str,
    values: Mapping[str, Any],
    automatic: str = "",
    thread: tuple[str, list[str]] | None = None,
    ours: set[str] | None = None,
    answers_a_person: bool = False,
    bouncing: set[str] | None = None,
) -> list[OutboundMessage]:
    """Write one outbox row per recipient (a user), in the current transaction.

    ``automatic`` is the Auto-Submitted value ("auto-replied", "auto-generated") or "" for a
    person's own words. ``thread`` (In-Reply-To, References) answers a given message; by default
    the mail follows the ticket's conversation. Bouncing addresses and our own are skipped, and
    automatic mail skips a recipient whose latest mail on the ticket was automatic, unless
    ``answers_a_person``: the mail answers the recipient's own message, known to be a person's.
    ``bouncing``: the recipients' addresses known to bounce, when the caller knows (the intake
    has just cleared the sender's mark); read otherwise.
    """
    recipients = list(recipients)
    sender = desk_address(ticket)
    ours = our_addresses() if ours is None else ours
    if bouncing is None:
        bouncing = set(
            BouncingAddress.objects.filter(
                email__in=[(getattr(r, "email", "") or "").lower() for r in recipients]
            ).values_list("email", flat=True)
        )
    in_reply_to, references = thread if thread and thread[0] else thread_of(ticket)
    references = [r for r in references if r][-20:]
    own = desk_templates(ticket.desk_id, kind)
    rows = []
    for user in recipients:
        email = (getattr(user, "email", "") or "").lower()
        if not email or email in ours or email in bouncing:
            continue
        if automatic and not answers_a_person and wrote_automatically(ticket, email):
            continue
        subject, body = compose(ticket=ticket, kind=kind, user=user, values=values, templates=own)
        rows.append(
            OutboundMessage(
                ticket=ticket,
                kind=kind,
                key=f"{key}:{email}"[:255],
                from_address=formataddr((one_line(ticket.desk.name, 80), sender)),
                reply_to=reply_address(sender, ticket.ref),
                to=[email],
                subject=subject,
                body=body,
                message_id=new_message_id(ticket.ref, sender),
                in_reply_to=in_reply_to,
                references=" ".join(references),
                auto_submitted=automatic,
                next_attempt_at=timezone.now(),
            )
        )
    return _write(rows)


def _write(rows: list[OutboundMessage]) -> list[OutboundMessage]:
    """Insert the rows (a key written before is left as it was) and send them after commit."""
    if not rows:
        return []
    insert(rows, ignore_conflicts=True)  # written out: one statement, compiled once (mail.sql)
    from comptoir.mail.tasks import deliver_mail

    keys = [r.key for r in rows]  # the ids are not read back: the worker finds them by key

    def send_soon() -> None:
        try:
            deliver_mail(keys=keys)
        except Exception:  # the queue is away (Redis restarting): the minute's sweep sends them
            logger.warning("Could not queue the sending of %d mails; the sweep will", len(keys))

    transaction.on_commit(send_soon)
    return rows


def queue_notice(notification_id: int) -> OutboundMessage | None:
    """Write the mail of an agent's notice, in the current transaction, unless its recipient
    turned notices by mail off (or cannot be written to). Returns the row, or None."""
    notice = (
        Notification.objects.select_related("recipient", "ticket__desk")
        .filter(pk=notification_id)
        .first()
    )
    if notice is None:
        return None
    user = notice.recipient
    email = (user.email or "").lower()
    if not user.is_active or not user.mail_notifications or not email:
        return None
    boxes = list(Mailbox.objects.values_list("address", "desk_id", "is_active"))
    ours = {address.lower() for address, _, _ in boxes} | {settings.DEFAULT_FROM_EMAIL.lower()}
    if email in ours or BouncingAddress.objects.filter(email=email).exists():
        return None
    ticket = notice.ticket
    values = {"notice": notice.title, "details": notice.body}
    if ticket is not None:
        subject, body = compose(ticket=ticket, kind=MailKind.NOTIFICATION, user=user, values=values)
        if ticket.ref not in subject:
            subject = one_line(f"{ticket.ref}: {subject}")
        desk_boxes = sorted(
            a for a, desk_id, active in boxes if desk_id == ticket.desk_id and active
        )
        sender = desk_boxes[0] if desk_boxes else ticket.desk.email or settings.DEFAULT_FROM_EMAIL
        desk_name, ref = ticket.desk.name, ticket.ref
    else:
        fields = {"name": user.name, "desk": "Comptoir", **values}
        subject, body = render_mail(MailKind.NOTIFICATION, locale_of(user), fields)
        subject = one_line(subject)
        sender, desk_name, ref = settings.DEFAULT_FROM_EMAIL, "Comptoir", "notice"
    row = OutboundMessage(
        # Out of the ticket's conversation (``thread_of`` leaves notices out), but known as the
        # ticket's, so that an agent's answer finds it (``matching``).
        ticket=ticket,
        kind=MailKind.NOTIFICATION,
        key=f"notice:{notice.pk}",
        from_address=formataddr((one_line(desk_name, 80), sender)),
        reply_to=reply_address(sender, ref, notice=True) if ticket is not None else "",
        to=[email],
        subject=subject,
        body=body,
        message_id=new_message_id(ref, sender),
        auto_submitted="auto-generated",
        next_attempt_at=timezone.now(),
    )
    made = _write([row])
    mark_delivered([notice.pk])
    return made[0] if made else None


def queue_account_mail(*, kind: str, key: str, to: str, subject: str, body: str) -> None:
    """Write a mail about a person's account, asked for by that person, and send it soon.

    It comes from ``DEFAULT_FROM_EMAIL``, belongs to no ticket and says it is automatic; like
    every row, it is not sent to an address that bounces (anyone may type an address in the
    form). ``key`` names the request, so that a job run again writes nothing more.
    """
    sender = settings.DEFAULT_FROM_EMAIL
    row = OutboundMessage(
        kind=kind,
        key=key[:255],
        from_address=sender,
        to=[to.lower()],
        subject=one_line(subject),
        body=body,
        message_id=new_message_id("account", parseaddr(sender)[1]),
        auto_submitted="auto-generated",
        next_attempt_at=timezone.now(),
    )
    with transaction.atomic():
        _write([row])


def valid_address(value: str) -> bool:
    try:
        Address(addr_spec=value)
    except (ValueError, IndexError):
        return False
    return "@" in value
