"""``comptoir mail ingest|process|retry|send|poll|test``: the mail channel from the command line.

``poll`` polls the IMAP mailboxes now (the worker does every minute). ``test`` logs in to their
IMAP servers (renewing an OAuth2 access token if need be) and takes no message; it exits 1 when a
mailbox could not be reached.

``ingest`` reads one message on standard input, for an MTA pipe (Postfix ``pipe``, Exim
``pipe``, procmail): it exits 0 once the message is stored (whatever became of it, which the
admin sees), and 75 (EX_TEMPFAIL) when it could not be stored, so that the MTA tries again.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from comptoir.mail.models import InboundMessage, InboundStatus, Mailbox

EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Mail: 'ingest' one message from stdin, 'process' stored ones, 'retry' failed ones, 'send' due mail, 'poll' IMAP mailboxes, 'test' their connection."

    def add_arguments(self, parser):
        parser.add_argument(
            "action", choices=["ingest", "process", "retry", "send", "poll", "test"]
        )
        parser.add_argument(
            "--mailbox",
            help="ingest: the address it was sent to (else: found from the recipients); "
            "poll, test: only this mailbox",
        )
        parser.add_argument("--id", type=int, help="retry: only this message")

    def handle(self, *args, action, mailbox, id, **options):
        if action == "ingest":
            self._ingest(mailbox)
        elif action == "process":
            from comptoir.mail.services import process_pending

            total = 0
            while batch := process_pending(older_than=timedelta(0)):
                total += batch
            self.stdout.write(f"{total} processed.")
        elif action == "retry":
            from comptoir.mail.services import retry

            failed = InboundMessage.objects.filter(status=InboundStatus.FAILED)
            if id is not None:
                failed = failed.filter(pk=id)
            done = [retry(message) for message in failed.order_by("id")[:1000]]
            self.stdout.write(
                f"{len(done)} retried: "
                f"{sum(m.status == InboundStatus.PROCESSED for m in done)} processed, "
                f"{sum(m.status == InboundStatus.FAILED for m in done)} failed again."
            )
        elif action == "poll":
            self._poll(mailbox)
        elif action == "test":
            self._test(mailbox)
        else:
            from comptoir.mail.delivery import deliver

            self.stdout.write(f"{deliver()} sent.")

    def _imap_boxes(self, address: str | None):
        boxes = Mailbox.objects.filter(is_active=True).exclude(imap_host="").order_by("address")
        if address:
            boxes = boxes.filter(address__iexact=address.strip())
            if not boxes.exists():
                raise CommandError(f"No active mailbox {address} with an IMAP server.")
        return boxes

    def _test(self, address: str | None) -> None:
        from comptoir.core.actor import Actor, Channel
        from comptoir.mail.imap import check_connection

        actor = Actor.system("command line", Channel.SYSTEM)
        failed = 0
        for box in self._imap_boxes(address):
            check = check_connection(actor=actor, mailbox=box)
            failed += not check.ok
            self.stdout.write(f"{box.address}: {'ok' if check.ok else 'FAILED'}. {check.message}")
        if failed:
            raise CommandError(f"{failed} mailbox(es) could not be reached.", returncode=1)

    def _poll(self, address: str | None) -> None:
        from comptoir.mail.imap import poll_locked

        for box in self._imap_boxes(address):
            taken = poll_locked(box)
            if taken is None:
                self.stdout.write(f"{box.address}: being polled by the worker right now.")
            else:
                self.stdout.write(f"{box.address}: {taken} taken. {box.last_error}".rstrip())

    def _ingest(self, address: str | None) -> None:
        box = None
        if address:
            box = Mailbox.objects.filter(address__iexact=address.strip(), is_active=True).first()
            if box is None:
                raise CommandError(f"No active mailbox {address}.")
        raw = sys.stdin.buffer.read()
        from comptoir.mail.services import receive
        from comptoir.mail.spool import StoreFailed

        try:
            message = receive(raw, mailbox=box, source="pipe")
        except StoreFailed as exc:
            self.stderr.write(str(exc))
            sys.exit(EX_TEMPFAIL)
        except Exception as exc:  # the database is down, …: the MTA keeps the message and retries
            self.stderr.write(f"Could not record the message: {exc}")
            sys.exit(EX_TEMPFAIL)
        ticket = message.ticket.ref if message.ticket else "-"
        self.stdout.write(f"{message.status} {ticket} {message.reason}".rstrip())
