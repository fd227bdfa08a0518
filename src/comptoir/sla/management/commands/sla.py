"""``comptoir sla sweep|refresh``: run the breach sweep now, or recompute clocks from timelines."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from comptoir.sla.services import refresh_clocks, sweep
from comptoir.tickets.lifecycle import StatusCategory
from comptoir.tickets.models import Ticket


class Command(BaseCommand):
    help = "SLA clocks: 'sweep' warns and escalates what is due; 'refresh' recomputes clocks."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["sweep", "refresh"])
        parser.add_argument("--desk", help="refresh: only this desk's tickets (slug).")
        parser.add_argument("--ticket", help="refresh: only this ticket (reference).")

    def handle(self, *args, action, desk, ticket, **options):
        if action == "sweep":
            report = sweep()
            self.stdout.write(
                f"{report.examined} clocks examined, {report.warnings} warnings, "
                f"{report.breaches} breaches."
            )
            return
        tickets = Ticket.objects.filter(
            status_category__in=[StatusCategory.OPEN, StatusCategory.PENDING]
        )
        if desk:
            tickets = tickets.filter(desk__slug=desk)
        if ticket:
            tickets = Ticket.objects.filter(ref=ticket.strip().upper())
            if not tickets.exists():
                raise CommandError(f"No ticket {ticket}.")
        count = 0
        for ticket_id in tickets.values_list("pk", flat=True).iterator(chunk_size=2000):
            refresh_clocks(ticket_id)
            count += 1
        self.stdout.write(f"{count} tickets' clocks recomputed.")
