"""Liveness and readiness probes, the home page and the site's icon."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """The process can serve: its database and its cache answer."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        logger.warning("Readiness: database unavailable: %s", exc)
        checks["database"] = "unavailable"
    try:
        cache.set("comptoir:readyz", "1", 5)
        checks["cache"] = "ok" if cache.get("comptoir:readyz") == "1" else "unavailable"
    except Exception as exc:
        logger.warning("Readiness: cache unavailable: %s", exc)
        checks["cache"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    response = JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
    # Logged above as a warning; a load balancer asking every few seconds during an outage
    # must not add an error line each time.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def home(request: HttpRequest):
    from django.shortcuts import render

    return render(request, "core/home.html")


@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """``/favicon.ico``, which browsers ask for on pages that name no icon (the admin, the API's
    docs) and feed readers and bookmarks ask for anyway: the icon the pages name, rather than a
    404 logged for every new visitor."""
    response = HttpResponseRedirect(static("comptoir/favicon.svg"))
    patch_cache_control(response, public=True, max_age=24 * 3600)
    return response
