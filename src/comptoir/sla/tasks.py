"""Background jobs of the SLA clocks. They take ids, and running one twice changes nothing."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from comptoir.core.locks import exclusive
from comptoir.sla.services import refresh_clocks, sweep

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
@exclusive("sla-sweep", seconds=30)
def sweep_clocks() -> None:
    """Every minute: recompute the clocks that a lost job left stale, then warn and escalate
    the clocks whose moment has come."""
    from comptoir.sla.catch_up import catch_up_clocks

    caught_up = catch_up_clocks()
    report = sweep()
    if report.examined or caught_up:
        logger.info(
            "SLA sweep: %d tickets recomputed, %d clocks, %d warnings, %d breaches",
            caught_up,
            report.examined,
            report.warnings,
            report.breaches,
        )


@db_task(retries=3, retry_delay=5)
def refresh_ticket_clocks(ticket_ids: list[int]) -> None:
    """Recompute the clocks of these tickets (after a change to them, a policy or a calendar),
    and say so to the catch-up, which then leaves them be."""
    from comptoir.sla.catch_up import note_refreshed

    for ticket_id in ticket_ids:
        note_refreshed(ticket_id, refresh_clocks(ticket_id).seen)
