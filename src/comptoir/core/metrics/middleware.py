"""Counts and times every HTTP request, labelled by its URL route, never by its raw path."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from comptoir.core.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS

logger = logging.getLogger(__name__)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (``/api/v1/tickets/{ref}``), or ``static`` or ``unmatched``.

    A pattern, not the path: one label value per route, however many tickets there are.
    """
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return "/" + str(match.route)
    static = "/" + settings.STATIC_URL.lstrip("/")
    if request.path.startswith(static):
        return "static"
    return "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in METHODS else "other"
        route = route_of(request)
        try:
            HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
            HTTP_REQUEST_DURATION.labels(method, route).observe(elapsed)
        except OSError:  # a full or missing metrics folder never fails a request
            logger.warning("Could not count a request", exc_info=True)
        return response
