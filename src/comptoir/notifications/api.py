"""``/api/v1/notifications``: my notices (SLA warnings and breaches, …), newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import BaseModel, Field

from comptoir.core.api import ErrorOut, actor_of
from comptoir.notifications.selectors import notifications_of
from comptoir.notifications.services import mark_read

router = Router(tags=["notifications"])

ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class NotificationOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    ticket: str | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class ReadIn(Schema):
    ids: list[int] | None = Field(None, description="The notices to mark read; none: all.")


class ReadOut(BaseModel):
    marked: int


@router.get("", response={200: list[NotificationOut], **ERRORS}, summary="My notifications")
def list_notifications(request: HttpRequest, unread: bool = False, limit: int = 50):
    found = notifications_of(actor_of(request), unread=unread)[: max(1, min(limit, 200))]
    return [
        {
            "id": n.pk,
            "kind": n.kind,
            "title": n.title,
            "body": n.body,
            "ticket": n.ticket.ref if n.ticket else None,
            "data": n.data,
            "created_at": n.created_at,
            "read_at": n.read_at,
        }
        for n in found
    ]


@router.post("/read", response={200: ReadOut, **ERRORS}, summary="Mark notifications read")
def read_notifications(request: HttpRequest, payload: ReadIn):
    return {"marked": mark_read(actor_of(request), payload.ids)}
