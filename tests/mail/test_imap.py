"""IMAP polling against a real IMAP server: Dovecot, started for the session on 127.0.0.1.

The server is Debian's ``dovecot-imapd`` with a throwaway configuration: plain IMAP on loopback
(``imap_security="none"``), one user with a password in a passwd-file, and XOAUTH2 checked by
Dovecot's OAuth2 passdb against a small token introspection endpoint run by the test. Each test
polls a folder of its own (its name has a space and accents, so every poll also exercises
quoting and modified UTF-7), filled over IMAP itself with APPEND.
"""

from __future__ import annotations

import imaplib
import io
import itertools
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from comptoir.core.locks import sweep_lock
from comptoir.mail import imap, oauth
from comptoir.mail.imap import polling
from comptoir.mail.models import InboundMessage, Mailbox
from comptoir.tickets.models import Comment, Ticket
from tests.mail.test_oauth import Answer, TokenEndpoint
from tests.mail.test_pipeline import message

USER, PASSWORD, TOKEN = "desk", "s3cret-Passw0rd", "a-valid-access-token"
_folders = itertools.count(1)
#: The access tokens the introspection endpoint (and so Dovecot) accepts right now.
VALID_TOKENS = {TOKEN}


# --- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Introspection(BaseHTTPRequestHandler):
    """RFC 7662 token introspection, as Dovecot's OAuth2 passdb asks it: the tokens in
    ``VALID_TOKENS`` are active."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        valid = form.get("token", [""])[0] in VALID_TOKENS
        body = json.dumps({"active": "true", "username": USER} if valid else {"active": "false"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Server:
    port: int

    def connect(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def new_folder(self) -> str:
        name = f"Réception du desk {next(_folders)}"
        with self.connect() as client:
            typ, data = client.create(_wire(name))
            assert typ == "OK", data
        return name

    def append(self, folder: str, raw: bytes) -> int:
        """Put a message in the folder; returns its UID."""
        with self.connect() as client:
            typ, data = client.append(_wire(folder), None, None, raw)
        assert typ == "OK", data
        found = re.search(rb"APPENDUID \d+ (\d+)", data[0])
        assert found, data
        return int(found.group(1))

    def flags(self, folder: str) -> dict[int, set[str]]:
        """UID → flags of every message in the folder."""
        with self.connect() as client:
            client.select(_wire(folder), readonly=True)
            typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK", data
        result = {}
        for line in data:
            if isinstance(line, bytes) and (found := re.search(rb"UID (\d+)", line)):
                flags = re.search(rb"FLAGS \(([^)]*)\)", line)
                result[int(found.group(1))] = (
                    set(flags.group(1).decode().split()) if flags else set()
                )
        return result


def _wire(folder: str) -> str:
    return polling._quoted(polling._imap_utf7(folder))


def _users() -> tuple[str, str, str]:
    """(login, internal, mail) users: Debian's own when run as root, else the current user."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, me
    for name in ("dovenull", "dovecot"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            pytest.skip(f"Dovecot is installed without its system user {name!r}.")
    return "dovenull", "dovecot", "dovecot"


def _configure(root: Path, *, port: int, introspection_port: int) -> Path:
    """A throwaway Dovecot: plain IMAP on 127.0.0.1, one user (password or XOAUTH2)."""
    login_user, internal_user, mail_user = _users()
    account = pwd.getpwnam(mail_user)
    (root / "mail").mkdir()
    os.chown(root / "mail", account.pw_uid, account.pw_gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "oauth2.conf").write_text(
        "introspection_mode = post\n"
        f"introspection_url = http://127.0.0.1:{introspection_port}/introspect\n"
        "username_attribute = username\n"
        "active_attribute = active\n"
        "active_value = true\n"
    )
    conf = root / "dovecot.conf"
    # No failure delay and no per-address penalty: the tests fail logins on purpose.
    conf.write_text(
        f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain xoauth2
auth_failure_delay = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {account.pw_uid}
mail_location = maildir:{root}/mail/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2
  args = {root}/oauth2.conf
}}
userdb {{
  driver = static
  args = uid={account.pw_uid} gid={account.pw_gid} home={root}/mail/%u
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
    )
    return conf


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Server]:
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        pytest.skip("Dovecot is not installed: apt-get install dovecot-imapd")
    # Not under pytest's temporary folder: Dovecot's unprivileged processes must reach it.
    root = Path(tempfile.mkdtemp(prefix="comptoir-dovecot-"))
    root.chmod(0o755)
    introspection = ThreadingHTTPServer(("127.0.0.1", 0), _Introspection)
    threading.Thread(target=introspection.serve_forever, daemon=True).start()
    process: subprocess.Popen | None = None
    try:
        port = _free_port()
        conf = _configure(root, port=port, introspection_port=introspection.server_address[1])
        process = subprocess.Popen(
            [binary, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log = root / "dovecot.log"
                said = (log.read_text() if log.exists() else "") + (
                    process.stdout.read().decode() if process.poll() is not None else ""
                )
                pytest.skip(f"Dovecot did not start: {said.strip()[-500:]}")
            time.sleep(0.05)
        yield Server(port)
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        introspection.shutdown()
        shutil.rmtree(root, ignore_errors=True)


# --- the tests ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _spool(settings, tmp_path):
    settings.COMPTOIR_MAIL_SPOOL_DIR = tmp_path / "mail"


@pytest.fixture
def folder(dovecot) -> str:
    return dovecot.new_folder()


@pytest.fixture
def box(world, dovecot, folder) -> Mailbox:
    return Mailbox.objects.create(
        desk=world.desk,
        address="it@acme.test",
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_security="none",
        imap_username=USER,
        imap_password=PASSWORD,
        imap_folder=folder,
    )


def fresh(box: Mailbox) -> Mailbox:
    box.refresh_from_db()
    return box


@pytest.mark.django_db
def test_a_new_message_becomes_a_ticket_and_is_marked_read_on_the_server(dovecot, folder, box):
    uid = dovecot.append(folder, message(subject="VPN down"))
    assert "\\Seen" not in dovecot.flags(folder)[uid]

    assert imap.poll(box) == 1

    ticket = Ticket.objects.get()
    assert ticket.title == "VPN down"
    assert InboundMessage.objects.get().source == "imap"
    assert "\\Seen" in dovecot.flags(folder)[uid]
    assert fresh(box).imap_last_uid == uid
    assert box.last_error == ""
    assert box.last_polled_at is not None
    assert box.imap_uidvalidity is not None


@pytest.mark.django_db
def test_with_delete_the_message_is_gone_from_the_server(dovecot, folder, box):
    box.imap_after = "delete"
    box.save()
    kept = dovecot.append(folder, message(subject="First"))
    dovecot.append(folder, message(subject="Second"))
    with dovecot.connect() as client:  # someone marked this one deleted without expunging
        client.select(_wire(folder))
        client.uid("STORE", str(kept), "+FLAGS", r"(\Deleted)")
    # Take only the second one: the first is treated as already taken.
    box.imap_last_uid = kept
    Mailbox.objects.filter(pk=box.pk).update(imap_last_uid=kept)
    box.imap_uidvalidity = _uidvalidity(dovecot, folder)
    Mailbox.objects.filter(pk=box.pk).update(imap_uidvalidity=box.imap_uidvalidity)

    assert imap.poll(box) == 1

    assert Ticket.objects.get().title == "Second"
    # Gone; and with UIDPLUS only that message is expunged, not the one someone else marked.
    assert list(dovecot.flags(folder)) == [kept]


@pytest.mark.django_db
def test_polling_twice_creates_nothing_new(dovecot, folder, box):
    dovecot.append(folder, message())
    dovecot.append(folder, message(subject="Keyboard missing keys"))
    assert imap.poll(box) == 2
    last = fresh(box).imap_last_uid

    # "UID n:*" still answers the newest message when n is past it: it must not be taken again.
    assert imap.poll(box) == 0
    assert imap.poll(box) == 0

    assert Ticket.objects.count() == 2
    assert InboundMessage.objects.count() == 2
    assert fresh(box).imap_last_uid == last


@pytest.mark.django_db
def test_a_batch_takes_the_oldest_first_and_the_rest_at_the_next_poll(dovecot, folder, box):
    for n in range(3):
        dovecot.append(folder, message(subject=f"Request {n}"))
    assert imap.poll(box, batch=2) == 2
    assert sorted(Ticket.objects.values_list("title", flat=True)) == ["Request 0", "Request 1"]
    assert imap.poll(box, batch=2) == 1
    assert Ticket.objects.count() == 3


@pytest.mark.django_db
def test_a_reply_fetched_over_imap_threads_onto_the_ticket(dovecot, folder, box):
    dovecot.append(folder, message(message_id="<first@acme.test>"))
    imap.poll(box)
    ticket = Ticket.objects.get()

    reply = message(
        subject="Re: Printer on fire",
        body="It stopped smoking.",
        headers={"In-Reply-To": "<first@acme.test>", "References": "<first@acme.test>"},
    )
    dovecot.append(folder, reply)
    assert imap.poll(box) == 1

    assert Ticket.objects.count() == 1
    assert Comment.objects.get(ticket=ticket).body == "It stopped smoking."


@pytest.mark.django_db
def test_a_message_that_cannot_be_stored_stays_unread_on_the_server_until_the_next_poll(
    dovecot, folder, box, settings, tmp_path
):
    uid = dovecot.append(folder, message())
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the spool folder should be")
    settings.COMPTOIR_MAIL_SPOOL_DIR = blocker / "mail"

    assert imap.poll(box) == 0

    assert not InboundMessage.objects.exists()
    assert "\\Seen" not in dovecot.flags(folder)[uid]
    assert fresh(box).imap_last_uid == 0
    assert f"UID {uid} left on the server" in box.last_error
    assert "Could not store" in box.last_error

    settings.COMPTOIR_MAIL_SPOOL_DIR = tmp_path / "mail"
    assert imap.poll(box) == 1
    assert Ticket.objects.count() == 1
    assert "\\Seen" in dovecot.flags(folder)[uid]
    assert fresh(box).last_error == ""


@pytest.mark.django_db
def test_a_wrong_password_fills_last_error_and_raises_nothing(dovecot, folder, box):
    uid = dovecot.append(folder, message())
    box.imap_password = "not the password"
    box.save()

    assert imap.poll(box) == 0

    assert fresh(box).last_error.startswith("Could not log in:")
    assert "Authentication failed" in box.last_error
    assert box.last_polled_at is not None
    assert not InboundMessage.objects.exists()
    assert "\\Seen" not in dovecot.flags(folder)[uid]


@pytest.mark.django_db
def test_an_oauth2_token_is_used_instead_of_the_password(dovecot, folder, box):
    dovecot.append(folder, message())
    box.imap_password = "not the password"
    box.imap_oauth_token = TOKEN
    box.save()
    assert imap.poll(box) == 1
    assert fresh(box).last_error == ""

    box.imap_oauth_token = "an-expired-token"
    box.save()
    assert imap.poll(box) == 0
    assert fresh(box).last_error.startswith("Could not log in:")


@pytest.mark.django_db
def test_a_changed_uidvalidity_reads_the_folder_again_without_duplicates(dovecot, folder, box):
    dovecot.append(folder, message(subject="Before the move"))
    assert imap.poll(box) == 1
    real = fresh(box).imap_uidvalidity
    Mailbox.objects.filter(pk=box.pk).update(imap_uidvalidity=real + 1)  # as if it changed
    dovecot.append(folder, message(subject="After the move"))

    assert imap.poll(fresh(box)) == 2  # both read again

    assert sorted(Ticket.objects.values_list("title", flat=True)) == [
        "After the move",
        "Before the move",
    ]
    assert InboundMessage.objects.count() == 2
    assert fresh(box).imap_uidvalidity == real


@pytest.mark.django_db
def test_pointing_the_mailbox_at_another_folder_reads_that_folder_from_its_start(
    dovecot, folder, box
):
    dovecot.append(folder, message(subject="Old folder"))
    dovecot.append(folder, message(subject="Old folder, again"))
    imap.poll(box)
    other = dovecot.new_folder()
    dovecot.append(other, message(subject="New folder"))

    box.imap_folder = other
    box.save()
    assert (box.imap_uidvalidity, box.imap_last_uid) == (None, 0)
    assert imap.poll(box) == 1

    assert "New folder" in Ticket.objects.values_list("title", flat=True)


@pytest.mark.django_db
def test_a_message_over_the_size_limit_is_left_on_the_server(dovecot, folder, box, settings):
    settings.COMPTOIR_MAIL_MAX_BYTES = 5000
    big = dovecot.append(folder, message(body="x" * 6000))
    small = dovecot.append(folder, message(subject="Small"))

    assert imap.poll(box) == 1

    assert Ticket.objects.get().title == "Small"
    assert "\\Seen" not in dovecot.flags(folder)[big]
    assert f"UID {big}" in fresh(box).last_error
    assert box.imap_last_uid == small


@pytest.mark.django_db
def test_a_missing_folder_fills_last_error(dovecot, box):
    box.imap_folder = "No such folder"
    box.save()
    assert imap.poll(box) == 0
    assert fresh(box).last_error.startswith("Could not open the folder 'No such folder':")


@pytest.mark.django_db
def test_a_server_that_does_not_answer_fills_last_error(box):
    box.imap_port = _free_port()  # nothing listens there
    box.save()
    assert imap.poll(box) == 0
    assert fresh(box).last_error.startswith(f"Could not connect to 127.0.0.1:{box.imap_port}:")


@pytest.mark.django_db
def test_an_unencrypted_connection_elsewhere_than_this_machine_is_not_made(world):
    box = Mailbox.objects.create(  # written by hand: the doors refuse it (test_mailbox_api.py)
        desk=world.desk,
        address="it@acme.test",
        imap_host="imap.example.com",
        imap_security="none",
        imap_password="secret",
    )
    assert (
        "only allowed to 127.0.0.1 or localhost" in imap.connection_problems(box)["imap_security"]
    )
    assert imap.poll(box) == 0
    assert "unencrypted connection is only allowed" in fresh(box).last_error


@pytest.mark.django_db
def test_the_periodic_task_polls_active_mailboxes_and_skips_one_being_polled(
    world, dovecot, folder, box
):
    other_folder = dovecot.new_folder()
    other = Mailbox.objects.create(
        desk=world.other_desk,
        address="hr@acme.test",
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_security="none",
        imap_username=USER,
        imap_password=PASSWORD,
        imap_folder=other_folder,
    )
    Mailbox.objects.create(  # inactive: not polled, though it points at the same folder
        desk=world.desk,
        address="old@acme.test",
        is_active=False,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_security="none",
        imap_password=PASSWORD,
        imap_username=USER,
        imap_folder=folder,
    )
    dovecot.append(folder, message(subject="For IT"))
    dovecot.append(other_folder, message(subject="For HR", to="hr@acme.test"))

    with sweep_lock(imap.lock_name(other.pk), seconds=60):  # another worker is polling HR
        imap.poll_mailboxes_task.call_local()

    assert list(Ticket.objects.values_list("title", flat=True)) == ["For IT"]
    assert InboundMessage.objects.get().mailbox == box

    imap.poll_mailboxes_task.call_local()  # the lock is released: HR's turn
    assert sorted(Ticket.objects.values_list("title", flat=True)) == ["For HR", "For IT"]


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("INBOX", "INBOX"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("R&D", "R&-D"),
        ("台北", "&U,BTFw-"),
        ("Réception du desk", "R&AOk-ception du desk"),
    ],
)
def test_folder_names_are_sent_in_modified_utf7(name, wire):
    assert polling._imap_utf7(name) == wire


def _uidvalidity(server: Server, folder: str) -> int:
    with server.connect() as client:
        client.select(_wire(folder), readonly=True)
        _, data = client.response("UIDVALIDITY")
    return int(data[0])


# --- OAuth2: the access token renewed by Comptoir, the login with it ------------------------------


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    """A token endpoint whose tokens Dovecot accepts (through the introspection endpoint)."""
    server = TokenEndpoint()
    server.on_issue = VALID_TOKENS.add
    yield server
    server.close()
    VALID_TOKENS.intersection_update({TOKEN})


@pytest.fixture
def oauth_box(box, endpoint) -> Mailbox:
    """The test's mailbox, logging in with OAuth2 only (no password), renewed at ``endpoint``."""
    box.imap_password = ""
    box.oauth_provider = "other"
    box.oauth_token_url = endpoint.url
    box.oauth_client_id = "comptoir-test"
    box.oauth_client_secret = "client-secret"
    box.oauth_refresh_token = "rt-1"
    box.save()
    return box


@pytest.mark.django_db
def test_an_access_token_running_out_is_renewed_before_logging_in(dovecot, folder, oauth_box):
    Mailbox.objects.filter(pk=oauth_box.pk).update(
        imap_oauth_token=TOKEN, oauth_token_expires_at=timezone.now() + timedelta(minutes=2)
    )
    uid = dovecot.append(folder, message(subject="Mail through OAuth2"))

    assert imap.poll(fresh(oauth_box)) == 1

    assert Ticket.objects.get().title == "Mail through OAuth2"
    assert "\\Seen" in dovecot.flags(folder)[uid]
    box = fresh(oauth_box)
    assert box.last_error == ""
    assert box.imap_oauth_token == "at-1"
    assert box.oauth_token_expires_at > timezone.now() + timedelta(minutes=55)


@pytest.mark.django_db
def test_a_valid_token_is_not_renewed(dovecot, folder, oauth_box, endpoint):
    Mailbox.objects.filter(pk=oauth_box.pk).update(
        imap_oauth_token=TOKEN, oauth_token_expires_at=timezone.now() + timedelta(minutes=30)
    )
    dovecot.append(folder, message())
    assert imap.poll(fresh(oauth_box)) == 1
    assert endpoint.requests == []


@pytest.mark.django_db
def test_a_token_the_server_refuses_is_renewed_once_and_the_poll_goes_on(
    dovecot, folder, oauth_box, endpoint
):
    # Not expired by its date, but revoked at the provider: the server says NO.
    Mailbox.objects.filter(pk=oauth_box.pk).update(
        imap_oauth_token="revoked-token",
        oauth_token_expires_at=timezone.now() + timedelta(minutes=50),
    )
    dovecot.append(folder, message())

    assert imap.poll(fresh(oauth_box)) == 1

    assert len(endpoint.requests) == 1
    assert endpoint.requests[0]["grant_type"] == "refresh_token"
    assert fresh(oauth_box).imap_oauth_token == "at-1"
    assert oauth_box.last_error == ""


@pytest.mark.django_db
def test_a_renewed_token_the_server_refuses_too_is_not_renewed_again(
    dovecot, folder, oauth_box, endpoint
):
    endpoint.on_issue = lambda token: None  # the provider issues tokens the server refuses
    Mailbox.objects.filter(pk=oauth_box.pk).update(
        imap_oauth_token="revoked-token",
        oauth_token_expires_at=timezone.now() + timedelta(minutes=50),
    )
    uid = dovecot.append(folder, message())

    assert imap.poll(fresh(oauth_box)) == 0

    assert len(endpoint.requests) == 1  # once per poll, not in a loop
    box = fresh(oauth_box)
    assert box.last_error.startswith("Could not log in with the renewed OAuth2 access token:")
    assert not InboundMessage.objects.exists()
    assert "\\Seen" not in dovecot.flags(folder)[uid]

    assert imap.poll(box) == 0  # due? no: the new token has an hour; refused, renewed once
    assert len(endpoint.requests) == 2


@pytest.mark.django_db
def test_a_dead_refresh_token_is_shown_to_the_admin_and_the_mail_waits(
    dovecot, folder, oauth_box, endpoint, api, world
):
    endpoint.answers.append(
        Answer(400, {"error": "invalid_grant", "error_description": "AADSTS50173: revoked"})
    )
    uid = dovecot.append(folder, message())

    assert imap.poll(fresh(oauth_box)) == 0

    error = fresh(oauth_box).last_error
    assert error.startswith(
        "Could not renew the OAuth2 access token: The provider refused the refresh token "
        "(invalid_grant: AADSTS50173: revoked)"
    )
    assert "consent" in error
    assert "\\Seen" not in dovecot.flags(folder)[uid]
    shown = api(world.manager).get(f"mail/mailboxes/{oauth_box.pk}").json()
    assert shown["last_error"] == error
    assert "rt-1" not in json.dumps(shown) and "client-secret" not in json.dumps(shown)

    # The admin consents again and stores the new refresh token: the next poll takes the mail.
    changed = api(world.manager).patch(
        f"mail/mailboxes/{oauth_box.pk}", {"oauth_refresh_token": "rt-after-consent"}
    )
    assert changed.status_code == 200, changed.content
    assert imap.poll(fresh(oauth_box)) == 1
    assert endpoint.requests[-1]["refresh_token"] == "rt-after-consent"
    assert fresh(oauth_box).last_error == ""


@pytest.mark.django_db
def test_a_token_endpoint_that_does_not_answer_in_time_fills_last_error(
    dovecot, folder, oauth_box, endpoint, monkeypatch
):
    monkeypatch.setattr(oauth, "TIMEOUT", 0.5)
    endpoint.answers.append(Answer(delay=2, body={"access_token": "late"}))
    dovecot.append(folder, message())
    assert imap.poll(fresh(oauth_box)) == 0
    assert fresh(oauth_box).last_error == (
        "Could not renew the OAuth2 access token: "
        "The token endpoint did not answer within 0.5 seconds."
    )


# --- checking a connection ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_connection_check_logs_in_and_takes_nothing(dovecot, folder, box, api, world):
    first = dovecot.append(folder, message())
    second = dovecot.append(folder, message(subject="Second"))

    answer = api(world.manager).post(f"mail/mailboxes/{box.pk}/test-connection")

    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "ok": True,
        "message": f"Logged in to 127.0.0.1:{dovecot.port} as {USER} with a password, and "
        f"opened the folder {folder!r}; it holds 2 messages.",
        "messages": 2,
    }
    flags = dovecot.flags(folder)
    assert "\\Seen" not in flags[first] and "\\Seen" not in flags[second]
    assert not InboundMessage.objects.exists()
    assert fresh(box).imap_last_uid == 0


@pytest.mark.django_db
def test_the_connection_check_reports_the_servers_refusal(dovecot, box, api, world):
    box.imap_password = "not the password"
    box.save()
    answer = api(world.manager).post(f"mail/mailboxes/{box.pk}/test-connection").json()
    assert answer["ok"] is False
    assert answer["message"].startswith("Could not log in:")
    assert "Authentication failed" in answer["message"]
    assert answer["messages"] is None


@pytest.mark.django_db
def test_the_connection_check_renews_an_oauth2_token_and_keeps_it(
    dovecot, folder, oauth_box, endpoint, api, world
):
    answer = api(world.manager).post(f"mail/mailboxes/{oauth_box.pk}/test-connection").json()
    assert answer["ok"] is True, answer
    assert "with an OAuth2 access token" in answer["message"]
    assert fresh(oauth_box).imap_oauth_token == "at-1"
    assert len(endpoint.requests) == 1


@pytest.mark.django_db
def test_the_connection_check_waits_for_a_poll_in_progress(dovecot, box, api, world):
    with sweep_lock(imap.lock_name(box.pk), seconds=60):
        answer = api(world.manager).post(f"mail/mailboxes/{box.pk}/test-connection").json()
    assert answer == {
        "ok": False,
        "message": "The worker is polling this mailbox right now: try again in a minute.",
        "messages": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [("anonymous", 401), ("requester", 404), ("agent", 404), ("other_agent", 404)],
)
def test_only_the_desks_managers_check_a_connection(box, api, world, persona, status):
    user = None if persona == "anonymous" else getattr(world, persona)
    assert api(user).post(f"mail/mailboxes/{box.pk}/test-connection").status_code == status


@pytest.mark.django_db
def test_a_mailbox_without_an_imap_server_has_no_connection_to_check(world, api):
    plain = Mailbox.objects.create(desk=world.desk, address="pipe@acme.test")
    answer = api(world.manager).post(f"mail/mailboxes/{plain.pk}/test-connection")
    assert answer.status_code == 422
    assert answer.json()["details"] == {"field": "imap_host"}


@pytest.mark.django_db
def test_the_mail_test_command_says_which_mailboxes_work(dovecot, box, world):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = io.StringIO()
    call_command("mail", "test", stdout=out)
    assert out.getvalue().startswith(f"it@acme.test: ok. Logged in to 127.0.0.1:{dovecot.port}")

    Mailbox.objects.create(
        desk=world.other_desk,
        address="hr@acme.test",
        imap_host="127.0.0.1",
        imap_port=_free_port(),  # nothing listens there
        imap_security="none",
        imap_password="x",
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 mailbox"):
        call_command("mail", "test", stdout=out)
    assert "hr@acme.test: FAILED. Could not connect to 127.0.0.1:" in out.getvalue()


@pytest.mark.django_db
def test_the_admin_action_checks_the_connection(dovecot, box, world, client):
    client.force_login(world.superuser)
    page = client.post(
        "/admin/mail/mailbox/",
        {"action": "test_connection", "_selected_action": [box.pk]},
        follow=True,
    )
    assert page.status_code == 200
    assert f"Mailbox it@acme.test: Logged in to 127.0.0.1:{dovecot.port}" in page.content.decode()
