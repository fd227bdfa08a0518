"""The probes a load balancer or an orchestrator calls: no authentication, a plain JSON answer."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_200():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_200_with_the_database_and_the_cache_ok():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_readyz_answers_503_when_the_cache_is_down(monkeypatch):
    from django.core.cache import cache

    def broken(*args, **kwargs):
        raise ConnectionError("cache is gone")

    monkeypatch.setattr(cache, "set", broken)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "unavailable"},
    }


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_only_answer_get(path):
    assert Client().post(path).status_code == 405
