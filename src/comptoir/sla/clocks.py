"""SLA clocks as a pure function of a ticket's timeline (no database).

A clock is read off the timeline: the steps that matter (status changes, public replies and who
wrote them, team changes) decide when it runs; the schedule turns the running stretches into
business time; the target tells when it is due and whether it was breached. The service in
:mod:`comptoir.sla.services` loads the steps, calls :func:`derive` and stores the result, so
computing a clock twice gives the same answer and a lost update is repaired by computing again.

Conventions:

* A clock runs while the ticket is open (or pending) in a status the policy does not pause on.
* First response: from creation to the first public reply by the desk's staff; resolving the
  ticket first counts as the response.
* Next response: each public reply from the customer's side after the staff's latest reply opens
  a new cycle, which the next staff reply meets.
* Resolution: from creation; stopped while the ticket is resolved or closed, resumed (not
  restarted) on a reopen, so the time to resolve is never flattered.
* OLA: from the moment the ticket reaches the team to the moment it is resolved (met) or leaves
  the team (stopped, neither met nor breached unless it was late already).
* A target met at exactly its due time is met; the business time consumed must exceed the
  target for a breach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from comptoir.desks.business_time import Schedule, add_business_time, business_time_between

STATUS = "status"
REPLY = "reply"
TEAM = "team"

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESOLUTION = "resolution"

RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Step:
    """One fact of the timeline: a status reached, a public reply (``staff``/``customer``), a team."""

    at: datetime
    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class Spec:
    metric: str
    target: timedelta
    schedule: Schedule
    pause_states: frozenset[str]
    finished_states: frozenset[str]
    team: str | None = None  # OLA: the team whose stint is measured


@dataclass(frozen=True, slots=True)
class Derived:
    state: str
    cycle: int
    started_at: datetime
    elapsed: timedelta  # business time up to ``resumed_at`` when running, in all otherwise
    resumed_at: datetime | None
    due_at: datetime | None  # when running: the projected deadline; else the breach moment
    stopped_at: datetime | None
    breached_at: datetime | None
    met: bool  # stopped because the target was reached (answered, resolved), late or not


def _window(
    spec: Spec, steps: Sequence[Step]
) -> tuple[datetime, datetime | None, int, bool] | None:
    """When the clock's measure starts, when it ends (None: still open), its cycle, and whether
    that end meets the target (a team handing the ticket on stops its OLA without meeting it)."""
    created = steps[0].at
    if spec.team is not None:
        # OLA: the latest stint with the team.
        stint_start: datetime | None = None
        stint_end: datetime | None = None
        for step in steps:
            if step.kind != TEAM:
                continue
            if step.value == spec.team:
                if stint_start is None or stint_end is not None:
                    stint_start, stint_end = step.at, None
            elif stint_start is not None and stint_end is None:
                stint_end = step.at
        return (stint_start, stint_end, 1, False) if stint_start is not None else None
    if spec.metric == FIRST_RESPONSE:
        status = ""
        for step in steps:
            if step.kind == REPLY and step.value == "staff":
                return created, step.at, 1, True
            if step.kind == STATUS:
                if step.value in spec.finished_states and status not in spec.finished_states:
                    return created, step.at, 1, True
                status = step.value
        return created, None, 1, True
    if spec.metric == NEXT_RESPONSE:
        answered = False
        cycle = 0
        start: datetime | None = None
        end: datetime | None = None
        for step in steps:
            if step.kind != REPLY:
                continue
            if step.value == "staff":
                answered = True
                if start is not None and end is None:
                    end = step.at
            elif answered and (start is None or end is not None):
                cycle += 1
                start, end = step.at, None
        return (start, end, cycle, True) if start is not None else None
    return created, None, 1, True  # resolution


def _segments(
    spec: Spec, steps: Sequence[Step], start: datetime, end: datetime | None
) -> list[tuple[datetime, datetime | None]]:
    """The stretches of [start, end) in which the ticket's status lets the clock run."""
    segments: list[tuple[datetime, datetime | None]] = []
    running_since: datetime | None = None
    status = ""
    for step in steps:
        if end is not None and step.at >= end:
            break
        if step.kind != STATUS:
            continue
        status = step.value
        runs = status not in spec.pause_states and status not in spec.finished_states
        at = max(step.at, start)
        if runs and running_since is None:
            running_since = at
        elif not runs and running_since is not None:
            if at > running_since:
                segments.append((running_since, at))
            running_since = None
    if running_since is not None:
        if end is None:
            segments.append((running_since, None))
        elif end > running_since:
            segments.append((running_since, end))
    return segments


def derive(spec: Spec, steps: Sequence[Step], now: datetime) -> Derived | None:
    """The clock of ``spec`` at ``now``, or ``None`` when it does not apply (yet).

    ``steps`` are in time order and start with the creation's status step.
    """
    window = _window(spec, steps)
    if window is None:
        return None
    start, end, cycle, end_meets = window
    last_status = next((s.value for s in reversed(steps) if s.kind == STATUS), "")
    finished = last_status in spec.finished_states
    if finished and end is None:
        # Resolved (or closed) and not reopened: the clock stopped when that happened.
        end_meets = True
        end = next(
            s.at for s in reversed(steps) if s.kind == STATUS and s.value in spec.finished_states
        )
        end = max(end, start)
    schedule, target = spec.schedule, spec.target
    elapsed = timedelta(0)
    breached_at: datetime | None = None
    for seg_start, seg_end in _segments(spec, steps, start, end):
        if seg_end is None:
            remaining = target - elapsed
            due = add_business_time(schedule, seg_start, max(remaining, timedelta(0)))
            if breached_at is None and due < now:
                breached_at = due
            return Derived(RUNNING, cycle, start, elapsed, seg_start, due, None, breached_at, False)
        length = business_time_between(schedule, seg_start, seg_end)
        if breached_at is None and elapsed + length > target:
            breached_at = add_business_time(schedule, seg_start, target - elapsed)
        elapsed += length
    state = STOPPED if end is not None else PAUSED
    met = state == STOPPED and end_meets
    return Derived(state, cycle, start, elapsed, None, breached_at, end, breached_at, met)


def elapsed_at(
    derived_elapsed: timedelta, resumed_at: datetime | None, schedule: Schedule, now: datetime
) -> timedelta:
    """Business time consumed by ``now``: what was stored, plus the running stretch's."""
    if resumed_at is None or now <= resumed_at:
        return derived_elapsed
    return derived_elapsed + business_time_between(schedule, resumed_at, now)


def threshold_moment(
    level: int, target: timedelta, elapsed: timedelta, resumed_at: datetime, schedule: Schedule
) -> datetime:
    """When a running clock reaches ``level`` % of its target (``resumed_at`` if already past)."""
    goal = target * level / 100
    if goal <= elapsed:
        return resumed_at
    return add_business_time(schedule, resumed_at, goal - elapsed)
