"""``comptoir serve``: migrate, then serve with Gunicorn (static files included).

Unless told otherwise it also starts one ``comptoir worker`` beside the server, so that a single
command runs everything on a laptop; larger installs run their workers apart (``--no-worker``).

Before anything runs, the files of the metrics folder left by processes that have ended are
removed, so that the counts start anew, as Prometheus expects after a restart; Gunicorn's
``child_exit`` hook does the client library's bookkeeping for each web worker that exits. With
``COMPTOIR_LOG_FORMAT=json``, Gunicorn's own error and access logs go through the same JSON
handler as every other log.
"""

from __future__ import annotations

import atexit
import copy
import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from comptoir.core import metrics
from comptoir.core.ops.migrating import migrate


def default_workers() -> int:
    return max(2, (os.cpu_count() or 1) * 2)


class Command(BaseCommand):
    help = "Serve Comptoir over HTTP (Gunicorn; migrates first unless --no-migrate)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("COMPTOIR_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("COMPTOIR_PORT", "8000"))
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("COMPTOIR_WORKERS", default_workers())),
        )
        parser.add_argument(
            "--threads", type=int, default=int(os.environ.get("COMPTOIR_THREADS", "4"))
        )
        parser.add_argument(
            "--keepalive",
            type=int,
            default=int(os.environ.get("COMPTOIR_KEEPALIVE", "130")),
            help="Seconds an idle connection is kept open; above the proxy's own idle timeout.",
        )
        parser.add_argument(
            "--no-migrate", action="store_true", help="Do not apply migrations first."
        )
        parser.add_argument("--access-log", action="store_true", help="Log every request.")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            default=os.environ.get("COMPTOIR_SERVE_WORKER", "1").lower() in {"0", "false", "no"},
            help="Do not start a background worker beside the server.",
        )

    def handle(
        self,
        *args,
        host,
        port,
        workers,
        threads,
        keepalive,
        no_migrate,
        access_log,
        no_worker,
        **options,
    ):
        if keepalive < 0:
            raise CommandError("--keepalive is a number of seconds: 0 (none) or more.")
        metrics.clean_directory()
        if not no_migrate:
            migrate()  # one process at a time, when several start together
        if not no_worker:
            start_worker()
        from django.db import connections

        connections.close_all()  # workers are forked: none may inherit this process's connection
        from django.core.wsgi import get_wsgi_application
        from gunicorn.app.base import BaseApplication

        application = get_wsgi_application()

        config = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "timeout": 60,
            # Longer than a proxy keeps an idle connection to us (nginx 60 s, Caddy 2 min), so
            # that the proxy, not Gunicorn, closes it: closed by Gunicorn (2 s by default) just
            # as the proxy sends a request on it, the request fails (a POST with a 502).
            "keepalive": keepalive,
            "graceful_timeout": 20,
            "accesslog": "-" if access_log else None,
            "errorlog": "-",
            "loglevel": "warning",
            "child_exit": child_exit,
            "logconfig_dict": (
                gunicorn_logging(access_log) if settings.COMPTOIR_LOG_FORMAT == "json" else None
            ),
        }

        class Server(BaseApplication):
            def load_config(self):
                for key, value in config.items():
                    if value is not None:
                        self.cfg.set(key, value)

            def load(self):
                return application

        self.stdout.write(
            f"Comptoir on http://{host}:{port}/  (API: /api/v1/docs, admin: /admin/)", ending="\n"
        )
        self.stdout.flush()
        Server().run()


def child_exit(server: Any, worker: Any) -> None:
    """Gunicorn's hook, in the master, when a web worker has exited."""
    metrics.process_exited(worker.pid)


def gunicorn_logging(access_log: bool) -> dict[str, Any]:
    """Comptoir's logging configuration, with Gunicorn's loggers sent to its handler.

    Gunicorn applies it (``logconfig_dict``) in place of its own formats: its error log at
    warning level and above, its access log when asked for, as JSON lines like every other log.
    """
    config: dict[str, Any] = copy.deepcopy(settings.LOGGING)
    config["loggers"] = {
        **config.get("loggers", {}),
        "gunicorn.error": {"level": "WARNING", "handlers": ["console"], "propagate": False},
        "gunicorn.access": {
            "level": "INFO" if access_log else "WARNING",
            "handlers": ["console"],
            "propagate": False,
        },
    }
    return config


def start_worker() -> subprocess.Popen:
    """One ``comptoir worker`` child, stopped when the server stops."""
    child = subprocess.Popen([sys.executable, "-m", "comptoir.cli", "worker"])  # noqa: S603

    owner = os.getpid()

    def stop() -> None:
        if os.getpid() == owner and child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()

    atexit.register(stop)
    return child
