"""Answers under ``/api/`` keep the API's error shape, even when Django itself answers."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from comptoir.core.errors import ErrorCode

_MESSAGES = {
    404: (ErrorCode.NOT_FOUND, "No such endpoint."),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "This endpoint does not take that method."),
}


class ApiErrorShapeMiddleware:
    """Turns Django's HTML 404 and plain 405 under ``/api/`` into ``{code, message, details}``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in _MESSAGES
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            code, message = _MESSAGES[response.status_code]
            shaped = JsonResponse(
                {"code": str(code), "message": message, "details": {}}, status=response.status_code
            )
            if response.has_header("Allow"):
                shaped["Allow"] = response["Allow"]
            return shaped
        return response


__all__ = ["ApiErrorShapeMiddleware"]
