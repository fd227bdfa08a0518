"""Background jobs of the tickets app."""

from __future__ import annotations

import logging
from datetime import timedelta

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from comptoir.core.cleanup import prune_orphan_files
from comptoir.core.idempotency import purge_expired
from comptoir.core.locks import exclusive

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="17", hour="3"))
@exclusive("tickets-cleanup", seconds=30)
def nightly_cleanup() -> None:
    """What `comptoir cleanup` does, every night at 03:17 UTC."""
    removed = prune_orphan_files(older_than=timedelta(hours=1))
    keys = purge_expired()
    files = sum(len(names) for names in removed.values())
    logger.info("Cleanup: %d orphan files, %d expired idempotency records", files, keys)
