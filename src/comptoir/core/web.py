"""What every page of the web UI shares: its security headers, the reader's language and time
zone, and the count of failed sign-ins that slows down password guessing.
"""

from __future__ import annotations

import hashlib
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

#: Scripts, styles and fonts from our own files only; nothing inline, nothing from elsewhere.
#: Images may also be ``data:`` URIs (the inline SVG icons need nothing at all).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
#: Pages served by Django's admin and the API's own reference page carry inline scripts and
#: styles that are not ours to change: they keep the browser's defaults.
CSP_EXEMPT_PREFIXES = ("/admin/", "/api/")


class WebPageMiddleware:
    """Sets the policy header on our pages, and speaks the signed-in person's language.

    A person's ``locale`` and ``time_zone`` settings win; without a session, the browser's
    language (read by Django's ``LocaleMiddleware`` before this) stays.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone_set = False
        if user is not None and user.is_authenticated:
            language = getattr(user, "locale", "") or ""
            if language in dict(settings.LANGUAGES):
                translation.activate(language)
                request.LANGUAGE_CODE = language
            zone = getattr(user, "time_zone", "") or ""
            try:
                timezone.activate(zoneinfo.ZoneInfo(zone))
                zone_set = True
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                pass
        try:
            response = self.get_response(request)
        finally:
            if zone_set:
                timezone.deactivate()
        if not request.path.startswith(CSP_EXEMPT_PREFIXES) and (
            "Content-Security-Policy" not in response
        ):
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        if user is not None and user.is_authenticated:
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response


# --- sign-in throttling -----------------------------------------------------------------------


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    return f"comptoir:signin:{kind}:{digest}"


def client_address(request: HttpRequest) -> str:
    """The address the request came from (the proxy's word for it only behind a trusted proxy)."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def _limits() -> tuple[tuple[str, int], ...]:
    return (
        ("address", settings.COMPTOIR_SIGNIN_FAILURES_PER_ADDRESS),
        ("ip", settings.COMPTOIR_SIGNIN_FAILURES_PER_IP),
    )


def signin_blocked(email: str, ip: str) -> bool:
    """True while the mail address or the IP has failed too often within the window."""
    values = {"address": email, "ip": ip}
    for kind, limit in _limits():
        if values[kind] and int(cache.get(_key(kind, values[kind]), 0) or 0) >= limit:
            return True
    return False


def record_signin_failure(email: str, ip: str) -> None:
    """Count one failed sign-in against the address and the IP, for the window's length."""
    window = settings.COMPTOIR_SIGNIN_WINDOW_SECONDS
    for kind, value in (("address", email), ("ip", ip)):
        if not value:
            continue
        key = _key(kind, value)
        cache.add(key, 0, window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window)


def clear_signin_failures(email: str) -> None:
    """A successful sign-in forgets the address's failures (not the IP's)."""
    cache.delete(_key("address", email))
