"""The requester rates a resolution from the portal; agents read it on their ticket page; the
form shows only to the requester of a resolved ticket, once per resolution."""

from __future__ import annotations

import pytest
from django.test import Client

from comptoir.core.actor import Actor
from comptoir.tickets import services
from comptoir.tickets.models import Rating
from tests.api.helpers import person

pytestmark = pytest.mark.django_db

FORM = 'action="/portal/t/IT-000001/rate"'


def browser(world, persona: str) -> Client:
    client = Client()
    client.force_login(person(world, persona))
    return client


def resolve(world, ticket):
    services.resolve_ticket(actor=Actor.for_user(world.agent), ticket=ticket, resolution="Done")


def test_the_requester_rates_a_resolved_request_and_the_agent_reads_it(world, scene):
    rita = browser(world, "requester")
    url = f"/portal/t/{scene.ticket.ref}/"
    assert FORM not in rita.get(url).content.decode()  # not resolved yet
    resolve(world, scene.ticket)
    assert FORM in rita.get(url).content.decode()
    response = rita.post(
        f"{url}rate", {"satisfied": "no", "comment": "<script>alert(1)</script> slow"}
    )
    assert response.status_code == 302
    page = rita.get(url).content.decode()
    assert "Thank you: your rating was recorded." in page
    assert "Not satisfied" in page and FORM not in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; slow" in page

    desk_page = browser(world, "agent").get(f"/desk/t/{scene.ticket.ref}/").content.decode()
    assert "rated the resolution: not satisfied" in desk_page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; slow" in desk_page
    assert "<script>alert(1)</script>" not in desk_page


@pytest.mark.parametrize("persona", ["colleague", "agent"])
def test_nobody_but_the_requester_sees_the_form_or_can_rate(world, scene, persona):
    resolve(world, scene.ticket)
    client = browser(world, persona)
    url = f"/portal/t/{scene.ticket.ref}/"
    assert FORM not in client.get(url).content.decode()
    response = client.post(f"{url}rate", {"satisfied": "yes"}, follow=True)
    assert "You may not do this." in response.content.decode()
    assert Rating.objects.count() == 0


def test_an_outsider_gets_a_404_and_rates_nothing(world, scene):
    resolve(world, scene.ticket)
    response = browser(world, "outsider").post(
        f"/portal/t/{scene.ticket.ref}/rate", {"satisfied": "yes"}
    )
    assert response.status_code == 404
    assert Rating.objects.count() == 0


def test_a_rating_without_an_answer_comes_back_with_the_comment_kept(world, scene):
    resolve(world, scene.ticket)
    response = browser(world, "requester").post(
        f"/portal/t/{scene.ticket.ref}/rate", {"comment": "Kept words"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "This field is required." in html and "Kept words" in html
    assert Rating.objects.count() == 0


def test_rating_twice_says_so_and_keeps_the_first(world, scene):
    resolve(world, scene.ticket)
    rita = browser(world, "requester")
    url = f"/portal/t/{scene.ticket.ref}/rate"
    rita.post(url, {"satisfied": "yes"})
    response = rita.post(url, {"satisfied": "no"}, follow=True)
    assert "This resolution is already rated." in response.content.decode()
    assert list(Rating.objects.values_list("satisfied", flat=True)) == [True]


def test_a_reopened_then_resolved_request_may_be_rated_again(world, scene):
    resolve(world, scene.ticket)
    rita = browser(world, "requester")
    url = f"/portal/t/{scene.ticket.ref}/"
    rita.post(f"{url}rate", {"satisfied": "yes"})
    scene.ticket.refresh_from_db()
    services.reopen_ticket(actor=Actor.for_user(world.requester), ticket=scene.ticket)
    assert FORM not in rita.get(url).content.decode()
    resolve(world, scene.ticket)
    assert FORM in rita.get(url).content.decode()
    rita.post(f"{url}rate", {"satisfied": "no"})
    assert Rating.objects.count() == 2
