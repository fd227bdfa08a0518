"""Whatever staff do to a ticket, in whatever order, it stays in a declared state and its
timeline replays to exactly what the ticket row says.

Each generated example builds its own desk and people inside a savepoint that is rolled back
at the end, so examples never see each other's rows (the ``db`` fixture is per test, not per
example).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from comptoir.accounts.models import User
from comptoir.accounts.roles import Role
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.desks.models import Desk
from comptoir.desks.priority import LEVELS, priority_for
from comptoir.tickets import services
from comptoir.tickets.lifecycle import LIFECYCLES, TRANSITION_ACTIONS, StatusCategory
from comptoir.tickets.models import Ticket
from comptoir.tickets.timeline import current, replay
from tests.factories import DeskFactory, TeamFactory, UserFactory, grant

pytestmark = pytest.mark.django_db

ALL_ACTIONS = sorted({*TRANSITION_ACTIONS, "merge", "take_off"})

#: any action name, allowed from the current state or not
transitions = st.tuples(st.just("transition"), st.sampled_from(ALL_ACTIONS), st.booleans())
#: the n-th action allowed from the current state that does not end the ticket, so that examples
#: also walk deep into a lifecycle (endings come from the step above and from merges)
allowed_transitions = st.tuples(
    st.just("allowed"), st.integers(0, 10), st.sampled_from([True, True, True, False])
)
assignments = st.tuples(
    st.just("assign"), st.sampled_from(["nobody", "agent", "team", "team_and_agent", "requester"])
)
levels = st.sampled_from([*LEVELS, None])  # None: the field is not sent
#: an impact/urgency change, a priority override (a level with or without a reason), a return
#: to the matrix (None), or no priority at all ("keep"), alone or together in one call
updates = st.tuples(
    st.just("update"),
    levels,
    levels,
    st.sampled_from(["keep", None, 1, 2, 3, 4, 5]),
    st.sampled_from(["", "  ", "Board meeting"]),
)
replies = st.tuples(st.just("reply"), st.sampled_from(["requester", "staff"]), st.booleans())
#: merging this ticket away ends the walk, so it is drawn less often than merging another in
merges = st.tuples(st.just("merge"), st.sampled_from(["in", "in", "in", "away"]))
steps_strategy = st.lists(
    st.one_of(
        transitions,
        allowed_transitions,
        allowed_transitions,
        allowed_transitions,
        assignments,
        updates,
        replies,
        merges,
    ),
    max_size=15,
)


@dataclass
class Scene:
    desk: Desk
    requester: User
    staff: User
    agent: User
    team_id: int

    def actor(self) -> Actor:
        return Actor.for_user(self.staff)


def build_scene() -> Scene:
    desk = DeskFactory()
    # password=None: an unusable password, no hashing; these people never sign in.
    requester = UserFactory(password=None)
    staff = grant(UserFactory(password=None, organisation=None), desk, Role.ADMIN)
    agent = grant(UserFactory(password=None, organisation=None), desk, Role.AGENT)
    team = TeamFactory(desk=desk)
    team.members.add(agent)
    return Scene(desk=desk, requester=requester, staff=staff, agent=agent, team_id=team.pk)


def apply(scene: Scene, ticket: Ticket, step: tuple) -> None:
    actor = scene.actor()
    match step:
        case ("transition", action, with_text):
            text = "Because." if with_text else None
            services.transition_ticket(
                actor=actor, ticket=ticket, action=action, resolution=text, reason=text
            )
        case ("allowed", n, with_text):
            lifecycle = LIFECYCLES[ticket.kind]
            allowed = sorted(
                t.action
                for t in lifecycle.actions_from(ticket.status)
                if t.action != "merge" and lifecycle.category(t.target) != StatusCategory.CLOSED
            )
            if allowed:
                apply(scene, ticket, ("transition", allowed[n % len(allowed)], with_text))
        case ("assign", who):
            team = (
                scene.desk.teams.get(pk=scene.team_id)
                if who in ("team", "team_and_agent")
                else None
            )
            agent = {
                "agent": scene.agent,
                "team_and_agent": scene.agent,
                "requester": scene.requester,
            }.get(who)
            services.assign_ticket(actor=actor, ticket=ticket, team=team, agent=agent)
        case ("update", impact, urgency, priority, reason):
            changes: dict = {
                k: v for k, v in (("impact", impact), ("urgency", urgency)) if v is not None
            }
            if priority != "keep":
                changes |= {"priority": priority, "priority_reason": reason}
            services.update_ticket(actor=actor, ticket=ticket, changes=changes)
        case ("reply", who, public):
            author = Actor.for_user(scene.requester) if who == "requester" else actor
            services.add_comment(actor=author, ticket=ticket, body="Any news?", public=public)
        case ("merge", "away"):
            other = services.create_ticket(
                actor=actor,
                desk=scene.desk,
                kind=ticket.kind,
                title="Survivor",
                requester=scene.requester,
            )
            services.merge_tickets(actor=actor, source=ticket, target=other)
        case ("merge", "in"):
            other = services.create_ticket(
                actor=actor,
                desk=scene.desk,
                kind=ticket.kind,
                title="Duplicate",
                requester=scene.requester,
            )
            services.merge_tickets(actor=actor, source=other, target=ticket)
        case _:
            raise AssertionError(step)


def assert_consistent(scene: Scene, ticket: Ticket) -> None:
    row = Ticket.objects.select_related("assignee").get(pk=ticket.pk)
    lifecycle = LIFECYCLES[row.kind]
    assert row.status in lifecycle.states
    assert row.status_category == lifecycle.category(row.status)
    told = replay(row.events.order_by("created_at", "id"))
    assert told == current(row)
    # The caller's object is the row: nothing refused or half-done lingers in it.
    assert current(ticket) == current(row)
    if not row.priority_overridden:
        assert row.priority == priority_for(scene.desk.priority_matrix, row.impact, row.urgency)


@pytest.mark.parametrize("kind", list(LIFECYCLES))
@settings(max_examples=30, deadline=None)
@given(steps=steps_strategy)
def test_any_sequence_of_staff_actions_keeps_state_declared_and_timeline_true(kind, steps):
    with transaction.atomic():
        scene = build_scene()
        ticket = services.create_ticket(
            actor=scene.actor(), desk=scene.desk, kind=kind, title="Walk", requester=scene.requester
        )
        assert_consistent(scene, ticket)
        for step in steps:
            with contextlib.suppress(DomainError):  # a refusal is one of the outcomes under test
                apply(scene, ticket, step)
            assert_consistent(scene, ticket)
        transaction.set_rollback(True)
