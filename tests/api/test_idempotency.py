"""``Idempotency-Key`` on POST: a retried request is answered once, from memory."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from comptoir.core.idempotency import _request_hash, _scope
from comptoir.core.models import IdempotencyRecord
from comptoir.tickets.models import Attachment, Comment, Ticket
from tests.api.helpers import error, expect, multipart
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

KEY = {"Idempotency-Key": "0b6f1c3e-retry-me"}


def test_the_same_post_twice_opens_one_ticket_and_answers_the_same(world, api):
    client = api(world.requester)
    payload = {"desk": "it", "title": "Phone lost", "impact": "high"}
    first = client.post("tickets", payload, headers=KEY)
    second = client.post("tickets", payload, headers=KEY)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert second["Content-Type"] == first["Content-Type"]
    assert Ticket.objects.count() == 1


def test_without_a_key_each_post_counts(world, api):
    client = api(world.requester)
    expect(client.post("tickets", {"desk": "it", "title": "Phone lost"}), 201)
    expect(client.post("tickets", {"desk": "it", "title": "Phone lost"}), 201)
    assert Ticket.objects.count() == 2


def test_the_same_key_with_another_body_is_refused(world, api, watch):
    client = api(world.requester)
    expect(client.post("tickets", {"desk": "it", "title": "Phone lost"}, headers=KEY), 201)
    with watch.unchanged():
        response = client.post("tickets", {"desk": "it", "title": "Laptop lost"}, headers=KEY)
    error(response, 422, "idempotency_key_reused")


def test_the_same_key_on_another_endpoint_is_refused(world, api):
    client = api(world.agent)
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    expect(client.post(f"tickets/{ticket.ref}/comments", {"body": "On it"}, headers=KEY), 201)
    error(
        client.post(f"tickets/{ticket.ref}/resolve", {"body": "On it"}, headers=KEY),
        422,
        "idempotency_key_reused",
    )
    assert Comment.objects.count() == 1


def test_the_same_key_from_two_people_is_two_requests(world, api):
    payload = {"desk": "it", "title": "Printer jam"}
    mine = expect(api(world.requester).post("tickets", payload, headers=KEY), 201)
    theirs = expect(api(world.colleague).post("tickets", payload, headers=KEY), 201)
    assert mine["ref"] != theirs["ref"]
    assert theirs["requester"]["email"] == world.colleague.email
    assert Ticket.objects.count() == 2


def test_a_refusal_is_replayed_too(world, api):
    client = api(world.requester)
    first = client.post("tickets", {"desk": "nowhere", "title": "x"}, headers=KEY)
    error(first, 422, "unknown_desk")
    # The desk appears meanwhile: the retry still gets the answer the first request got.
    world.desk.slug = "nowhere"
    world.desk.save()
    second = client.post("tickets", {"desk": "nowhere", "title": "x"}, headers=KEY)
    assert (second.status_code, second.content) == (422, first.content)
    assert second["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 0


def test_a_forbidden_action_is_replayed_too(world, api, watch):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    client = api(world.requester)
    first = client.post(f"tickets/{ticket.ref}/resolve", {"resolution": "Done"}, headers=KEY)
    error(first, 403, "permission_denied")
    with watch.unchanged():
        second = client.post(f"tickets/{ticket.ref}/resolve", {"resolution": "Done"}, headers=KEY)
    assert (second.status_code, second.content, second["Idempotent-Replayed"]) == (
        403,
        first.content,
        "true",
    )


def test_an_action_replayed_is_taken_once(world, api):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    client = api(world.agent)
    first = client.post(f"tickets/{ticket.ref}/comments", {"body": "Looking"}, headers=KEY)
    second = client.post(f"tickets/{ticket.ref}/comments", {"body": "Looking"}, headers=KEY)
    assert (second.status_code, second.content) == (201, first.content)
    assert Comment.objects.count() == 1


def test_the_key_also_works_with_the_web_session(world):
    client = Client()
    client.force_login(world.requester)
    payload = {"desk": "it", "title": "Session ticket"}
    first = client.post("/api/v1/tickets", payload, content_type="application/json", headers=KEY)
    second = client.post("/api/v1/tickets", payload, content_type="application/json", headers=KEY)
    assert first.status_code == 201
    assert (second.status_code, second.content, second["Idempotent-Replayed"]) == (
        201,
        first.content,
        "true",
    )
    assert Ticket.objects.count() == 1


def test_an_anonymous_request_stores_nothing(world, api):
    response = api(None).post("tickets", {"desk": "it", "title": "x"}, headers=KEY)
    error(response, 401, "not_authenticated")
    assert not IdempotencyRecord.objects.exists()


def test_a_key_is_forgotten_after_a_day(world, api):
    client = api(world.requester)
    payload = {"desk": "it", "title": "Phone lost"}
    expect(client.post("tickets", payload, headers=KEY), 201)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = client.post("tickets", payload, headers=KEY)
    assert expect(again, 201)["ref"] == "IT-000002"
    assert not again.has_header("Idempotent-Replayed")


def test_a_key_still_being_processed_answers_409(world, api, watch):
    client = api(world.requester)
    payload = {"desk": "it", "title": "Phone lost"}
    # The same request, as the middleware sees it, is recorded but not yet answered.
    request = RequestFactory().post(
        "/api/v1/tickets", payload, content_type="application/json", headers=client.headers
    )
    IdempotencyRecord.objects.create(
        scope=_scope(request), key=KEY["Idempotency-Key"], request_hash=_request_hash(request)
    )
    with watch.unchanged():
        response = client.post("tickets", payload, headers=KEY)
    error(response, 409, "idempotency_key_in_progress")


def test_a_key_longer_than_200_characters_is_refused(world, api, watch):
    with watch.unchanged():
        response = api(world.requester).post(
            "tickets", {"desk": "it", "title": "x"}, headers={"Idempotency-Key": "k" * 201}
        )
    error(response, 422, "validation_error")


def test_get_ignores_the_key(world, api):
    client = api(world.requester)
    first = client.get("me", headers=KEY)
    second = client.get("me", headers=KEY)
    assert first.status_code == second.status_code == 200
    assert not second.has_header("Idempotent-Replayed")
    assert not IdempotencyRecord.objects.exists()


def test_a_retried_upload_is_recognised_whatever_its_multipart_boundary(world, api):
    ticket = make_ticket(desk=world.desk, requester=world.requester)
    client = api(world.requester)
    responses = []
    for _ in range(2):  # a client draws a new boundary for every request, retries included
        data, content_type = multipart([("log.txt", b"error 42", "text/plain")], {"public": "true"})
        responses.append(
            client.client.post(
                f"/api/v1/tickets/{ticket.ref}/attachments",
                data=data,
                content_type=content_type,
                headers={**client.headers, **KEY},
            )
        )
    first, second = responses
    assert first.status_code == 201
    assert (second.status_code, second.content, second["Idempotent-Replayed"]) == (
        201,
        first.content,
        "true",
    )
    assert Attachment.objects.count() == 1
    # Another file under the same key is another request.
    data, content_type = multipart([("log.txt", b"error 43", "text/plain")], {"public": "true"})
    other = client.client.post(
        f"/api/v1/tickets/{ticket.ref}/attachments",
        data=data,
        content_type=content_type,
        headers={**client.headers, **KEY},
    )
    error(other, 422, "idempotency_key_reused")


def test_a_first_attempt_whose_process_died_does_not_block_the_retry(world, api):
    client = api(world.requester)
    payload = {"desk": "it", "title": "Phone lost"}
    request = RequestFactory().post(
        "/api/v1/tickets", payload, content_type="application/json", headers=client.headers
    )
    # Recorded, never answered, and long past the server's own request timeout.
    IdempotencyRecord.objects.create(
        scope=_scope(request), key=KEY["Idempotency-Key"], request_hash=_request_hash(request)
    )
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    retry = client.post("tickets", payload, headers=KEY)
    assert expect(retry, 201)["ref"] == "IT-000001"
    replay = client.post("tickets", payload, headers=KEY)
    assert replay["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1
