"""Which ticket a mail belongs to, in a fixed order (docs/subsystems/mail.md):

1. ``In-Reply-To`` / ``References`` against the Message-IDs Comptoir received or sent;
2. a reply address that carries the ticket (``support+IT-000042@…``, or a notice's
   ``support+IT-000042-notice@…``);
3. the reference in the subject (``[IT-000042]``; or, in answer to a notice, the reference as a
   notice's subject gives it, ``IT-000042: …``, when that sender was mailed a notice about it);
4. otherwise none: the mail opens a new ticket.

Only a ticket of the mailbox's desk is found, so a reference typed by hand cannot reach into
another desk. A match through an agent's notice (its Message-ID, its reply address, its
subject) says so (``Match.notice``): what it may do depends on who answers (``services``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection

from comptoir.accounts.models import User
from comptoir.core.sql import column, columns, instances, table
from comptoir.mail.models import InboundMessage, MailKind, OutboundMessage
from comptoir.mail.parsing import ParsedMessage
from comptoir.tickets.models import Ticket

REF = r"[A-Z][A-Z0-9]{0,9}-\d{6,}"
#: What a notice's reply address adds after the reference: ``it+IT-000042-notice@…``.
NOTICE_SUFFIX = "-notice"
_SUBJECT_REF = re.compile(rf"\[({REF})\]")
_PLUS_REF = re.compile(rf"^[^@+]+\+({REF})@", re.IGNORECASE)
_PLUS_NOTICE_REF = re.compile(rf"^[^@+]+\+({REF}){NOTICE_SUFFIX}@", re.IGNORECASE)
# A notice's subject names the ticket without brackets ("IT-000042: First response target
# breached", or a desk's wording around it); an answer adds "Re:", "RE :", "AW:", "Fwd:"…
_BARE_REF = re.compile(rf"(?<![\w\[-])({REF})(?![\w\]])")


@dataclass(frozen=True)
class Match:
    ticket: Ticket
    how: str  # "headers", "address", "subject"
    notice: bool = False  # found through a notice mailed to an agent


def find_ticket(parsed: ParsedMessage, desk_id: int, *, lock: bool = False) -> Match | None:
    """The ticket ``parsed`` belongs to, among the desk's. ``lock``: the ticket is locked for
    the caller's transaction. It is read with its requester. A message that refers to nothing
    costs no query; a reply, two statements written out (``mail.sql``)."""

    def ticket(**where: Any) -> Ticket | None:
        return _ticket(desk_id, lock=lock, **where)

    ids = [*parsed.in_reply_to, *reversed(parsed.references)]
    if ids:
        known = _known_message_ids(ids)
        for message_id in ids:
            found = known.get(message_id)
            if found is not None:
                match = ticket(id=found[0])
                if match is not None:
                    return Match(_final(match, ticket), "headers", notice=found[1])
    for address in [*parsed.delivered_to, *(a.email for a in (*parsed.to, *parsed.cc))]:
        for pattern, notice in ((_PLUS_REF, False), (_PLUS_NOTICE_REF, True)):
            plus = pattern.match(address or "")
            if plus:
                match = ticket(ref=plus.group(1).upper())
                if match is not None:
                    return Match(_final(match, ticket), "address", notice=notice)
    subject = parsed.subject.upper()
    bracketed = _SUBJECT_REF.search(subject)
    if bracketed:
        match = ticket(ref=bracketed.group(1))
        if match is not None:
            return Match(_final(match, ticket), "subject")
    bare = _BARE_REF.search(subject)
    if bare and parsed.sender.email:
        # Only as an answer to a notice this sender was mailed about that ticket.
        notified = (
            OutboundMessage.objects.filter(
                ticket__ref=bare.group(1),
                ticket__desk_id=desk_id,
                kind=MailKind.NOTIFICATION,
                to=[parsed.sender.email.lower()],
            )
            .values_list("ticket_id", flat=True)
            .first()
        )
        match = ticket(id=notified) if notified else None
        if match is not None:
            return Match(_final(match, ticket), "subject", notice=True)
    return None


def _known_message_ids(ids: list[str]) -> dict[str, tuple[int, bool]]:
    """Message-ID → (its ticket, whether it is a notice's), among those we received or sent."""
    marks = ", ".join(["%s"] * len(ids))
    inbound, outbound = InboundMessage, OutboundMessage
    sql = (
        f"SELECT {column(inbound, 'message_id')}, {column(inbound, 'ticket')}, '' "  # noqa: S608
        f"FROM {table(inbound)} WHERE {column(inbound, 'message_id')} IN ({marks}) "
        f"AND {column(inbound, 'ticket')} IS NOT NULL "
        f"UNION SELECT {column(outbound, 'message_id')}, {column(outbound, 'ticket')}, "
        f"{column(outbound, 'kind')} FROM {table(outbound)} "
        f"WHERE {column(outbound, 'message_id')} IN ({marks}) "
        f"AND {column(outbound, 'ticket')} IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, *ids])
        rows = cursor.fetchall()
    return {mid: (ticket_id, kind == MailKind.NOTIFICATION) for mid, ticket_id, kind in rows}


@cache
def _ticket_sql(vendor: str, where: str, lock: bool) -> str:
    sql = (
        f"SELECT {columns(Ticket, 't')}, {columns(User, 'u')} "  # noqa: S608
        f"FROM {table(Ticket)} t INNER JOIN {table(User)} u "
        f"ON u.{column(User, 'id')} = t.{column(Ticket, 'requester')} "
        f"WHERE t.{column(Ticket, 'desk')} = %s AND t.{column(Ticket, where)} = %s"
    )
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE OF t" if connection.features.has_select_for_update_of else " FOR UPDATE"
    return sql


def _ticket(desk_id: int, *, lock: bool, **where: Any) -> Ticket | None:
    """The desk's ticket with this ``id`` or ``ref``, with its requester; locked for the
    caller's transaction if ``lock``."""
    [(name, value)] = where.items()
    with connection.cursor() as cursor:
        cursor.execute(_ticket_sql(connection.vendor, name, lock), [desk_id, value])
        row = cursor.fetchone()
    if row is None:
        return None
    found, requester = instances((Ticket, User), row)
    Ticket._meta.get_field("requester").set_cached_value(found, requester)
    return found


def _final(ticket: Ticket, read: Callable[..., Ticket | None]) -> Ticket:
    """A merged ticket's conversation goes on in the ticket it was merged into."""
    seen = {ticket.pk}
    while ticket.merged_into_id and ticket.merged_into_id not in seen:
        seen.add(ticket.merged_into_id)
        target = read(id=ticket.merged_into_id)
        ticket = target if target is not None else Ticket.objects.get(pk=ticket.merged_into_id)
    return ticket
