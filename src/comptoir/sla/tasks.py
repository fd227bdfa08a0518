"""Background jobs of the SLA clocks. They take ids, and running one twice changes nothing."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from comptoir.sla.services import refresh_clocks, sweep

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
@lock_task("sla-sweep")
def sweep_clocks() -> None:
    """Every minute: warn and escalate the clocks whose moment has come."""
    report = sweep()
    if report.examined:
        logger.info(
            "SLA sweep: %d clocks, %d warnings, %d breaches",
            report.examined,
            report.warnings,
            report.breaches,
        )


@db_task(retries=3, retry_delay=5)
def refresh_ticket_clocks(ticket_ids: list[int]) -> None:
    """Recompute the clocks of these tickets (after a change to them, a policy or a calendar)."""
    for ticket_id in ticket_ids:
        refresh_clocks(ticket_id)
