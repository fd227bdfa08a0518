"""Background jobs of the tickets app."""

from __future__ import annotations

import logging
from datetime import timedelta

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from comptoir.core.idempotency import purge_expired
from comptoir.core.locks import exclusive
from comptoir.tickets.services import prune_orphan_files

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="17", hour="3"))
@exclusive("tickets-cleanup", seconds=30)
def nightly_cleanup() -> None:
    """What `comptoir cleanup` does, every night at 03:17 UTC."""
    files = prune_orphan_files(older_than=timedelta(hours=1))
    keys = purge_expired()
    logger.info("Cleanup: %d orphan files, %d expired idempotency records", len(files), keys)
