"""The built-in SMTP receiver (``comptoir smtpd``): a door into the intake pipeline for an MTA
that relays the desks' addresses to Comptoir, or for senders directly.

It takes mail for active mailboxes only (``it+IT-000042@example.com`` is ``it@example.com``):
any other recipient is refused at RCPT with ``550 5.1.1``, so it relays nothing. A message
larger than ``COMPTOIR_MAIL_MAX_BYTES`` is refused with ``552``. For each message it calls
``receive`` once per mailbox among the recipients, and answers ``250 OK`` only when every one
has returned, that is when the message is stored; when it could not be stored, or the database
failed, it answers ``451 4.3.0`` and the sender keeps the message and tries again (receiving it
twice makes one row). The bytes are kept exactly as received: no trace header is added.

The ORM is synchronous: each lookup and each ``receive`` runs in a worker thread, whose
database connection is closed afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import connections

from comptoir.mail.models import InboundMessage, Mailbox
from comptoir.mail.services import receive
from comptoir.mail.spool import StoreFailed

logger = logging.getLogger(__name__)

OK = "250 OK"
NO_SUCH_MAILBOX = "550 5.1.1 No such mailbox"
TRY_AGAIN = "451 4.3.0 Try again later"

T = TypeVar("T")


def mailbox_for_recipient(address: str) -> Mailbox | None:
    """The active mailbox an envelope recipient designates, ``+tag`` ignored."""
    plain = re.sub(r"\+[^@]*@", "@", address.strip())
    if "@" not in plain:
        return None
    return Mailbox.objects.filter(address__iexact=plain, is_active=True).first()


def receive_for_recipients(raw: bytes, recipients: list[str]) -> list[InboundMessage]:
    """``receive`` the message once for each distinct mailbox among the recipients."""
    boxes: dict[int, Mailbox] = {}
    for address in recipients:
        box = mailbox_for_recipient(address)
        if box is not None:
            boxes.setdefault(box.pk, box)
    return [receive(raw, mailbox=box, source="smtp") for box in boxes.values()]


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    def call() -> T:
        try:
            return function(*args)
        finally:
            connections.close_all()  # this thread's connections only

    return await asyncio.to_thread(call)


class Receiver:
    """The aiosmtpd handler: decides at RCPT, stores at DATA."""

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            box = await _in_thread(mailbox_for_recipient, address)
        except Exception:
            logger.exception("SMTP: could not look up the recipient %s", address)
            return TRY_AGAIN
        if box is None:
            logger.info("SMTP: refused %s from %s (no such mailbox)", address, session.peer)
            return NO_SUCH_MAILBOX
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            received = await _in_thread(receive_for_recipients, raw, list(envelope.rcpt_tos))
        except StoreFailed as exc:
            logger.error("SMTP: message from %s not stored: %s", envelope.mail_from, exc)
            return TRY_AGAIN
        except Exception:
            logger.exception("SMTP: message from %s not recorded", envelope.mail_from)
            return TRY_AGAIN
        if not received:  # every mailbox was switched off between RCPT and DATA
            return NO_SUCH_MAILBOX
        for message in received:
            logger.info(
                "SMTP: message from %s for %s: %s %s",
                envelope.mail_from,
                message.mailbox,
                message.status,
                message.ticket.ref if message.ticket else "",
            )
        return OK


def make_controller(host: str = "127.0.0.1", port: int = 2525) -> Controller:
    """The receiver on ``host:port``, in a thread of its own once ``.start()`` is called."""
    return Controller(
        Receiver(),
        hostname=host,
        port=port,
        server_hostname=socket.getfqdn(),  # once, not at every connection
        ident="Comptoir",
        data_size_limit=settings.COMPTOIR_MAIL_MAX_BYTES,
        enable_SMTPUTF8=True,
    )
