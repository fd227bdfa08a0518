"""The built-in SMTP receiver, spoken to with ``smtplib`` over a real socket.

The receiver runs in a thread of the test process (aiosmtpd's ``Controller``) and reaches the
database from its own worker threads, so these tests commit their data
(``transaction=True``). Two more tests run the real ``comptoir smtpd`` command against a
throwaway data folder, as a service manager would, in the clear and with STARTTLS required. The
certificates are made by ``openssl`` for the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import OperationalError

from comptoir.mail import smtpd, spool
from comptoir.mail.models import InboundMessage, Mailbox
from comptoir.tickets.models import Comment, Ticket
from tests.mail.test_pipeline import message

pytestmark = pytest.mark.django_db(transaction=True)

COMPTOIR = Path(sys.executable).with_name("comptoir")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _spool(settings, tmp_path):
    settings.COMPTOIR_MAIL_SPOOL_DIR = tmp_path / "mail"


@pytest.fixture
def box(world) -> Mailbox:
    return Mailbox.objects.create(desk=world.desk, address="it@acme.test")


@pytest.fixture
def start() -> Iterator[Callable[..., int]]:
    """``start(tls=…, require_tls=…)`` runs the receiver (with the settings of that moment) and
    gives its port."""
    running = []

    def run(**options) -> int:
        controller = smtpd.make_controller("127.0.0.1", _free_port(), **options)
        controller.start()
        running.append(controller)
        return controller.port

    yield run
    for controller in running:
        controller.stop()


def wire(raw: bytes) -> bytes:
    """SMTP carries lines ended by CRLF (smtplib sends bytes as they are)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send(port: int, raw: bytes, *, to: list[str], sender: str = "requester@acme.test") -> dict:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail(sender, to, wire(raw))


def stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.COMPTOIR_MAIL_SPOOL_DIR).rglob("*.eml")]


def test_a_mail_to_the_desk_becomes_a_ticket_with_the_bytes_kept_as_received(
    world, box, start, settings
):
    raw = wire(message(subject="Screen flickers"))
    assert send(start(), raw, to=["it@acme.test"]) == {}  # no recipient refused

    ticket = Ticket.objects.get()
    assert ticket.title == "Screen flickers"
    assert ticket.requester == world.requester
    inbound = InboundMessage.objects.get()
    assert (inbound.source, inbound.mailbox) == ("smtp", box)
    assert spool.read(inbound.spool_path) == raw  # as it came, no trace header added


def test_a_reply_to_the_tagged_address_threads_onto_its_ticket(world, box, start):
    port = start()
    send(port, message(), to=["it@acme.test"])
    ticket = Ticket.objects.get()

    reply = message(subject="still smoking", body="Still smoking.", to=f"it+{ticket.ref}@acme.test")
    send(port, reply, to=[f"it+{ticket.ref}@acme.test"])

    assert Ticket.objects.count() == 1
    assert Comment.objects.get(ticket=ticket).body == "Still smoking."


def test_a_mail_to_two_desks_opens_a_ticket_on_each(world, box, start):
    Mailbox.objects.create(desk=world.other_desk, address="hr@acme.test")
    raw = message(to="it@acme.test, hr@acme.test")
    send(start(), raw, to=["IT@acme.test", "hr@acme.test", "it@acme.test"])

    assert sorted(Ticket.objects.values_list("desk__slug", flat=True)) == ["hr", "it"]
    assert InboundMessage.objects.count() == 2


def test_an_unknown_recipient_is_refused_at_rcpt_and_nothing_is_stored(world, box, start, settings):
    Mailbox.objects.create(desk=world.desk, address="old@acme.test", is_active=False)
    port = start()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.mail("requester@acme.test")[0] == 250
        assert client.rcpt("nobody@acme.test") == (550, b"5.1.1 No such mailbox")
        assert client.rcpt("old@acme.test") == (550, b"5.1.1 No such mailbox")
        assert client.rcpt("it@elsewhere.test")[0] == 550  # not an open relay
        assert client.docmd("DATA")[0] == 503  # no recipient accepted: nothing to send

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(port, message(), to=["nobody@acme.test"])
    assert not InboundMessage.objects.exists()
    assert stored_files(settings) == []


def test_a_known_recipient_is_taken_and_an_unknown_one_refused_in_the_same_mail(world, box, start):
    refused = send(start(), message(), to=["nobody@acme.test", "it@acme.test"])
    assert refused == {"nobody@acme.test": (550, b"5.1.1 No such mailbox")}
    assert Ticket.objects.count() == 1


def test_a_too_large_message_is_refused_with_552_and_not_stored(world, box, start, settings):
    settings.COMPTOIR_MAIL_MAX_BYTES = 4000
    port = start()
    big = wire(message(body="A long story.\n" * 500))
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.has_extn("size")
        client.mail("requester@acme.test")  # without declaring its size
        client.rcpt("it@acme.test")
        code, _ = client.data(big)
    assert code == 552
    with pytest.raises(smtplib.SMTPSenderRefused) as declared:  # sendmail declares SIZE=
        send(port, big, to=["it@acme.test"])
    assert declared.value.smtp_code == 552
    assert not InboundMessage.objects.exists()
    assert stored_files(settings) == []


def test_a_spool_failure_answers_451_and_records_nothing(world, box, start, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the spool folder should be")
    settings.COMPTOIR_MAIL_SPOOL_DIR = blocker / "mail"

    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(start(), message(), to=["it@acme.test"])

    assert refused.value.smtp_code == 451
    assert refused.value.smtp_error == b"4.3.0 Try again later"
    assert not InboundMessage.objects.exists()


def test_a_database_failure_answers_451(world, box, start, monkeypatch):
    # A fake: the test cannot take its own database down while using it.
    def unavailable(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(smtpd, "receive", unavailable)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(start(), message(), to=["it@acme.test"])
    assert refused.value.smtp_code == 451


# --- STARTTLS -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def client(self) -> ssl.SSLContext:
        """A client context that trusts this certificate only, and checks the host name."""
        return ssl.create_default_context(cafile=str(self.cert))


def _certificate(folder: Path, name: str) -> Certificate:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Certificate(cert, key)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> tuple[Certificate, Certificate]:
    """Two self-signed certificates for 127.0.0.1 and localhost, with their keys."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    return _certificate(folder, "one"), _certificate(folder, "two")


@pytest.fixture
def certificate(certificates) -> Certificate:
    return certificates[0]


def test_starttls_is_offered_and_mail_sent_over_it_becomes_a_ticket(world, box, start, certificate):
    port = start(tls=smtpd.tls_context(str(certificate.cert), str(certificate.key)))
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        code, _ = client.starttls(context=certificate.client())
        assert code == 220
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        client.ehlo()
        assert not client.has_extn("starttls")  # once is enough
        assert client.sendmail("requester@acme.test", ["it@acme.test"], wire(message())) == {}
    assert Ticket.objects.get().title == "Printer on fire"
    assert InboundMessage.objects.get().source == "smtp"


def test_offered_but_not_required_a_client_in_the_clear_is_still_taken(
    world, box, start, certificate
):
    port = start(tls=smtpd.tls_context(str(certificate.cert), str(certificate.key)))
    assert send(port, message(), to=["it@acme.test"]) == {}
    assert Ticket.objects.count() == 1


def test_without_a_certificate_starttls_is_not_offered(world, box, start):
    with smtplib.SMTP("127.0.0.1", start(), timeout=30) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert client.docmd("STARTTLS")[0] == 454  # TLS not available


def test_when_tls_is_required_a_client_in_the_clear_is_refused_and_nothing_stored(
    world, box, start, certificate, settings
):
    port = start(
        tls=smtpd.tls_context(str(certificate.cert), str(certificate.key)), require_tls=True
    )
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.mail("requester@acme.test") == (
            530,
            b"5.7.0 Must issue a STARTTLS command first",
        )
        assert client.rcpt("it@acme.test")[0] == 503  # no sender was taken
        assert client.docmd("DATA")[0] == 503
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(port, message(), to=["it@acme.test"])
    assert refused.value.smtp_code == 530
    assert not InboundMessage.objects.exists()
    assert stored_files(settings) == []

    # The same server takes it once TLS is started.
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.starttls(context=certificate.client())
        assert client.sendmail("requester@acme.test", ["it@acme.test"], wire(message())) == {}
    assert Ticket.objects.count() == 1


def test_a_client_that_does_not_trust_the_certificate_sends_nothing(
    world, box, start, certificates
):
    served, other = certificates
    port = start(tls=smtpd.tls_context(str(served.cert), str(served.key)), require_tls=True)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client, pytest.raises(ssl.SSLError):
        client.starttls(context=other.client())
    assert not InboundMessage.objects.exists()


def test_unusable_certificate_files_are_refused_with_the_reason(certificates, tmp_path):
    one, two = certificates
    with pytest.raises(ValueError, match="No such file"):
        smtpd.tls_context(str(tmp_path / "missing.pem"), str(one.key))
    with pytest.raises(ValueError, match="cannot be used together"):
        smtpd.tls_context(str(one.cert), str(two.key))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ValueError, match="cannot be used together"):
        smtpd.tls_context(str(garbage), str(one.key))
    with pytest.raises(ValueError, match="needs a certificate"):
        smtpd.make_controller("127.0.0.1", _free_port(), require_tls=True)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--require-tls"], "Requiring TLS needs a certificate"),
        (["--tls-key", "/nonexistent.key"], "A TLS key without its certificate"),
        (["--tls-cert", "/nonexistent.pem"], "Cannot offer STARTTLS: No such file"),
    ],
)
def test_the_command_refuses_tls_options_that_cannot_work(args, said):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=said):
        call_command("smtpd", "--port", str(_free_port()), *args)


# --- the command, in a process of its own -------------------------------------------------------


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["COMPTOIR_DATA_DIR"] = str(data_dir)
    return env


def _comptoir(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [str(COMPTOIR), *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


SETUP = """
from comptoir.desks.models import Desk
from comptoir.mail.models import Mailbox
desk = Desk.objects.create(name="IT", slug="it", prefix="IT")
Mailbox.objects.create(desk=desk, address="it@acme.test")
"""

COUNT = """
from comptoir.tickets.models import Ticket
print([t.title for t in Ticket.objects.all()])
"""


@dataclass
class Served:
    port: int
    output: str = ""
    returncode: int | None = None


@contextmanager
def serving(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """``comptoir smtpd`` in a process of its own, until SIGTERM at the end of the block."""
    served = Served(_free_port())
    server = subprocess.Popen(
        [str(COMPTOIR), "smtpd", "--port", str(served.port), *args],
        env={**_env(data_dir), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", served.port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"comptoir smtpd did not start: {server.stdout.read()}")
                time.sleep(0.1)
        yield served
    finally:
        server.send_signal(signal.SIGTERM)
        served.output, _ = server.communicate(timeout=30)
        served.returncode = server.returncode


def test_the_smtpd_command_takes_mail_and_stops_on_sigterm(tmp_path):
    data_dir = tmp_path / "data"
    _comptoir(data_dir, "migrate", "--verbosity", "0")
    _comptoir(data_dir, "shell", "-c", SETUP)
    with serving(data_dir) as served:
        port = served.port
        assert send(port, message(subject="Sent to the command"), to=["it@acme.test"]) == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(port, message(), to=["nobody@acme.test"])
    assert served.returncode == 0, served.output
    assert f"Receiving mail on 127.0.0.1:{port}." in served.output
    assert "Stopped." in served.output
    titles = _comptoir(data_dir, "shell", "-c", COUNT).strip().splitlines()[-1]
    assert titles == "['Sent to the command']"


def test_the_smtpd_command_requires_starttls_from_its_environment(tmp_path, certificate):
    data_dir = tmp_path / "data"
    _comptoir(data_dir, "migrate", "--verbosity", "0")
    _comptoir(data_dir, "shell", "-c", SETUP)
    env = {
        "COMPTOIR_SMTPD_TLS_CERT": str(certificate.cert),
        "COMPTOIR_SMTPD_TLS_KEY": str(certificate.key),
        "COMPTOIR_SMTPD_REQUIRE_TLS": "1",
    }
    with serving(data_dir, env=env) as served:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(served.port, message(subject="In the clear"), to=["it@acme.test"])
        assert refused.value.smtp_code == 530
        with smtplib.SMTP("127.0.0.1", served.port, timeout=30) as client:
            client.starttls(context=certificate.client())
            sent = wire(message(subject="Over TLS"))
            assert client.sendmail("requester@acme.test", ["it@acme.test"], sent) == {}
    assert served.returncode == 0, served.output
    assert f"Receiving mail on 127.0.0.1:{served.port}; STARTTLS required." in served.output
    titles = _comptoir(data_dir, "shell", "-c", COUNT).strip().splitlines()[-1]
    assert titles == "['Over TLS']"
