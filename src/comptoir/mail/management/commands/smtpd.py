"""``comptoir smtpd [--host 127.0.0.1] [--port 2525] [--tls-cert PEM --tls-key PEM]
[--require-tls]``: receive mail by SMTP for the desks' mailboxes, behind an MTA that relays their
addresses here, or directly. With a certificate it offers STARTTLS; with ``--require-tls`` it
refuses MAIL FROM before STARTTLS. The TLS options default to ``COMPTOIR_SMTPD_TLS_CERT``,
``COMPTOIR_SMTPD_TLS_KEY`` and ``COMPTOIR_SMTPD_REQUIRE_TLS``. Stops on SIGTERM or Ctrl-C; a
message being stored then is finished, and its sender, without an answer, retries."""

from __future__ import annotations

import argparse
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Receive mail by SMTP for the desks' mailboxes (see docs/subsystems/mail-imap-smtp.md)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=2525, help="port to listen on")
        parser.add_argument(
            "--tls-cert",
            default=None,
            help="certificate chain (PEM) to offer STARTTLS with "
            "(default: COMPTOIR_SMTPD_TLS_CERT)",
        )
        parser.add_argument(
            "--tls-key",
            default=None,
            help="its private key (PEM), unless the certificate file holds it "
            "(default: COMPTOIR_SMTPD_TLS_KEY)",
        )
        parser.add_argument(
            "--require-tls",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="refuse MAIL FROM until the client has started TLS "
            "(default: COMPTOIR_SMTPD_REQUIRE_TLS)",
        )

    def handle(self, *args, host: str, port: int, tls_cert, tls_key, require_tls, **options):
        from comptoir.mail.smtpd import make_controller, tls_context

        cert: str = (settings.COMPTOIR_SMTPD_TLS_CERT if tls_cert is None else tls_cert) or ""
        key: str = (settings.COMPTOIR_SMTPD_TLS_KEY if tls_key is None else tls_key) or ""
        if require_tls is None:
            require_tls = settings.COMPTOIR_SMTPD_REQUIRE_TLS
        if key and not cert:
            raise CommandError("A TLS key without its certificate: give --tls-cert as well.")
        if require_tls and not cert:
            raise CommandError(
                "Requiring TLS needs a certificate: give --tls-cert and --tls-key "
                "(or COMPTOIR_SMTPD_TLS_CERT and COMPTOIR_SMTPD_TLS_KEY)."
            )
        tls = None
        if cert:
            try:
                tls = tls_context(cert, key)
            except ValueError as exc:
                raise CommandError(f"Cannot offer STARTTLS: {exc}") from exc

        stop = threading.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: stop.set())
        controller = make_controller(host, port, tls=tls, require_tls=require_tls)
        try:
            controller.start()
        except Exception as exc:  # the port is taken, the address is not ours, …
            raise CommandError(f"Could not listen on {host}:{port}: {exc}") from exc
        offered = "" if tls is None else ("; STARTTLS required" if require_tls else "; STARTTLS")
        self.stdout.write(f"Receiving mail on {host}:{port}{offered}.")
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            controller.stop()
        self.stdout.write("Stopped.")
