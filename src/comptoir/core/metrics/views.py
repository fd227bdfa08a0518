"""``GET /metrics``: the Prometheus text format, for authorised scrapers only.

A scraper is let in by its bearer token (``COMPTOIR_METRICS_TOKEN``) or by its address
(``COMPTOIR_METRICS_ALLOW``, loopback by default), and by both when both are set. Addresses are
those of the connection: a request that came through a proxy (it carries ``Forwarded`` or
``X-Forwarded-For``) is never let in by its address, since the address is the proxy's. Anything
else gets 403 with nothing in it, whatever was missing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from comptoir.core.metrics import directory
from comptoir.core.metrics.state import StateCollector

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


def _token_ok(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(_digest(given.strip()), _digest(token))


def _address_ok(request: HttpRequest, networks) -> bool:
    if "HTTP_FORWARDED" in request.META or "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        address = ipaddress.ip_address(str(request.META.get("REMOTE_ADDR", "")).split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def scraper_allowed(request: HttpRequest) -> bool:
    token = settings.COMPTOIR_METRICS_TOKEN
    allowed = settings.COMPTOIR_METRICS_ALLOW
    if token and not _token_ok(request, token):
        return False
    if token and not allowed:
        return True
    return _address_ok(request, allowed or LOOPBACK)


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not scraper_allowed(request):
        return HttpResponse(status=403)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory()))
    registry.register(StateCollector())
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = HttpResponse(encode(registry), content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
