"""The routing decision as pure functions: which rule matches, who is available, who is next.

No database here. The services load the facts (the ticket, the desk's rules, the team's members
and their open work), ask these functions, and apply the answer; the tests ask them directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from comptoir.tickets.conditions import Conditions


@dataclass(frozen=True)
class TicketFacts:
    """What the rules' conditions look at."""

    kind: str
    priority: int
    channel: str
    lineage: frozenset[int] = frozenset()  # the category and its ancestors
    organisation_id: int | None = None
    is_vip: bool = False
    site_id: int | None = None  # the ticket's site, else its requester's


@dataclass(frozen=True)
class RuleFacts:
    """A rule's conditions and target, detached from the database."""

    id: int
    name: str
    team_id: int
    method: str
    follow_the_sun: bool
    conditions: Conditions = Conditions()
    sites: frozenset[int] = frozenset()

    @property
    def is_catch_all(self) -> bool:
        """No condition at all: the rule matches every ticket."""
        return self.conditions.is_empty and not self.sites


def rule_matches(rule: RuleFacts, ticket: TicketFacts) -> bool:
    """Every condition the rule sets holds; an empty condition holds for any ticket."""
    if rule.sites and ticket.site_id not in rule.sites:
        return False
    return rule.conditions.hold(
        kind=ticket.kind,
        priority=ticket.priority,
        channel=ticket.channel,
        organisation_id=ticket.organisation_id,
        is_vip=ticket.is_vip,
        lineage=ticket.lineage,
    )


def first_match(rules: Iterable[RuleFacts], ticket: TicketFacts) -> RuleFacts | None:
    """The first rule, in the order given, that matches the ticket."""
    return next((rule for rule in rules if rule_matches(rule, ticket)), None)


def is_available(availability: str, away_until: date | None, today: date) -> bool:
    """Available, or on a leave whose last day is past. Away and off duty are not available."""
    if availability == "available":
        return True
    return availability == "on_leave" and away_until is not None and away_until < today


def next_in_turn(candidates: Sequence[int], last: int | None) -> int | None:
    """Round robin: the first candidate (ids in ascending order) after ``last``, wrapping round."""
    if not candidates:
        return None
    if last is not None:
        for candidate in candidates:
            if candidate > last:
                return candidate
    return candidates[0]


def least_loaded(candidates: Sequence[int], loads: Mapping[int, int]) -> int | None:
    """The candidate with the fewest open tickets; a tie goes to the smallest id."""
    if not candidates:
        return None
    return min(candidates, key=lambda candidate: (loads.get(candidate, 0), candidate))


def tickets(count: int) -> str:
    return f"{count} open ticket" if count == 1 else f"{count} open tickets"


@dataclass
class Reason:
    """The sentence a ROUTED event carries, built clause by clause."""

    clauses: list[str] = field(default_factory=list)

    def add(self, clause: str) -> Reason:
        self.clauses.append(clause)
        return self

    def __str__(self) -> str:
        text = "; ".join(self.clauses)
        return text[:1].upper() + text[1:] + "." if text else ""
