"""Shared helpers of the API tests: personas, expected outcomes, and "nothing changed" checks."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import TestCase

from comptoir.core.actor import Actor
from comptoir.desks.models import Desk
from comptoir.tickets import services
from comptoir.tickets.models import Attachment, Comment, Ticket, TicketEvent, TicketLink

PERSONAS = (
    "anonymous",
    "requester",
    "colleague",
    "outsider",
    "other_agent",
    "agent",
    "manager",
    "change_manager",
    "admin",
    "superuser",
)
STAFF = ("agent", "manager", "change_manager", "admin", "superuser")


@dataclass(frozen=True)
class Denied:
    status: int
    code: str


UNAUTHENTICATED = Denied(401, "not_authenticated")
HIDDEN = Denied(404, "not_found")
FORBIDDEN = Denied(403, "permission_denied")
FIELD_FORBIDDEN = Denied(403, "field_not_allowed")

Outcome = int | Denied


def person(world, persona: str):
    """The user behind a persona of the matrix (``None`` for anonymous)."""
    return None if persona == "anonymous" else getattr(world, persona)


def matrix(table: dict[str, Any], columns: tuple[str, ...] | None = None) -> list:
    """``pytest.mark.parametrize`` rows from a persona → outcome(s) table covering every persona."""
    import pytest

    assert tuple(table) == PERSONAS, "a permission table lists every persona, in order"
    if columns is None:
        return [pytest.param(p, o, id=p) for p, o in table.items()]
    rows = []
    for persona, outcomes in table.items():
        assert len(outcomes) == len(columns)
        for column, outcome in zip(columns, outcomes, strict=True):
            rows.append(pytest.param(persona, column, outcome, id=f"{persona}-{column}"))
    return rows


def expect(response, outcome: Outcome):
    """Assert the status, and for a refusal the code and the one error shape; returns the body."""
    status = outcome.status if isinstance(outcome, Denied) else outcome
    assert response.status_code == status, (response.status_code, response.content[:500])
    if isinstance(outcome, Denied):
        body = response.json()
        assert set(body) == {"code", "message", "details"}, body
        assert body["code"] == outcome.code, body
        assert isinstance(body["message"], str) and body["message"]
        return body
    if response.get("Content-Type", "").startswith("application/json"):
        return response.json()
    return None


def error(response, status: int, code: str) -> dict:
    return expect(response, Denied(status, code))


def stored_files() -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def db_state() -> dict[str, Any]:
    """Everything a ticket request could change: every ticket row and its related rows."""
    return {
        "tickets": list(Ticket.objects.order_by("id").values()),
        "tags": list(Ticket.tags.through.objects.order_by("id").values_list("ticket_id", "tag_id")),
        "watchers": list(
            Ticket.watchers.through.objects.order_by("id").values_list("ticket_id", "user_id")
        ),
        "links": list(
            TicketLink.objects.order_by("id").values_list("source_id", "target_id", "kind")
        ),
        "numbers": list(Desk.objects.order_by("id").values_list("id", "last_number")),
        "events": TicketEvent.objects.count(),
        "comments": Comment.objects.count(),
        "attachments": Attachment.objects.count(),
        "files": stored_files(),
    }


class Watch:
    """Runs requests with on-commit callbacks executed, recording the domain events published."""

    def __init__(self, published: list):
        self.published = published

    @contextmanager
    def committed(self) -> Iterator[None]:
        with TestCase.captureOnCommitCallbacks(execute=True):
            yield

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """The block changes no row, stores no file and publishes no domain event."""
        before = db_state()
        seen = len(self.published)
        with self.committed():
            yield
        assert db_state() == before
        assert self.published[seen:] == []


def attempt(
    watch: Watch, outcome: Outcome, send, missing=None, *, same_as: tuple[str, str] | None = None
):
    """Send a request expecting ``outcome``.

    A refusal must change nothing. A 404 must be indistinguishable from the answer ``missing()``
    gives for something that does not exist (``same_as`` names the two identifiers to swap).
    """
    if not isinstance(outcome, Denied):
        with watch.committed():
            response = send()
        return expect(response, outcome), response
    with watch.unchanged():
        response = send()
    body = expect(response, outcome)
    if outcome == HIDDEN and missing is not None:
        with watch.unchanged():
            absent = missing()
        assert absent.status_code == 404
        real, fake = same_as or ("", "")
        assert absent.content.decode().replace(fake, real) == response.content.decode()
        assert absent.get("Content-Type") == response.get("Content-Type")
    return body, response


def upload(name: str = "note.txt", content: bytes = b"hello", content_type: str = "text/plain"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


def multipart(
    files: list[tuple[str, bytes, str]], fields: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """A multipart body built by hand, so that file names reach the server exactly as given."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in (fields or {}).items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for filename, content, content_type in files:
        quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
        )
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        data = b"".join(response.streaming_content)
        response.close()
        return data
    return response.content


def attach(ticket: Ticket, by, name: str, content: bytes, *, public: bool) -> Attachment:
    stream = io.BytesIO(content)
    return services.add_attachment(
        actor=Actor.for_user(by),
        ticket=ticket,
        upload=services.Upload(
            stream=stream, name=name, declared_type="text/plain", size=len(content)
        ),
        public=public,
    )
