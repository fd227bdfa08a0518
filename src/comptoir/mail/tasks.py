"""Background jobs of the mail channel. They take ids, and running one twice changes nothing."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from comptoir.core.locks import exclusive
from comptoir.mail.imap import poll_mailboxes_task  # noqa: F401 (registers the IMAP poll)

logger = logging.getLogger(__name__)


@db_task(retries=2, retry_delay=10)
def deliver_mail(ids: list[int] | None = None, *, keys: list[str] | None = None) -> None:
    """Send these outbox rows now (queued when they are committed), named by their ids or by
    their keys (the writer need not read the ids back)."""
    from comptoir.mail.delivery import deliver

    if ids is not None or keys is not None:  # neither: nothing named, nothing sent
        deliver(ids, keys=keys)


@db_periodic_task(crontab(minute="*"))
@exclusive("mail-outbox", seconds=30)
def deliver_due_mail() -> None:
    """Every minute: send what is due: retries, mail whose queued job was lost, and mail a
    killed worker had claimed once its lease has run out."""
    from comptoir.mail.delivery import deliver_due

    sent = deliver_due()
    if sent:
        logger.info("Mail: %d sent", sent)


@db_periodic_task(crontab(minute="*"))
@exclusive("mail-intake", seconds=30)
def process_received_mail() -> None:
    """Every minute: process mail stored but not processed (the intake stopped half-way)."""
    from comptoir.mail.services import process_pending

    done = process_pending()
    if done:
        logger.info("Mail: %d stored messages processed", done)


@db_periodic_task(crontab(minute="29", hour="3"))
@exclusive("mail-spool-cleanup", seconds=30)
def clean_spool() -> None:
    """Every night: remove the half-written files of writers that were killed."""
    from comptoir.mail.spool import remove_stale_temporaries

    removed = remove_stale_temporaries()
    if removed:
        logger.info("Mail spool: %d half-written files removed", removed)
