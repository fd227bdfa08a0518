"""``comptoir smtpd [--host 127.0.0.1] [--port 2525]``: receive mail by SMTP for the desks'
mailboxes, behind an MTA that relays their addresses here, or directly. Stops on SIGTERM or
Ctrl-C; a message being stored then is finished, and its sender, without an answer, retries."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Receive mail by SMTP for the desks' mailboxes (see docs/subsystems/mail-imap-smtp.md)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=2525, help="port to listen on")

    def handle(self, *args, host: str, port: int, **options):
        from comptoir.mail.smtpd import make_controller

        stop = threading.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: stop.set())
        controller = make_controller(host, port)
        try:
            controller.start()
        except Exception as exc:  # the port is taken, the address is not ours, …
            raise CommandError(f"Could not listen on {host}:{port}: {exc}") from exc
        self.stdout.write(f"Receiving mail on {host}:{port}.")
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            controller.stop()
        self.stdout.write("Stopped.")
