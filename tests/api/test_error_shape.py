"""Every answer under /api/ has the API's error shape, even when no endpoint matched."""

from __future__ import annotations

import pytest

from tests.api.helpers import error

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_answers_json_404(world, api):
    body = error(api(world.agent).get("/api/v1/no-such-thing"), 404, "not_found")
    assert body["message"]


def test_a_wrong_method_answers_json_405(world, api):
    response = api(world.agent).client.delete("/api/v1/me", headers=api(world.agent).headers)
    body = error(response, 405, "method_not_allowed")
    assert body["details"] == {}


def test_an_unknown_desk_in_the_path_is_a_404_like_any_resource(world, api):
    world.desk.serves_all_sites = False  # a local desk: the outsider's site is not served
    world.desk.save()
    unknown = error(api(world.outsider).get("desks/nope/categories"), 404, "not_found")
    hidden = error(api(world.outsider).get("desks/it/categories"), 404, "not_found")
    assert unknown["message"] == hidden["message"]
