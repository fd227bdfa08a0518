"""The built-in SMTP receiver (``comptoir smtpd``): a door into the intake pipeline for an MTA
that relays the desks' addresses to Comptoir, or for senders directly.

It takes mail for active mailboxes only (``it+IT-000042@example.com`` is ``it@example.com``):
any other recipient is refused at RCPT with ``550 5.1.1``, so it relays nothing. A message
larger than ``COMPTOIR_MAIL_MAX_BYTES`` is refused with ``552``. For each message it calls
``receive`` once per mailbox among the recipients, and answers ``250 OK`` only when every one
has returned, that is when the message is stored; when it could not be stored, or the database
failed, it answers ``451 4.3.0`` and the sender keeps the message and tries again (receiving it
twice makes one row). The bytes are kept exactly as received: no trace header is added.

With a certificate and its key (``tls_context``) the receiver offers STARTTLS; with
``require_tls`` it also refuses ``MAIL FROM`` from a client that has not started TLS
(``530 5.7.0``), so no message is taken in the clear.

The ORM is synchronous: each lookup and each ``receive`` runs in a worker thread, whose
database connection is closed afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
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
MUST_STARTTLS = "530 5.7.0 Must issue a STARTTLS command first"

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


def tls_context(cert: str, key: str = "") -> ssl.SSLContext:
    """A server context for STARTTLS from a certificate chain and its private key (PEM files;
    ``key`` may be left out when the certificate file holds it). Raises ``ValueError`` saying
    what is wrong with them."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key or None)
    except FileNotFoundError as exc:
        raise ValueError(f"No such file: {exc.filename or cert}.") from exc
    except PermissionError as exc:
        raise ValueError(f"Cannot read {exc.filename or cert}: permission denied.") from exc
    except IsADirectoryError as exc:
        raise ValueError(f"{exc.filename or cert} is a folder, not a PEM file.") from exc
    except ssl.SSLError as exc:
        raise ValueError(
            f"The certificate {cert} and the key {key or '(in the same file)'} cannot be used "
            f"together: {exc.reason or exc}. Give the certificate chain and its private key, "
            "both in PEM form."
        ) from exc
    return context


class Receiver:
    """The aiosmtpd handler: TLS first if required, decides at RCPT, stores at DATA."""

    def __init__(self, *, require_tls: bool = False) -> None:
        self.require_tls = require_tls

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.require_tls and session.ssl is None:
            logger.info("SMTP: refused MAIL FROM %s from %s (no STARTTLS)", address, session.peer)
            return MUST_STARTTLS
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return OK

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
                "SMTP: message from %s for %s%s: %s %s",
                envelope.mail_from,
                message.mailbox,
                " (TLS)" if session.ssl is not None else "",
                message.status,
                message.ticket.ref if message.ticket else "",
            )
        return OK


def make_controller(
    host: str = "127.0.0.1",
    port: int = 2525,
    *,
    tls: ssl.SSLContext | None = None,
    require_tls: bool = False,
) -> Controller:
    """The receiver on ``host:port``, in a thread of its own once ``.start()`` is called;
    offering STARTTLS with ``tls``, and requiring it before MAIL FROM with ``require_tls``."""
    if require_tls and tls is None:
        raise ValueError("Requiring TLS needs a certificate and its key.")
    return Controller(
        Receiver(require_tls=require_tls),
        hostname=host,
        port=port,
        server_hostname=socket.getfqdn(),  # once, not at every connection
        ident="Comptoir",
        data_size_limit=settings.COMPTOIR_MAIL_MAX_BYTES,
        enable_SMTPUTF8=True,
        tls_context=tls,
    )
