"""What the notifications app announces. The mail channel subscribes to deliver notices by mail."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NotificationCreated:
    """A notice was written for one person (published inside the transaction that wrote it)."""

    notification_id: int
    recipient_id: int
    kind: str
    ticket_id: int | None = None
