"""Background jobs of routing. Running one twice changes nothing more."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from comptoir.core.locks import exclusive
from comptoir.routing.services import hand_over, route_ticket

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/5"))
@exclusive("routing-hand-over", seconds=30)
def hand_over_tickets_task() -> None:
    """Every five minutes: teams whose shift has ended hand their unassigned tickets over."""
    moved = hand_over()
    if moved:
        logger.info("Routing hand-over: %d tickets moved to the teams on shift", moved)


@db_periodic_task(crontab(minute="*"))
@exclusive("routing-catch-up", seconds=30)
def route_unrouted_tickets_task() -> None:
    """Every minute: route the new tickets whose routing job was lost (a worker killed, Redis
    restarted)."""
    from comptoir.routing.services.catch_up import route_unrouted

    routed = route_unrouted()
    if routed:
        logger.warning("Routing: %d tickets routed by the catch-up (their job was lost)", routed)


@db_task(retries=3, retry_delay=5)
def route_ticket_task(ticket_id: int) -> None:
    """Route one new ticket (nothing happens if it was routed or assigned meanwhile)."""
    route_ticket(ticket_id)
