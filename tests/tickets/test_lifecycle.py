"""Every transition of every lifecycle, taken through the service that users reach.

The cases are generated from the lifecycle table itself: for each declared transition and each
state it leaves from, the ticket is walked there from the initial state with the lifecycle's own
transitions (breadth-first), then the transition is taken.
"""

from __future__ import annotations

from collections import deque

import pytest

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.tickets import services
from comptoir.tickets.lifecycle import (
    LIFECYCLES,
    MERGED,
    TRANSITION_ACTIONS,
    Lifecycle,
    StatusCategory,
    Who,
)
from comptoir.tickets.models import EventKind, Ticket
from comptoir.tickets.timeline import current, replay
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

KINDS = list(LIFECYCLES)


def path_to(lifecycle: Lifecycle, goal: str) -> list[str] | None:
    """The shortest list of actions leading from the initial state to ``goal`` (merge excluded)."""
    queue: deque[tuple[str, list[str]]] = deque([(lifecycle.initial, [])])
    seen = {lifecycle.initial}
    while queue:
        state, path = queue.popleft()
        if state == goal:
            return path
        for transition in sorted(lifecycle.actions_from(state), key=lambda t: t.action):
            if transition.action == "merge" or transition.target in seen:
                continue
            seen.add(transition.target)
            queue.append((transition.target, [*path, transition.action]))
    return None


def payload_for(lifecycle: Lifecycle, action: str) -> dict[str, str]:
    needs = lifecycle.transitions[action].needs
    return {
        "resolution": "Fixed it." if "resolution" in needs else None,
        "reason": "Not worth the risk." if "reason" in needs else None,
    }


def walk(ticket: Ticket, goal: str, actor: Actor) -> Ticket:
    """Take ``ticket`` to state ``goal`` through the services."""
    lifecycle = LIFECYCLES[ticket.kind]
    if goal == MERGED:
        survivor = make_ticket(
            desk=ticket.desk, requester=ticket.requester, by=actor.user, kind=ticket.kind
        )
        services.merge_tickets(actor=actor, source=ticket, target=survivor)
    else:
        path = path_to(lifecycle, goal)
        assert path is not None, f"{ticket.kind}: {goal} cannot be reached"
        for action in path:
            services.transition_ticket(
                actor=actor, ticket=ticket, action=action, **payload_for(lifecycle, action)
            )
    ticket.refresh_from_db()
    assert ticket.status == goal
    return ticket


def new_ticket(world, kind: str) -> Ticket:
    return make_ticket(
        desk=world.desk, requester=world.requester, by=world.agent, kind=kind, title=f"A {kind}"
    )


def row_of(ticket: Ticket) -> dict:
    return Ticket.objects.filter(pk=ticket.pk).values().get()


TRANSITION_CASES = [
    pytest.param(kind, action, source, id=f"{kind}-{action}-from-{source}")
    for kind, lifecycle in LIFECYCLES.items()
    for action, transition in sorted(lifecycle.transitions.items())
    if action != "merge"
    for source in sorted(transition.sources)
]

STATE_CASES = [
    pytest.param(kind, state, id=f"{kind}-{state}")
    for kind, lifecycle in LIFECYCLES.items()
    for state in sorted(lifecycle.states)
]

LIVE_STATE_CASES = [
    pytest.param(kind, state, id=f"{kind}-{state}")
    for kind, lifecycle in LIFECYCLES.items()
    for state in sorted(lifecycle.states_in(StatusCategory.OPEN, StatusCategory.PENDING))
]

FIRST_SOURCE_CASES = [
    pytest.param(
        kind,
        action,
        min(transition.sources, key=lambda s: len(path_to(lifecycle, s))),
        id=f"{kind}-{action}",
    )
    for kind, lifecycle in LIFECYCLES.items()
    for action, transition in sorted(lifecycle.transitions.items())
    if action != "merge"
]


def test_every_declared_state_is_reachable_from_the_initial_state():
    for kind, lifecycle in LIFECYCLES.items():
        unreachable = [s for s in lifecycle.states if s != MERGED and path_to(lifecycle, s) is None]
        assert unreachable == [], kind
        assert lifecycle.category(lifecycle.initial) is StatusCategory.OPEN


@pytest.mark.parametrize(("kind", "action", "source"), TRANSITION_CASES)
def test_transition_lands_in_its_target_and_writes_one_status_event(world, kind, action, source):
    lifecycle = LIFECYCLES[kind]
    transition = lifecycle.transitions[action]
    admin = Actor.for_user(world.admin)  # staff and change approver: every door is open
    ticket = walk(new_ticket(world, kind), source, admin)
    events_before = list(ticket.events.values_list("pk", flat=True))

    services.transition_ticket(
        actor=admin, ticket=ticket, action=action, **payload_for(lifecycle, action)
    )

    ticket.refresh_from_db()
    assert ticket.status == transition.target
    assert ticket.status_category == lifecycle.category(transition.target)
    new_events = list(ticket.events.exclude(pk__in=events_before))
    assert len(new_events) == 1
    event = new_events[0]
    assert event.kind == EventKind.STATUS_CHANGED
    assert event.before == {"status": source}
    assert event.after["status"] == transition.target
    assert event.after["action"] == action
    assert event.actor_user == world.admin
    assert replay(ticket.events.order_by("created_at", "id")) == current(ticket)


@pytest.mark.parametrize(("kind", "state"), STATE_CASES)
def test_action_not_allowed_from_a_state_is_refused_and_changes_nothing(world, kind, state):
    lifecycle = LIFECYCLES[kind]
    admin = Actor.for_user(world.admin)
    ticket = walk(new_ticket(world, kind), state, admin)
    allowed = {t.action for t in lifecycle.actions_from(state)} - {"merge"}
    refused = sorted((set(TRANSITION_ACTIONS) | {"merge", "teleport"}) - allowed)
    assert refused
    row, event_count = row_of(ticket), ticket.events.count()

    for action in refused:
        with pytest.raises(DomainError) as info:
            services.transition_ticket(
                actor=admin, ticket=ticket, action=action, resolution="Done.", reason="Because."
            )
        assert info.value.code == ErrorCode.INVALID_TRANSITION, action
        assert row_of(ticket) == row, action
        assert ticket.events.count() == event_count, action
        assert ticket.status == state, action


@pytest.mark.parametrize(("kind", "state"), LIVE_STATE_CASES)
def test_merge_is_possible_from_every_live_state(world, kind, state):
    admin = Actor.for_user(world.admin)
    ticket = walk(new_ticket(world, kind), state, admin)
    survivor = new_ticket(world, kind)

    services.merge_tickets(actor=admin, source=ticket, target=survivor)

    ticket.refresh_from_db()
    assert ticket.status == MERGED
    assert ticket.status_category == StatusCategory.CLOSED
    assert ticket.merged_into == survivor
    event = ticket.events.get(kind=EventKind.MERGED_INTO)
    assert event.before == {"status": state}
    assert event.after["status"] == MERGED
    assert replay(ticket.events.order_by("created_at", "id")) == current(ticket)


@pytest.mark.parametrize(("kind", "action", "source"), FIRST_SOURCE_CASES)
def test_requester_takes_only_the_transitions_the_lifecycle_grants_them(
    world, kind, action, source
):
    lifecycle = LIFECYCLES[kind]
    transition = lifecycle.transitions[action]
    ticket = walk(new_ticket(world, kind), source, Actor.for_user(world.admin))
    requester = Actor.for_user(world.requester)
    row, event_count = row_of(ticket), ticket.events.count()

    if transition.who is Who.REQUESTER:
        services.transition_ticket(
            actor=requester, ticket=ticket, action=action, **payload_for(lifecycle, action)
        )
        ticket.refresh_from_db()
        assert ticket.status == transition.target
    else:
        with pytest.raises(DomainError) as info:
            services.transition_ticket(
                actor=requester, ticket=ticket, action=action, **payload_for(lifecycle, action)
            )
        assert info.value.code == ErrorCode.PERMISSION_DENIED
        assert row_of(ticket) == row
        assert ticket.events.count() == event_count


@pytest.mark.parametrize(("kind", "action", "source"), FIRST_SOURCE_CASES)
def test_plain_agent_takes_every_transition_but_approvals(world, kind, action, source):
    lifecycle = LIFECYCLES[kind]
    transition = lifecycle.transitions[action]
    ticket = walk(new_ticket(world, kind), source, Actor.for_user(world.admin))
    agent = Actor.for_user(world.agent)
    row, event_count = row_of(ticket), ticket.events.count()

    if transition.who is Who.APPROVER:
        with pytest.raises(DomainError) as info:
            services.transition_ticket(
                actor=agent, ticket=ticket, action=action, **payload_for(lifecycle, action)
            )
        assert info.value.code == ErrorCode.PERMISSION_DENIED
        assert row_of(ticket) == row
        assert ticket.events.count() == event_count
    else:
        services.transition_ticket(
            actor=agent, ticket=ticket, action=action, **payload_for(lifecycle, action)
        )
        ticket.refresh_from_db()
        assert ticket.status == transition.target


@pytest.mark.parametrize(
    ("kind", "action"),
    [
        pytest.param(kind, action, id=f"{kind}-{action}")
        for kind, lifecycle in LIFECYCLES.items()
        for action, transition in sorted(lifecycle.transitions.items())
        if transition.needs
    ],
)
def test_transition_missing_its_required_text_is_refused(world, kind, action):
    lifecycle = LIFECYCLES[kind]
    source = min(lifecycle.transitions[action].sources, key=lambda s: len(path_to(lifecycle, s)))
    admin = Actor.for_user(world.admin)
    ticket = walk(new_ticket(world, kind), source, admin)
    row, event_count = row_of(ticket), ticket.events.count()

    with pytest.raises(DomainError) as info:
        services.transition_ticket(
            actor=admin, ticket=ticket, action=action, resolution="  ", reason="\x00"
        )
    assert info.value.code == ErrorCode.VALIDATION_ERROR
    assert info.value.details["field"] in lifecycle.transitions[action].needs
    assert row_of(ticket) == row
    assert ticket.events.count() == event_count


def test_resolution_text_is_kept_on_the_ticket_and_in_the_timeline(world):
    admin = Actor.for_user(world.admin)
    ticket = new_ticket(world, "incident")
    services.resolve_ticket(actor=admin, ticket=ticket, resolution="  Replaced the toner.  ")
    ticket.refresh_from_db()
    assert ticket.resolution == "Replaced the toner."
    assert ticket.resolved_at is not None
    assert (
        ticket.events.get(kind=EventKind.STATUS_CHANGED).after["resolution"]
        == "Replaced the toner."
    )


def test_transition_with_a_comment_adds_the_reply_after_the_status_change(world):
    agent = Actor.for_user(world.agent)
    ticket = new_ticket(world, "incident")
    services.transition_ticket(
        actor=agent, ticket=ticket, action="wait_for_customer", comment="Which floor?"
    )
    kinds = list(ticket.events.order_by("created_at", "id").values_list("kind", flat=True))
    assert kinds == [EventKind.CREATED, EventKind.STATUS_CHANGED, EventKind.COMMENTED]
    assert ticket.comments.get().body == "Which floor?"


@pytest.mark.parametrize(("kind", "action"), [("incident", "cancel"), ("change", "reject")])
def test_a_change_that_closes_the_ticket_still_carries_its_words(world, kind, action):
    agent = Actor.for_user(world.admin)
    ticket = new_ticket(world, kind)
    if action == "reject":
        services.transition_ticket(actor=agent, ticket=ticket, action="submit")
    services.transition_ticket(
        actor=agent, ticket=ticket, action=action, reason="Out of scope", comment="Sorry: see why."
    )
    ticket.refresh_from_db()
    assert ticket.status_category == "closed"
    assert ticket.comments.get().body == "Sorry: see why."
    # A reply of its own, afterwards, is refused as before: reopen first.
    with pytest.raises(DomainError) as refused:
        services.add_comment(actor=agent, ticket=ticket, body="One more thing")
    assert refused.value.code == ErrorCode.INVALID_TRANSITION
