"""Every ticket kind's lifecycle, declared in one place.

A lifecycle names its states (each in one category: open, pending, resolved or closed), its
initial state, and its transitions: an action name, the states it leaves from, the state it
reaches, and who may take it. Services ask this module and nothing else whether a move is
allowed; the API, the UI and the documentation list actions from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class TicketKind(models.TextChoices):
    INCIDENT = "incident", _("Incident")
    SERVICE_REQUEST = "service_request", _("Service request")
    PROBLEM = "problem", _("Problem")
    CHANGE = "change", _("Change")
    TASK = "task", _("Task")


class StatusCategory(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Who(StrEnum):
    """Who may take a transition, beyond the desk's staff."""

    STAFF = "staff"  # agents, technicians, managers, admins of the desk
    REQUESTER = "requester"  # the staff, and the ticket's requester
    APPROVER = "approver"  # change managers, managers and admins only


@dataclass(frozen=True)
class State:
    name: str
    category: StatusCategory
    label: Any


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    label: Any
    who: Who = Who.STAFF
    needs: tuple[str, ...] = ()  # body fields the action requires ("resolution", "reason")


@dataclass(frozen=True)
class Lifecycle:
    kind: str
    initial: str
    states: dict[str, State]
    transitions: dict[str, Transition] = field(default_factory=dict)
    #: Pending states that wait on the requester: their public reply resumes the ticket.
    waiting_on_requester: frozenset[str] = frozenset()

    def state(self, name: str) -> State:
        return self.states[name]

    def category(self, name: str) -> StatusCategory:
        return self.states[name].category

    def actions_from(self, state: str) -> list[Transition]:
        return [t for t in self.transitions.values() if state in t.sources]

    def transition(self, action: str, state: str) -> Transition | None:
        candidate = self.transitions.get(action)
        if candidate is None or state not in candidate.sources:
            return None
        return candidate

    def states_in(self, *categories: StatusCategory) -> list[str]:
        return [s.name for s in self.states.values() if s.category in categories]


O, P, R, C = (  # noqa: E741 (short names keep the state tables readable)
    StatusCategory.OPEN,
    StatusCategory.PENDING,
    StatusCategory.RESOLVED,
    StatusCategory.CLOSED,
)

MERGED = "merged"
COMMON_END_STATES = {
    "resolved": State("resolved", R, _("Resolved")),
    "closed": State("closed", C, _("Closed")),
    "cancelled": State("cancelled", C, _("Cancelled")),
    MERGED: State(MERGED, C, _("Merged")),
}


def _build(
    kind: str,
    initial: str,
    states: list[State],
    transitions: list[Transition],
    waiting_on_requester: frozenset[str] = frozenset(),
) -> Lifecycle:
    all_states = {s.name: s for s in states} | COMMON_END_STATES
    live = frozenset(n for n, s in all_states.items() if s.category in (O, P))
    merge = Transition("merge", live, MERGED, _("Merge"))
    table = {t.action: t for t in [*transitions, merge]}
    for t in table.values():
        unknown = (t.sources | {t.target}) - set(all_states)
        if unknown:  # a mistake here is a programming error, caught at import time
            raise ValueError(f"{kind}.{t.action} names unknown states {unknown}")
    return Lifecycle(
        kind=kind,
        initial=initial,
        states=all_states,
        transitions=table,
        waiting_on_requester=waiting_on_requester,
    )


def _fs(*names: str) -> frozenset[str]:
    return frozenset(names)


_WORKING = ("new", "in_progress", "waiting_customer", "waiting_vendor")

_SUPPORT_STATES = [
    State("new", O, _("New")),
    State("in_progress", O, _("In progress")),
    State("waiting_customer", P, _("Waiting for customer")),
    State("waiting_vendor", P, _("Waiting for vendor")),
]
_SUPPORT_TRANSITIONS = [
    Transition("start", _fs("new"), "in_progress", _("Start work")),
    Transition(
        "wait_for_customer",
        _fs("new", "in_progress", "waiting_vendor"),
        "waiting_customer",
        _("Wait for customer"),
    ),
    Transition(
        "wait_for_vendor",
        _fs("new", "in_progress", "waiting_customer"),
        "waiting_vendor",
        _("Wait for vendor"),
    ),
    Transition("resume", _fs("waiting_customer", "waiting_vendor"), "in_progress", _("Resume")),
    Transition("resolve", _fs(*_WORKING), "resolved", _("Resolve"), needs=("resolution",)),
    Transition("reopen", _fs("resolved", "closed"), "in_progress", _("Reopen"), Who.REQUESTER),
    Transition("close", _fs("resolved"), "closed", _("Close"), Who.REQUESTER),
    Transition("cancel", _fs(*_WORKING), "cancelled", _("Cancel"), Who.REQUESTER),
]

INCIDENT = _build(
    "incident", "new", _SUPPORT_STATES, _SUPPORT_TRANSITIONS, frozenset({"waiting_customer"})
)
SERVICE_REQUEST = _build(
    "service_request", "new", _SUPPORT_STATES, _SUPPORT_TRANSITIONS, frozenset({"waiting_customer"})
)

PROBLEM = _build(
    "problem",
    "new",
    [
        State("new", O, _("New")),
        State("investigating", O, _("Under investigation")),
        State("known_error", O, _("Known error")),
    ],
    [
        Transition("investigate", _fs("new"), "investigating", _("Investigate")),
        Transition(
            "mark_known_error", _fs("new", "investigating"), "known_error", _("Mark as known error")
        ),
        Transition(
            "resolve",
            _fs("new", "investigating", "known_error"),
            "resolved",
            _("Resolve"),
            needs=("resolution",),
        ),
        Transition("reopen", _fs("resolved", "closed"), "investigating", _("Reopen")),
        Transition("close", _fs("resolved"), "closed", _("Close")),
        Transition("cancel", _fs("new", "investigating", "known_error"), "cancelled", _("Cancel")),
    ],
)

CHANGE = _build(
    "change",
    "new",
    [
        State("new", O, _("Draft")),
        State("assessment", O, _("Assessment")),
        State("approved", O, _("Approved")),
        State("implementing", O, _("Implementing")),
        State("rejected", C, _("Rejected")),
    ],
    [
        Transition("submit", _fs("new"), "assessment", _("Submit for approval")),
        Transition("approve", _fs("assessment"), "approved", _("Approve"), Who.APPROVER),
        Transition("reject", _fs("assessment"), "rejected", _("Reject"), Who.APPROVER, ("reason",)),
        Transition("implement", _fs("approved"), "implementing", _("Start implementation")),
        Transition(
            "resolve", _fs("implementing"), "resolved", _("Complete"), needs=("resolution",)
        ),
        Transition("reopen", _fs("resolved", "closed"), "implementing", _("Reopen")),
        Transition("close", _fs("resolved"), "closed", _("Close")),
        Transition("cancel", _fs("new", "assessment", "approved"), "cancelled", _("Cancel")),
    ],
)

TASK = _build(
    "task",
    "new",
    [
        State("new", O, _("New")),
        State("in_progress", O, _("In progress")),
        State("waiting", P, _("Waiting")),
    ],
    [
        Transition("start", _fs("new"), "in_progress", _("Start work")),
        Transition("wait", _fs("new", "in_progress"), "waiting", _("Wait")),
        Transition("resume", _fs("waiting"), "in_progress", _("Resume")),
        Transition(
            "resolve",
            _fs("new", "in_progress", "waiting"),
            "resolved",
            _("Complete"),
            needs=("resolution",),
        ),
        Transition("reopen", _fs("resolved", "closed"), "in_progress", _("Reopen")),
        Transition("close", _fs("resolved"), "closed", _("Close")),
        Transition("cancel", _fs("new", "in_progress", "waiting"), "cancelled", _("Cancel")),
    ],
)

LIFECYCLES: dict[str, Lifecycle] = {
    TicketKind.INCIDENT: INCIDENT,
    TicketKind.SERVICE_REQUEST: SERVICE_REQUEST,
    TicketKind.PROBLEM: PROBLEM,
    TicketKind.CHANGE: CHANGE,
    TicketKind.TASK: TASK,
}

#: Every action any lifecycle knows, but ``merge`` (which needs a target and has its own door).
TRANSITION_ACTIONS: list[str] = sorted(
    {a for lc in LIFECYCLES.values() for a in lc.transitions if a != "merge"}
)

ALL_STATES: list[str] = sorted({s for lc in LIFECYCLES.values() for s in lc.states})


def lifecycle_for(kind: str) -> Lifecycle:
    return LIFECYCLES[kind]


def category_of(kind: str, status: str) -> StatusCategory:
    return LIFECYCLES[kind].category(status)
