"""Outbound mail: composed in the transaction of the change, as outbox rows, sent by the worker.

Every mail carries the ticket's reference in its subject and in its Reply-To (``desk+IT-000042@…``),
a Message-ID of ours, and In-Reply-To/References that chain the ticket's conversation, so that a
reply lands on the same ticket and mail clients thread it. Automatic mail says so
(``Auto-Submitted``) and is never sent to an automatic message, to a bouncing address, or to one
of our own addresses.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from email.headerregistry import Address
from email.utils import formataddr

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from comptoir.mail.models import BouncingAddress, InboundMessage, Mailbox, OutboundMessage
from comptoir.tickets.models import Ticket

LOCALES = ("en", "fr")
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "acknowledgement": {
        "en": (
            "[{ref}] {title}",
            "Hello {name},\n\nWe received your request and opened ticket {ref}: “{title}”.\n"
            "Reply to this mail to add to it; keep {ref} in the subject.\n\n— {desk}\n",
        ),
        "fr": (
            "[{ref}] {title}",
            "Bonjour {name},\n\nNous avons bien reçu votre demande et ouvert le ticket {ref} : "
            "« {title} ».\nRépondez à ce message pour la compléter ; gardez {ref} dans l'objet."
            "\n\n— {desk}\n",
        ),
    },
    "reply": {
        "en": ("Re: [{ref}] {title}", "{body}\n\n— {author}, {desk}\n"),
        "fr": ("Re: [{ref}] {title}", "{body}\n\n— {author}, {desk}\n"),
    },
    "resolved": {
        "en": (
            "[{ref}] Resolved: {title}",
            "Hello {name},\n\nTicket {ref} is resolved:\n\n{body}\n\nIf the problem is still "
            "there, reply to this mail and the ticket will be reopened.\n\n— {desk}\n",
        ),
        "fr": (
            "[{ref}] Résolu : {title}",
            "Bonjour {name},\n\nLe ticket {ref} est résolu :\n\n{body}\n\nSi le problème "
            "persiste, répondez à ce message et le ticket sera rouvert.\n\n— {desk}\n",
        ),
    },
}
_NEWLINES = re.compile(r"[\r\n\x00]+")


def one_line(text: str, limit: int = 250) -> str:
    """A header-safe value: no CR, LF or NUL can reach a header (no header injection)."""
    return _NEWLINES.sub(" ", text).strip()[:limit]


def desk_address(ticket: Ticket) -> str:
    mailbox = Mailbox.objects.filter(desk_id=ticket.desk_id, is_active=True).first()
    if mailbox is not None:
        return mailbox.address
    return ticket.desk.email or settings.DEFAULT_FROM_EMAIL


def reply_address(address: str, ref: str) -> str:
    """``support@example.com`` → ``support+IT-000042@example.com``."""
    local, _, domain = address.partition("@")
    return f"{local.split('+', 1)[0]}+{ref}@{domain}" if domain else address


def our_addresses() -> set[str]:
    return {a.lower() for a in Mailbox.objects.values_list("address", flat=True)} | {
        settings.DEFAULT_FROM_EMAIL.lower()
    }


def new_message_id(ref: str, address: str) -> str:
    domain = address.partition("@")[2] or "comptoir.invalid"
    return f"{uuid.uuid4().hex}.{ref.lower()}@{domain}"


def thread_of(ticket: Ticket) -> tuple[str, list[str]]:
    """(In-Reply-To, References) for the next mail about ``ticket``: its conversation so far."""
    received = InboundMessage.objects.filter(ticket=ticket).exclude(message_id="")
    sent = OutboundMessage.objects.filter(ticket=ticket)
    ids = sorted(
        [
            *received.values_list("received_at", "message_id"),
            *sent.values_list("created_at", "message_id"),
        ]
    )
    chain = [mid for _, mid in ids][-20:]
    return (chain[-1] if chain else ""), chain


def _locale_of(user) -> str:
    locale = (getattr(user, "locale", "") or "en")[:2]
    return locale if locale in LOCALES else "en"


def queue_mail(
    *,
    ticket: Ticket,
    kind: str,
    recipients: Iterable,
    key: str,
    values: dict[str, str],
    automatic: str = "",
    thread: tuple[str, list[str]] | None = None,
    ours: set[str] | None = None,
) -> list[OutboundMessage]:
    """Write one outbox row per recipient (a user), in the current transaction.

    ``automatic`` is the Auto-Submitted value ("auto-replied", "auto-generated") or "" for a
    person's own words. ``thread`` (In-Reply-To, References) answers a given message; by default
    the mail follows the ticket's conversation. Bouncing addresses and our own are skipped.
    """
    sender = desk_address(ticket)
    ours = our_addresses() if ours is None else ours
    bouncing = set(
        BouncingAddress.objects.filter(
            email__in=[getattr(r, "email", "").lower() for r in recipients]
        ).values_list("email", flat=True)
    )
    in_reply_to, references = thread if thread and thread[0] else thread_of(ticket)
    references = [r for r in references if r][-20:]
    rows = []
    for user in recipients:
        email = (getattr(user, "email", "") or "").lower()
        if not email or email in ours or email in bouncing:
            continue
        subject, body = TEMPLATES[kind][_locale_of(user)]
        fields = {
            "ref": ticket.ref,
            "title": ticket.title,
            "desk": ticket.desk.name,
            "name": getattr(user, "name", email),
            **values,
        }
        rows.append(
            OutboundMessage(
                ticket=ticket,
                kind=kind,
                key=f"{key}:{email}"[:255],
                from_address=formataddr((one_line(ticket.desk.name, 80), sender)),
                reply_to=reply_address(sender, ticket.ref),
                to=[email],
                subject=one_line(subject.format(**fields)),
                body=body.format(**fields),
                message_id=new_message_id(ticket.ref, sender),
                in_reply_to=in_reply_to,
                references=" ".join(references),
                auto_submitted=automatic,
                next_attempt_at=timezone.now(),
            )
        )
    if not rows:
        return []
    made = OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
    from comptoir.mail.tasks import deliver_mail

    keys = [r.key for r in made]
    transaction.on_commit(
        lambda: deliver_mail(
            list(OutboundMessage.objects.filter(key__in=keys).values_list("pk", flat=True))
        )
    )
    return made


def valid_address(value: str) -> bool:
    try:
        Address(addr_spec=value)
    except (ValueError, IndexError):
        return False
    return "@" in value
