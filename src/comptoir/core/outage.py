"""A database that cannot be reached is an outage, not a bug: the answer is 503, "try again in a
moment", and the next request reconnects by itself once the database is back.

Only a lost or refused connection counts (PostgreSQL down, restarting or out of connection
slots; an SQLite file that cannot be opened or read). A lock timeout, a deadlock, a cancelled
query or a broken constraint stays an error of the request that met it.

Three doors lead here: :class:`OutageMiddleware` for the pages (it reads the session and the
signed-in person itself, so that an outage met there is answered here too), the API's own
exception handler (``comptoir.config.api``), and :func:`server_error`, Django's ``handler500``,
for what other middleware meets. None of them touches the database or the cache to answer.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from comptoir.core.errors import ErrorCode
from comptoir.core.web import CONTENT_SECURITY_POLICY

logger = logging.getLogger("comptoir.outage")

#: What the answer tells clients to wait before trying again, in seconds.
RETRY_AFTER_SECONDS = 5

#: PostgreSQL SQLSTATEs of a server that cannot serve: class 08 (connection exception), 53
#: (insufficient resources: too many connections, disk full, out of memory), 58 (system error),
#: and the connection ended by a shutdown, a crash, a start-up or the idle-session timeout.
_PG_OUTAGE_CLASSES = ("08", "53", "58")
_PG_OUTAGE_STATES = {"57P01", "57P02", "57P03", "57P05"}

#: SQLite primary result codes of a file that cannot be used: SQLITE_PERM (3), SQLITE_READONLY
#: (8), SQLITE_IOERR (10), SQLITE_FULL (13), SQLITE_CANTOPEN (14). SQLITE_BUSY (5, "database is
#: locked") is a lock timeout, not an outage.
_SQLITE_OUTAGE_CODES = {3, 8, 10, 13, 14}

_MARK = "_comptoir_outage"


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (rather than that a query failed)."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    sqlite_code = getattr(cause, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return (sqlite_code & 0xFF) in _SQLITE_OUTAGE_CODES
    if isinstance(exc, InterfaceError):
        # Raised by the driver on a connection that is already closed or broken.
        return True
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate:
        return sqlstate in _PG_OUTAGE_STATES or sqlstate[:2] in _PG_OUTAGE_CLASSES
    # psycopg gives no SQLSTATE to what fails on the client's side: a connection refused, timed
    # out or lost.
    return type(cause).__module__.startswith("psycopg")


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 answer: the API's error shape under ``/api/``, a short page elsewhere.

    Logged once per request at WARNING, without a traceback: an outage is the database's state,
    not a fault in the code.
    """
    if not getattr(request, _MARK, False):
        setattr(request, _MARK, True)
        logger.warning(
            "Database unavailable, answered 503 to %s %s: %s",
            request.method,
            request.path,
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
        )
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {
                "code": str(ErrorCode.SERVICE_UNAVAILABLE),
                # In English, as every message of the API.
                "message": (
                    "Comptoir cannot reach its database for the moment. Try again in a few seconds."
                ),
                "details": {"retry_after": RETRY_AFTER_SECONDS},
            },
            status=503,
        )
    else:
        # Rendered without the request: the pages' context processors read the signed-in
        # person, which needs the database.
        response = HttpResponse(
            render_to_string("core/unavailable.html", {"retry_after": RETRY_AFTER_SECONDS}),
            status=503,
        )
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # Django would log every 5xx again at ERROR level: this one has been logged above.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class OutageMiddleware:
    """Answers 503 when the database cannot be reached, for the pages and what reads the person.

    Placed right after Django's ``AuthenticationMiddleware``: it resolves the signed-in person
    (session, then user) before the middleware after it would, so that an outage met there is
    answered here rather than as a server error.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None:
            try:
                user.is_authenticated  # noqa: B018 (loads the lazy session and user)
            except (OperationalError, InterfaceError) as exc:
                if not is_outage(exc):
                    raise
                return unavailable_response(request, exc)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_outage(exception):
            return unavailable_response(request, exception)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's ``handler500``: a 503 when the error being handled is an outage (met in a
    middleware, or in saving the session), Django's own 500 page otherwise."""
    exc = sys.exc_info()[1]
    if exc is not None and is_outage(exc):
        return unavailable_response(request, exc)
    return defaults.server_error(request)


__all__ = [
    "RETRY_AFTER_SECONDS",
    "OutageMiddleware",
    "is_outage",
    "server_error",
    "unavailable_response",
]
