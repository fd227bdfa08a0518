"""Sending the outbox: each row once, with retries and backoff, through Django's mail backend.

A row is claimed for one attempt by a compare-and-set (its ``next_attempt_at`` moved to the end
of a lease, ``COMPTOIR_MAIL_LEASE_SECONDS``, ten minutes by default), sent outside any
transaction, then marked sent. Two workers never send one row at once, and a row is never sent
again once marked sent. A worker killed while it holds a row leaves the lease to run out; the
next sweep (every minute) then takes the row again: nothing is lost.

The one case of a mail handed twice to the mail server: the worker is killed after the server
accepted the mail and before the mark is written (a few milliseconds). The second copy carries
the same Message-ID, which mail stores use to show one message: at least once to the mail
server, exactly once in effect. No two-phase protocol exists with an SMTP server to do better.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.utils import timezone

from comptoir.mail.models import BouncingAddress, OutboundMessage, OutboundStatus
from comptoir.mail.outbound import one_line

logger = logging.getLogger(__name__)

#: Waits between attempts; after the last one the mail is given up (status failed).
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
LOOP_HEADER = "comptoir"


def _message(row: OutboundMessage) -> EmailMessage:
    headers = {
        "Message-ID": f"<{row.message_id}>",
        "X-Loop": LOOP_HEADER,
        # Ask other systems not to answer automatically (Exchange and friends).
        "X-Auto-Response-Suppress": "All" if row.auto_submitted else "OOF, AutoReply",
    }
    if row.auto_submitted:
        headers["Auto-Submitted"] = row.auto_submitted
    if row.in_reply_to:
        headers["In-Reply-To"] = f"<{row.in_reply_to}>"
    if row.references:
        headers["References"] = " ".join(f"<{mid}>" for mid in row.references.split())
    return EmailMessage(
        subject=one_line(row.subject),
        body=row.body,
        from_email=row.from_address,
        to=row.to,
        reply_to=[row.reply_to] if row.reply_to else None,
        headers=headers,
    )


def deliver(
    ids: list[int] | None = None,
    *,
    keys: list[str] | None = None,
    now: datetime | None = None,
    batch: int = 100,
) -> int:
    """Send the given rows (by id or by key), or every row that is due; returns how many were
    sent."""
    now = now or timezone.now()
    due = OutboundMessage.objects.filter(status=OutboundStatus.PENDING, next_attempt_at__lte=now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    if keys is not None:
        due = due.filter(key__in=keys)
    ids_due = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:batch])
    if not ids_due:
        return 0
    sent = 0
    backend = get_connection()
    try:
        with contextlib.suppress(Exception):  # unreachable: each row says so and waits its turn
            backend.open()  # one connection to the mail server for the batch
        for row_id in ids_due:
            sent += _deliver_one(row_id, backend, now)
    finally:
        _close(backend)
    return sent


def _close(backend) -> None:
    """Close the connection to the mail server; one that broke may fail to say goodbye."""
    with contextlib.suppress(Exception):
        backend.close()


def deliver_due(*, budget_seconds: float = 240.0) -> int:
    """Send every row that is due, batch after batch, for ``budget_seconds`` at most (the
    lock of the sweep outlives it); returns how many were sent."""
    started = time.monotonic()
    total = 0
    while time.monotonic() - started < budget_seconds:
        sent = deliver()
        total += sent
        if sent == 0:
            return total
    return total


def lease() -> timedelta:
    """How long a row claimed for sending is left alone; a worker that died meanwhile frees it
    then."""
    return timedelta(seconds=max(int(settings.COMPTOIR_MAIL_LEASE_SECONDS), 1))


def _claim(row_id: int, now: datetime) -> OutboundMessage | None:
    """Take the row for one attempt, in a short transaction (no mail server talk while holding
    a lock: on SQLite that lock would stop every other write)."""
    with transaction.atomic():
        locking = OutboundMessage.objects.select_for_update(
            skip_locked=connection.features.has_select_for_update_skip_locked
        )
        row = locking.filter(
            pk=row_id, status=OutboundStatus.PENDING, next_attempt_at__lte=now
        ).first()
        if row is None:
            return None  # another worker has it, or it is done
        if BouncingAddress.objects.filter(email__in=row.to).exists():
            row.status = OutboundStatus.SUPPRESSED
            row.last_error = "The address bounces."
            row.save(update_fields=["status", "last_error"])
            return None
        row.attempts += 1
        row.next_attempt_at = now + lease()
        row.save(update_fields=["attempts", "next_attempt_at"])
        return row


def _deliver_one(row_id: int, backend, now: datetime) -> int:
    row = _claim(row_id, now)
    if row is None:
        return 0
    try:
        backend.send_messages([_message(row)])
    except Exception as exc:  # any failure of the mail server: try again later
        _close(backend)  # the connection may be broken: the next row opens a new one
        update: dict[str, object] = {"last_error": str(exc)[:2000]}
        if row.attempts > len(BACKOFF):
            update["status"] = OutboundStatus.FAILED
            logger.warning("Gave up mail %s to %s: %s", row.pk, row.to, exc)
        else:
            update["next_attempt_at"] = now + BACKOFF[row.attempts - 1]
        # Unless the lease ran out and another worker took the row meanwhile.
        OutboundMessage.objects.filter(
            pk=row.pk, status=OutboundStatus.PENDING, attempts=row.attempts
        ).update(**update)
        return 0
    OutboundMessage.objects.filter(pk=row.pk).update(
        status=OutboundStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return 1
