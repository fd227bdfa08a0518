"""The OpenAPI document: served by the API, and committed in ``docs/openapi.json`` in step with
the code (``comptoir openapi`` writes it, ``comptoir openapi --check`` checks it)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from comptoir.config.api import api
from comptoir.core.management.commands.openapi import render

pytestmark = pytest.mark.django_db

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_document_matches_the_code():
    assert COMMITTED.exists(), "docs/openapi.json is missing: run `comptoir openapi` and commit it."
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json is out of date with the API code: run `comptoir openapi` and commit the result."
    )


def test_the_api_serves_its_document():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served == json.loads(json.dumps(api.get_openapi_schema()))
    assert served["openapi"].startswith("3.")
    assert served["info"]["title"] == "Comptoir API"


def test_the_document_lists_every_endpoint():
    paths = json.loads(render())["paths"]
    assert {
        "/api/v1/me",
        "/api/v1/desks",
        "/api/v1/desks/{desk}/categories",
        "/api/v1/teams",
        "/api/v1/tickets",
        "/api/v1/tickets/{ref}",
        "/api/v1/tickets/{ref}/{action}",
        "/api/v1/tickets/{ref}/assign",
        "/api/v1/tickets/{ref}/link",
        "/api/v1/tickets/{ref}/merge",
        "/api/v1/tickets/{ref}/comments",
        "/api/v1/tickets/{ref}/attachments",
        "/api/v1/tickets/{ref}/attachments/{attachment_id}/download",
        "/api/v1/tickets/{ref}/events",
    } <= set(paths)
    assert set(paths["/api/v1/tickets/{ref}"]) == {"get", "patch"}


def test_the_document_declares_both_ways_to_authenticate():
    schemes = json.loads(render())["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"http", "apiKey"}


def test_the_command_writes_a_stable_sorted_document(tmp_path):
    target = tmp_path / "docs" / "openapi.json"
    out = StringIO()
    call_command("openapi", "--output", str(target), stdout=out)
    text = target.read_text(encoding="utf-8")
    assert text == render()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert str(target) in out.getvalue()
    call_command("openapi", "--check", "--output", str(target), stdout=StringIO())


def test_the_check_fails_with_a_clear_message_when_the_document_drifts(tmp_path):
    target = tmp_path / "openapi.json"
    target.write_text(
        render().replace('"title": "Comptoir API"', '"title": "Old API"'), encoding="utf-8"
    )
    with pytest.raises(CommandError, match=r"out of date.*comptoir openapi") as excinfo:
        call_command("openapi", "--check", "--output", str(target), stdout=StringIO())
    assert "Old API" in str(excinfo.value)
    assert excinfo.value.returncode == 1


def test_the_check_fails_when_the_document_is_missing(tmp_path):
    with pytest.raises(CommandError, match=r"does not exist.*comptoir openapi"):
        call_command(
            "openapi", "--check", "--output", str(tmp_path / "nothing.json"), stdout=StringIO()
        )
