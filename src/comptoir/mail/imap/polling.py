"""Polling: log in (renewing the OAuth2 access token when it must, ``oauth.py``), take the new
messages oldest first, hand each to ``receive``, and only then flag or delete it on the server
and remember its UID. Also the periodic task, one worker at a time per mailbox, and
``check_connection``, which logs in without taking anything."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from comptoir.accounts.permissions import is_manager_on
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.core.locks import sweep_lock
from comptoir.mail import oauth
from comptoir.mail.imap.settings import CONTROL, plaintext_allowed
from comptoir.mail.models import Mailbox
from comptoir.mail.services import receive

logger = logging.getLogger(__name__)

TIMEOUT = 60  # seconds, to connect and for each answer of the server
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)", re.IGNORECASE)
_STATUS_UIDVALIDITY = re.compile(rb"\bUIDVALIDITY (\d+)", re.IGNORECASE)


class PollFailed(Exception):
    """A step of a poll failed; the message says why (it goes to ``Mailbox.last_error``)."""


def lock_name(mailbox_id: int) -> str:
    return f"imap-{mailbox_id}"


#: How long a mailbox's lock outlives a worker that died polling it (renewed while it lives).
LOCK_SECONDS = 60


@dataclass(frozen=True)
class ConnectionCheck:
    """How logging in to a mailbox's IMAP server went."""

    ok: bool
    message: str
    messages: int | None = None  # in the folder, when it could be opened


def check_connection(*, actor: Actor, mailbox: Mailbox) -> ConnectionCheck:
    """Log in to the mailbox's IMAP server and open its folder read-only, as a poll would, and
    say how it went, in the words of the server. No message is taken, read or flagged; an OAuth2
    access token that had to be renewed is stored, as a poll would store it."""
    if not is_manager_on(actor, mailbox.desk_id):
        raise PermissionDenied("Only the desk's managers connect mailboxes.")
    if not mailbox.imap_host.strip():
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "This mailbox has no IMAP server to connect to.",
            {"field": "imap_host"},
        )
    with sweep_lock(lock_name(mailbox.pk), seconds=LOCK_SECONDS) as held:
        if not held:  # never two renewals of one token at once
            return ConnectionCheck(
                False, "The worker is polling this mailbox right now: try again in a minute."
            )
        mailbox.refresh_from_db()
        return _check(mailbox)


def _check(mailbox: Mailbox) -> ConnectionCheck:
    step = _Step()
    client: imaplib.IMAP4 | None = None
    try:
        client = _open(mailbox, step)
        folder = mailbox.imap_folder or "INBOX"
        step.now = f"open the folder {folder!r}"
        typ, data = client.select(_quoted(_imap_utf7(folder)), readonly=True)
        if typ != "OK":
            raise PollFailed(_describe(data))
        count = int(data[0]) if data and isinstance(data[0], bytes) and data[0].isdigit() else None
    except (PollFailed, oauth.RefreshFailed, imaplib.IMAP4.error, OSError) as exc:
        return ConnectionCheck(False, f"Could not {step.now}: {_describe(exc)}")
    finally:
        if client is not None:
            _log_out(client)
    user = mailbox.imap_username.strip() or mailbox.address
    how = "an OAuth2 access token" if mailbox.imap_oauth_token.strip() else "a password"
    held = "" if count is None else f"; it holds {count} message{'' if count == 1 else 's'}"
    return ConnectionCheck(
        True,
        f"Logged in to {mailbox.imap_host.strip()}:{mailbox.imap_port} as {user} with {how}, "
        f"and opened the folder {folder!r}{held}.",
        count,
    )


# --- the periodic task ----------------------------------------------------------------------


@db_periodic_task(crontab(minute="*"))
def poll_mailboxes_task() -> None:
    """Every minute: poll every active mailbox that has an IMAP server."""
    taken = poll_all()
    if taken:
        logger.info("IMAP: %d messages taken", taken)


def poll_all() -> int:
    """Poll every active mailbox with an IMAP server; a failure of one never stops the others."""
    boxes = Mailbox.objects.filter(is_active=True).exclude(imap_host="").order_by("pk")
    total = 0
    for box in boxes:
        try:
            total += poll_locked(box) or 0
        except Exception:  # the database went away, …: logged, the next minute tries again
            logger.exception("IMAP %s: the poll failed", box)
    return total


def poll_locked(mailbox: Mailbox, *, batch: int = 50) -> int | None:
    """``poll`` under the mailbox's lock, so that two workers never poll it at once. ``None``
    when another worker is polling it right now."""
    with sweep_lock(lock_name(mailbox.pk), seconds=LOCK_SECONDS) as held:
        if not held:
            logger.info("IMAP %s: being polled by another worker", mailbox)
            return None
        mailbox.refresh_from_db()  # the last UID another worker took
        return poll(mailbox, batch=batch)


# --- one poll -------------------------------------------------------------------------------


def poll(mailbox: Mailbox, *, batch: int = 50) -> int:
    """Take up to ``batch`` new messages of the mailbox's IMAP folder into the pipeline; returns
    how many were received. Raises nothing because of the server: what went wrong is written to
    ``mailbox.last_error`` and the log ("" after a poll without trouble)."""
    if not mailbox.imap_host:
        return 0
    taken = 0
    problems: list[str] = []
    step = _Step()
    client: imaplib.IMAP4 | None = None
    try:
        client = _open(mailbox, step)
        capabilities = _capabilities(client)
        step.now = f"open the folder {mailbox.imap_folder!r}"
        last_uid = _select(client, mailbox)
        step.now = "list the new messages"
        uids = _new_uids(client, last_uid, batch)
        sizes = _sizes(client, uids)
        for uid in uids:
            step.now = f"take the message UID {uid}"
            size = sizes.get(uid, 0)
            if size > settings.COMPTOIR_MAIL_MAX_BYTES:
                problems.append(
                    f"UID {uid} ({size} bytes) is larger than COMPTOIR_MAIL_MAX_BYTES: "
                    "left on the server."
                )
                _remember(mailbox, uid)
                continue
            raw = _fetch(client, uid)
            if raw is None:  # expunged by someone else meanwhile
                _remember(mailbox, uid)
                continue
            try:
                receive(raw, mailbox=mailbox, source="imap")
            except Exception as exc:  # not stored, or not recorded: leave it, fetch it again
                logger.warning("IMAP %s: UID %s not received", mailbox, uid, exc_info=True)
                problems.append(f"UID {uid} left on the server, to be fetched again: {exc}")
                break
            taken += 1
            step.now = f"mark the message UID {uid} as taken"
            _done_with(client, uid, mailbox.imap_after, uidplus="UIDPLUS" in capabilities)
            _remember(mailbox, uid)
    except (PollFailed, oauth.RefreshFailed, imaplib.IMAP4.error, OSError) as exc:
        problems.append(f"Could not {step.now}: {_describe(exc)}")
    finally:
        if client is not None:
            _log_out(client)
    error = " ".join(problems)
    if error:
        logger.warning("IMAP %s: %s", mailbox, error)
    now = timezone.now()
    Mailbox.objects.filter(pk=mailbox.pk).update(last_error=error, last_polled_at=now)
    mailbox.last_error, mailbox.last_polled_at = error, now
    return taken


class _Step:
    """What a poll is doing, for the error message: "Could not <step>: <why>"."""

    def __init__(self) -> None:
        self.now = "start"


def _open(mailbox: Mailbox, step: _Step) -> imaplib.IMAP4:
    """Connect and log in. With an OAuth2 provider, the access token is renewed first when it
    runs out within five minutes, and once more when the server refuses it."""
    renewed = False
    if oauth.due(mailbox):
        step.now = "renew the OAuth2 access token"
        oauth.refresh(mailbox)
        renewed = True
    step.now = f"connect to {mailbox.imap_host.strip()}:{mailbox.imap_port}"
    client = _connect(mailbox)
    step.now = "log in"
    try:
        _log_in(client, mailbox)
        return client
    except imaplib.IMAP4.error:
        _log_out(client)
        if renewed or not oauth.configured(mailbox):
            raise
    except BaseException:
        _log_out(client)
        raise
    logger.info("IMAP %s: the server refused the access token; renewing it", mailbox)
    step.now = "renew the OAuth2 access token the server refused"
    oauth.refresh(mailbox)
    step.now = f"connect to {mailbox.imap_host.strip()}:{mailbox.imap_port}"
    client = _connect(mailbox)
    step.now = "log in with the renewed OAuth2 access token"
    try:
        _log_in(client, mailbox)
    except BaseException:
        _log_out(client)
        raise
    return client


def _connect(mailbox: Mailbox) -> imaplib.IMAP4:
    host, port = mailbox.imap_host.strip(), mailbox.imap_port
    if mailbox.imap_security == Mailbox.ImapSecurity.SSL:
        return imaplib.IMAP4_SSL(
            host, port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT
        )
    if mailbox.imap_security == Mailbox.ImapSecurity.STARTTLS:
        client = imaplib.IMAP4(host, port, timeout=TIMEOUT)
        try:
            client.starttls(ssl_context=ssl.create_default_context())
        except BaseException:
            client.shutdown()
            raise
        return client
    if not plaintext_allowed(host):
        raise PollFailed("an unencrypted connection is only allowed to 127.0.0.1 or localhost.")
    return imaplib.IMAP4(host, port, timeout=TIMEOUT)


def _log_in(client: imaplib.IMAP4, mailbox: Mailbox) -> None:
    user = mailbox.imap_username.strip() or mailbox.address
    token = mailbox.imap_oauth_token.strip()
    password = mailbox.imap_password
    if CONTROL.search(user) or CONTROL.search(password):
        raise PollFailed("the user name or password holds control characters.")
    if token:
        if not oauth.is_token(token):
            raise PollFailed("the OAuth2 access token holds characters a token cannot have.")

        def xoauth2(challenge: bytes) -> bytes:
            # A refused token comes back as a challenge holding the server's reason: the empty
            # answer ends the exchange, and the server says NO.
            return b"" if challenge else f"user={user}\x01auth=Bearer {token}\x01\x01".encode()

        client.authenticate("XOAUTH2", xoauth2)
    elif not password:
        raise PollFailed("the mailbox has neither an IMAP password nor an OAuth2 token.")
    elif user.isascii() and password.isascii():
        client.login(user, password)
    else:  # LOGIN is ASCII only; AUTHENTICATE PLAIN carries UTF-8

        def plain(challenge: bytes) -> bytes:
            return b"" if challenge else f"\0{user}\0{password}".encode()

        client.authenticate("PLAIN", plain)


def _capabilities(client: imaplib.IMAP4) -> set[str]:
    """The capabilities after logging in (servers announce more than before)."""
    typ, data = client.capability()
    if typ != "OK" or not data or not isinstance(data[0], bytes):
        return set(client.capabilities)
    return set(data[0].decode("ascii", "replace").upper().split())


def _select(client: imaplib.IMAP4, mailbox: Mailbox) -> int:
    """Open the folder; returns the last UID taken (0 again when UIDVALIDITY changed)."""
    folder = _quoted(_imap_utf7(mailbox.imap_folder or "INBOX"))
    typ, data = client.select(folder)
    if typ != "OK":
        raise PollFailed(_describe(data))
    validity = _uidvalidity(client, folder)
    if validity != mailbox.imap_uidvalidity:
        if mailbox.imap_uidvalidity is not None:
            logger.warning(
                "IMAP %s: UIDVALIDITY changed from %s to %s, reading the folder again",
                mailbox,
                mailbox.imap_uidvalidity,
                validity,
            )
        mailbox.imap_uidvalidity, mailbox.imap_last_uid = validity, 0
        Mailbox.objects.filter(pk=mailbox.pk).update(imap_uidvalidity=validity, imap_last_uid=0)
    return mailbox.imap_last_uid


def _uidvalidity(client: imaplib.IMAP4, folder: str) -> int:
    _, data = client.response("UIDVALIDITY")  # from SELECT's answer
    if data and data[0]:
        return int(data[0])
    typ, data = client.status(folder, "(UIDVALIDITY)")
    found = _STATUS_UIDVALIDITY.search(data[0]) if typ == "OK" and data and data[0] else None
    if found is None:
        raise PollFailed("the server gave no UIDVALIDITY.")
    return int(found.group(1))


def _new_uids(client: imaplib.IMAP4, last_uid: int, batch: int) -> list[int]:
    typ, data = client.uid("SEARCH", f"UID {last_uid + 1}:*")
    if typ != "OK":
        raise PollFailed(_describe(data))
    found = b" ".join(item for item in data if isinstance(item, bytes)).split()
    # "n:*" always matches the newest message, even when n is past it: skip what was taken.
    return sorted(uid for uid in {int(n) for n in found} if uid > last_uid)[:batch]


def _sizes(client: imaplib.IMAP4, uids: list[int]) -> dict[int, int]:
    if not uids:
        return {}
    typ, data = client.uid("FETCH", ",".join(map(str, uids)), "(RFC822.SIZE)")
    if typ != "OK":
        raise PollFailed(_describe(data))
    sizes = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        if not isinstance(line, bytes):
            continue
        uid, size = _UID.search(line), _SIZE.search(line)
        if uid and size:
            sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes | None:
    """The message's bytes as stored on the server; PEEK leaves it unread until it is taken."""
    typ, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if typ != "OK":
        raise PollFailed(_describe(data))
    for item in data:
        if isinstance(item, tuple) and b"BODY[]" in item[0].upper():
            return bytes(item[1])
    return None


def _done_with(client: imaplib.IMAP4, uid: int, after: str, *, uidplus: bool) -> None:
    if after == Mailbox.ImapAfter.DELETE:
        _ok(client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"))
        # UID EXPUNGE removes this message only; a bare EXPUNGE also removes any other message
        # someone marked deleted in the folder.
        _ok(client.uid("EXPUNGE", str(uid)) if uidplus else client.expunge())
    else:
        _ok(client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)"))


def _remember(mailbox: Mailbox, uid: int) -> None:
    mailbox.imap_last_uid = uid
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_last_uid=uid)


def _log_out(client: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        client.logout()


def _ok(answer: tuple[str, list]) -> None:
    typ, data = answer
    if typ != "OK":
        raise PollFailed(_describe(data))


def _describe(value: object) -> str:
    """A server's answer or an error as one readable line."""
    if isinstance(value, BaseException) and value.args:
        value = value.args[0] if len(value.args) == 1 else value.args
    if isinstance(value, list | tuple):
        value = b" ".join(v for v in value if isinstance(v, bytes)) or " ".join(map(str, value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = "".join(char if char.isprintable() else " " for char in str(value))  # no escapes
    text = " ".join(text.split())
    return (text if len(text) <= 1000 else text[:999] + "…") or "no answer"


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501, 5.1.3): ``Entwürfe`` →
    ``Entw&APw-rfe``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be"))
            out.append("&" + encoded.rstrip(b"=").replace(b"/", b",").decode("ascii") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)
