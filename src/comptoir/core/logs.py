"""Log lines that a machine can read: one JSON object per line, and a request id on each.

``COMPTOIR_LOG_FORMAT=json`` puts :class:`JsonFormatter` on the console handler; the default
stays plain text. :class:`RequestIdMiddleware` takes the caller's ``X-Request-ID`` when it is
well formed (or makes one), returns it in the response, and keeps it, with the method, the path
and the user id once known, in a context variable that :class:`RequestContextFilter` copies onto
every log record written while the request is served.

The formatter is a few lines of our own rather than a library: the fields are fixed, ``json``
does the escaping, and it also reads Gunicorn's access-log records, which a general-purpose
JSON formatter would print as a bare message.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

REQUEST_ID_HEADER = "X-Request-ID"
#: What an incoming request id may be: what proxies and tracers send (UUIDs, hex, base64,
#: ``Root=1-…``), nothing that could end a line or a quoted field, and at most 128 characters.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:;=+/@-]{0,127}")

#: Keys the request middleware puts into the WSGI environ, for Gunicorn's access log, which is
#: written after the response has left Django.
ENVIRON_REQUEST_ID = "comptoir.request_id"
ENVIRON_USER_ID = "comptoir.user_id"

#: Fields copied from a record to the JSON line when the record has them.
_CONTEXT_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user_id")


class RequestContext:
    """What is known of the request being served, filled in as it is learnt."""

    __slots__ = ("method", "path", "request", "request_id")

    def __init__(self, request_id: str, method: str, path: str, request: HttpRequest):
        self.request_id = request_id
        self.method = method
        self.path = path
        self.request = request


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "comptoir_request", default=None
)


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context else None


def clean_request_id(value: str | None) -> str | None:
    """The caller's request id if it is one we can repeat safely, else None."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def user_id_of(request: HttpRequest) -> int | None:
    """The id of whoever the request was authenticated as, if that is already known.

    Reads only what authentication has already resolved (the API's actor, or a session user
    already loaded): logging never queries the database.
    """
    actor = getattr(request, "auth", None)
    user = getattr(actor, "user", None)
    if user is None:
        user = request.__dict__.get("user")
        if isinstance(user, SimpleLazyObject):
            user = None if user._wrapped is empty else user._wrapped
    if user is not None and getattr(user, "is_authenticated", False):
        return getattr(user, "pk", None)
    return None


class RequestIdMiddleware:
    """Gives every request an id: the caller's if well formed, a new one otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        request.META[ENVIRON_REQUEST_ID] = request_id
        # Kept until the response is closed (``request_finished``), not only until it leaves
        # this middleware: Django logs a 4xx or 5xx answer after the last middleware has run.
        _current.set(RequestContext(request_id, request.method or "", request.path, request))
        response = self.get_response(request)
        user_id = user_id_of(request)
        if user_id is not None:
            request.META[ENVIRON_USER_ID] = str(user_id)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _forget_request(**kwargs: Any) -> None:
    _current.set(None)


request_finished.connect(_forget_request, dispatch_uid="comptoir.core.logs.forget_request")


class RequestContextFilter(logging.Filter):
    """Copies the current request's id, method, path and user id onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        if context is not None:
            for name, value in (
                ("request_id", context.request_id),
                ("method", context.method),
                ("path", context.path),
            ):
                if not hasattr(record, name):
                    setattr(record, name, value)
            if not hasattr(record, "user_id"):
                user_id = user_id_of(context.request)
                if user_id is not None:
                    record.user_id = user_id
        return True


def _from_access_log(record: logging.LogRecord) -> dict[str, Any]:
    """The request fields of a Gunicorn access-log record (its arguments are the log atoms)."""
    atoms = record.args
    if not isinstance(atoms, Mapping):
        return {}
    fields: dict[str, Any] = {"method": atoms.get("m"), "path": atoms.get("U")}
    status = str(atoms.get("s", ""))
    if status.isdigit():
        fields["status"] = int(status)
    duration = atoms.get("D")  # microseconds
    if isinstance(duration, int):
        fields["duration_ms"] = round(duration / 1000, 3)
    for key, atom in (
        ("request_id", f"{{{ENVIRON_REQUEST_ID}}}e"),
        ("user_id", f"{{{ENVIRON_USER_ID}}}e"),
        ("remote_addr", "h"),
    ):
        value = atoms.get(atom)
        if value in (None, "-"):
            continue
        text = str(value)
        fields[key] = int(text) if key == "user_id" and text.isdigit() else value
    return {key: value for key, value in fields.items() if value is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: whatever a message holds is escaped."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "gunicorn.access":
            entry.update(_from_access_log(record))
        status_code = getattr(record, "status_code", None)  # Django's 4xx and 5xx records
        if isinstance(status_code, int) and "status" not in entry:
            entry["status"] = status_code
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII only: no character of a message (a line or paragraph separator included) can
        # split the line for a reader that cuts on more than "\n".
        return json.dumps(entry, ensure_ascii=True, default=str)


__all__ = [
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "RequestContextFilter",
    "RequestIdMiddleware",
    "clean_request_id",
    "current_request_id",
    "user_id_of",
]
