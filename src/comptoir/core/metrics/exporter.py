"""``/metrics`` served by a worker, for hosts that run no web process.

A small HTTP server in a thread of ``comptoir worker`` (``--metrics-port``) that answers only
``/metrics``, with the same view and the same rules for who may scrape as the web processes.
It reads the host's metrics folder like they do: on a host that runs web processes too, scrape
one of them or this, not both, or the host's counts are counted twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections

from comptoir.core.metrics.views import metrics

logger = logging.getLogger(__name__)


class _Handler(WSGIRequestHandler):
    timeout = 10  # a caller that stalls does not hold the only thread for long

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("Metrics exporter: " + format, *args)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b""]
    close_old_connections()
    try:
        response = metrics(WSGIRequest(environ))
    finally:
        close_old_connections()
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    return [response.content]


def start_exporter(host: str, port: int) -> WSGIServer:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; returns the server."""
    server = make_server(host, port, application, handler_class=_Handler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-exporter", daemon=True)
    thread.start()
    return server
