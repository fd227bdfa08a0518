"""The REST API root: ``/api/v1/``. Every error leaves in one shape: ``{code, message, details}``."""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from comptoir.accounts.api import AUTH
from comptoir.accounts.api import router as accounts_router
from comptoir.core import outage
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.desks.api import router as desks_router
from comptoir.desks.calendar_api import router as calendars_router
from comptoir.kb.api import router as kb_router
from comptoir.mail.api import router as mail_router
from comptoir.notifications.api import router as notifications_router
from comptoir.routing.api import router as routing_router
from comptoir.search.api import router as search_router
from comptoir.sla.api import router as sla_router
from comptoir.tickets.api import router as tickets_router

api = NinjaAPI(
    title="Comptoir API",
    version="1",
    description=(
        "The Comptoir service desk API. Authenticate with `Authorization: Bearer <token>` "
        "(create one with `comptoir token create EMAIL`) or with the web session. Every POST "
        "accepts an `Idempotency-Key` header. Errors are `{code, message, details}`."
    ),
    auth=AUTH,
    urls_namespace="api-v1",
    docs_url="/docs",
)
api.add_router("/", accounts_router)
api.add_router("/", desks_router)
# Routers with paths under /tickets/{ref}/… come before the tickets router, whose
# /tickets/{ref}/{action} would take them otherwise.
api.add_router("/", sla_router)
api.add_router("/tickets", tickets_router)
api.add_router("/calendars", calendars_router)
api.add_router("/", routing_router)
api.add_router("/notifications", notifications_router)
api.add_router("/mail", mail_router)
api.add_router("/kb", kb_router)
api.add_router("/search", search_router)


def _error(
    request: HttpRequest, status: int, code: str, message: str, details=None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "details": details or {}}, status=status
    )


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(request, exc.http_status, str(exc.code), exc.message, exc.details)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        errors.append(
            {
                "loc": [str(part) for part in error.get("loc", [])],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return _error(
        request, 422, ErrorCode.VALIDATION_ERROR, "The request is not valid.", {"errors": errors}
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    if request.META.get("HTTP_AUTHORIZATION"):
        return _error(
            request, 401, ErrorCode.TOKEN_INVALID, "The token is unknown, expired or revoked."
        )
    return _error(
        request, 401, ErrorCode.NOT_AUTHENTICATED, "Authentication required: send a Bearer token."
    )


@api.exception_handler(DatabaseError)
def on_database_error(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    """A database that cannot be reached answers 503 ``service_unavailable`` (retry later)."""
    if outage.is_outage(exc):
        return outage.unavailable_response(request, exc)
    if settings.DEBUG:
        raise exc
    return on_server_error(request, exc)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, ErrorCode.NOT_FOUND, "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {
        400: ErrorCode.VALIDATION_ERROR,  # a body that does not parse
        403: ErrorCode.PERMISSION_DENIED,
        404: ErrorCode.NOT_FOUND,
        405: ErrorCode.METHOD_NOT_ALLOWED,
    }.get(exc.status_code, ErrorCode.HTTP_ERROR)
    return _error(request, exc.status_code, str(code), str(exc))


if not settings.DEBUG:

    @api.exception_handler(Exception)
    def on_server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        import logging

        logging.getLogger("comptoir.api").exception("Unhandled error on %s", request.path)
        return _error(
            request, 500, ErrorCode.SERVER_ERROR, "Something went wrong on our side; it was logged."
        )
