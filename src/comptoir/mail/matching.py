"""Which ticket a mail belongs to, in a fixed order (docs/subsystems/mail.md):

1. ``In-Reply-To`` / ``References`` against the Message-IDs Comptoir received or sent;
2. a reply address that carries the ticket (``support+IT-000042@…``);
3. the reference in the subject (``[IT-000042]``);
4. otherwise none: the mail opens a new ticket.

Only a ticket of the mailbox's desk is found, so a reference typed by hand cannot reach into
another desk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet

from comptoir.mail.models import InboundMessage, OutboundMessage
from comptoir.mail.parsing import ParsedMessage
from comptoir.tickets.models import Ticket

REF = r"[A-Z][A-Z0-9]{0,9}-\d{6,}"
_SUBJECT_REF = re.compile(rf"\[({REF})\]")
_PLUS_REF = re.compile(rf"^[^@+]+\+({REF})@", re.IGNORECASE)


@dataclass(frozen=True)
class Match:
    ticket: Ticket
    how: str  # "headers", "address", "subject"


def find_ticket(parsed: ParsedMessage, desk_id: int, *, lock: bool = False) -> Match | None:
    """The ticket ``parsed`` belongs to, among the desk's. ``lock``: the ticket is locked for
    the caller's transaction and read with its requester. A message that refers to nothing
    costs no query."""

    def tickets() -> QuerySet[Ticket]:
        found = Ticket.objects.filter(desk_id=desk_id)
        return found.select_for_update(of=("self",)).select_related("requester") if lock else found

    ids = [*parsed.in_reply_to, *reversed(parsed.references)]
    if ids:
        # The Message-IDs we received or sent, in one query.
        known = dict(
            InboundMessage.objects.filter(message_id__in=ids, ticket__isnull=False)
            .order_by()
            .values_list("message_id", "ticket_id")
            .union(
                OutboundMessage.objects.filter(message_id__in=ids, ticket__isnull=False)
                .order_by()
                .values_list("message_id", "ticket_id")
            )
        )
        for message_id in ids:
            found = known.get(message_id)
            if found is not None:
                ticket = tickets().filter(pk=found).first()
                if ticket is not None:
                    return Match(_final(ticket, tickets), "headers")
    for address in [*parsed.delivered_to, *(a.email for a in (*parsed.to, *parsed.cc))]:
        plus = _PLUS_REF.match(address or "")
        if plus:
            ticket = tickets().filter(ref=plus.group(1).upper()).first()
            if ticket is not None:
                return Match(_final(ticket, tickets), "address")
    subject = _SUBJECT_REF.search(parsed.subject.upper())
    if subject:
        ticket = tickets().filter(ref=subject.group(1)).first()
        if ticket is not None:
            return Match(_final(ticket, tickets), "subject")
    return None


def _final(ticket: Ticket, tickets: Callable[[], QuerySet[Ticket]]) -> Ticket:
    """A merged ticket's conversation goes on in the ticket it was merged into."""
    seen = {ticket.pk}
    while ticket.merged_into_id and ticket.merged_into_id not in seen:
        seen.add(ticket.merged_into_id)
        target = tickets().filter(pk=ticket.merged_into_id).first()
        ticket = target if target is not None else Ticket.objects.get(pk=ticket.merged_into_id)
    return ticket
