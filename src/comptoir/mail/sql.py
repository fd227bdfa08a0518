"""The statements the mail intake makes for every message, written out (``core.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection

from comptoir.core.sql import column, statement, table


def intake_statement(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """One of the statements every message makes, naming the intake's tables and columns in
    braces (``{inbound}``, ``{sender}``…); its first row, if it returns rows."""
    return statement(sql.format(**_intake_names(connection.vendor)), params)


@cache
def _intake_names(vendor: str) -> dict[str, str]:
    from comptoir.mail.models import BouncingAddress, InboundMessage, Mailbox

    return {
        "mailbox": table(Mailbox),
        "last_received_at": column(Mailbox, "last_received_at"),
        "mailbox_id": column(Mailbox, "id"),
        "inbound": table(InboundMessage),
        "inbound_id": column(InboundMessage, "id"),
        "key": column(InboundMessage, "key"),
        "sender": column(InboundMessage, "sender"),
        "received_at": column(InboundMessage, "received_at"),
        "bouncing": table(BouncingAddress),
        "email": column(BouncingAddress, "email"),
    }
