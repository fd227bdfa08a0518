"""What the tickets app announces. Other apps subscribe with ``comptoir.core.events.subscribe``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TicketEventBase:
    ticket_id: int
    ref: str
    desk_id: int
    actor_label: str
    channel: str


@dataclass(frozen=True)
class TicketCreated(TicketEventBase):
    kind: str = ""
    priority: int = 0


@dataclass(frozen=True)
class TicketStatusChanged(TicketEventBase):
    action: str = ""
    before: str = ""
    after: str = ""


@dataclass(frozen=True)
class TicketAssigned(TicketEventBase):
    team_id: int | None = None
    assignee_id: int | None = None


@dataclass(frozen=True)
class TicketPriorityChanged(TicketEventBase):
    before: int = 0
    after: int = 0
    overridden: bool = False


@dataclass(frozen=True)
class TicketUpdated(TicketEventBase):
    fields: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class TicketCommented(TicketEventBase):
    comment_id: int = 0
    public: bool = True
    by_staff: bool = False
    #: The words of a status change made just before, by the same person (a resolution's).
    with_change: bool = False


@dataclass(frozen=True)
class TicketMerged(TicketEventBase):
    into_ticket_id: int = 0
    into_ref: str = ""


@dataclass(frozen=True)
class TicketRated(TicketEventBase):
    satisfied: bool = True
