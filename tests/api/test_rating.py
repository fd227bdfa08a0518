"""``POST /api/v1/tickets/{ref}/rating``: the requester rates a resolution; the rating shows in
the ticket's detail; everyone else is refused and nothing changes."""

from __future__ import annotations

import pytest

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Rating
from tests.api.helpers import FORBIDDEN, HIDDEN, UNAUTHENTICATED, Denied, matrix, person

pytestmark = pytest.mark.django_db

RATE = {
    "anonymous": UNAUTHENTICATED,
    "requester": 201,
    "colleague": FORBIDDEN,
    "outsider": HIDDEN,
    "other_agent": FORBIDDEN,
    "agent": FORBIDDEN,
    "manager": FORBIDDEN,
    "change_manager": FORBIDDEN,
    "admin": FORBIDDEN,
    "superuser": FORBIDDEN,
}


def resolve(world, ticket):
    services.resolve_ticket(actor=Actor.for_user(world.agent), ticket=ticket, resolution="Done")


@pytest.mark.parametrize(("persona", "outcome"), matrix(RATE))
def test_only_the_requester_rates_and_a_refusal_stores_nothing(
    world, scene, api, watch, persona, outcome
):
    resolve(world, scene.ticket)
    client = api(person(world, persona))
    url = f"tickets/{scene.ticket.ref}/rating"
    if isinstance(outcome, Denied):
        with watch.unchanged():
            response = client.post(url, {"satisfied": True})
        assert response.status_code == outcome.status
        assert response.json()["code"] == outcome.code
        assert Rating.objects.count() == 0
        return
    response = client.post(url, {"satisfied": True, "comment": "Quick, thanks"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["satisfied"] is True and body["comment"] == "Quick, thanks"
    assert body["rated_by"]["email"] == world.requester.email


def test_the_ticket_detail_carries_the_latest_rating(world, scene, api):
    client = api(world.requester)
    ref = scene.ticket.ref
    assert client.get(f"tickets/{ref}").json()["rating"] is None
    resolve(world, scene.ticket)
    client.post(f"tickets/{ref}/rating", {"satisfied": False, "comment": "Slow"})
    agent_view = api(world.agent).get(f"tickets/{ref}").json()
    assert agent_view["rating"]["satisfied"] is False
    assert agent_view["rating"]["comment"] == "Slow"


@pytest.mark.parametrize(
    ("resolved", "first", "status", "code"),
    [
        (False, False, 409, "not_resolved"),
        (True, True, 409, "already_rated"),
    ],
    ids=["open", "twice"],
)
def test_an_unresolved_or_already_rated_ticket_is_refused(
    world, scene, api, resolved, first, status, code
):
    if resolved:
        resolve(world, scene.ticket)
    client = api(world.requester)
    url = f"tickets/{scene.ticket.ref}/rating"
    if first:
        assert client.post(url, {"satisfied": True}).status_code == 201
    response = client.post(url, {"satisfied": False, "comment": "changed my mind"})
    assert response.status_code == status
    assert response.json()["code"] == code
    assert Rating.objects.filter(satisfied=False).count() == 0


@pytest.mark.parametrize(
    "payload",
    [{}, {"satisfied": "perhaps"}, {"satisfied": True, "comment": "x" * 2001}],
    ids=["missing", "not-a-boolean", "too-long"],
)
def test_a_malformed_rating_is_refused(world, scene, api, payload):
    resolve(world, scene.ticket)
    response = api(world.requester).post(f"tickets/{scene.ticket.ref}/rating", payload)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert Rating.objects.count() == 0
