"""IMAP polling: a door into the intake pipeline for mailboxes at Microsoft 365, Google or any
IMAP server (``Mailbox.imap_host``), with the standard library's ``imaplib``.

Every minute the worker polls each active mailbox that has an IMAP server, one worker at a time
per mailbox. A poll takes the messages whose UID is above the last one taken, oldest first, and
for each: ``receive`` (stored and recorded), and only then marks it ``\\Seen`` (or deletes it)
on the server and remembers its UID. A message that could not be stored stays on the server
untouched and is fetched again at the next poll; a message taken twice (a crash between
``receive`` and the flag) is still one row and one ticket, by the pipeline's idempotency key.

When the folder's UIDVALIDITY changes (the folder was recreated, the account moved to another
server), the UIDs mean something else: the folder is read again from the start, and the
idempotency key keeps what was already received from opening a second ticket.

With an OAuth2 provider set, the access token XOAUTH2 logs in with is renewed before it runs out,
and once more when the server refuses it (``oauth.py``). ``configure_imap`` is the one door for
changing these settings (validated by ``connection_problems``, audited), and ``check_connection``
logs in without taking anything.
"""

from comptoir.mail.imap.polling import (
    TIMEOUT,
    ConnectionCheck,
    PollFailed,
    check_connection,
    lock_name,
    poll,
    poll_all,
    poll_locked,
    poll_mailboxes_task,
)
from comptoir.mail.imap.settings import (
    CONNECTION_FIELDS,
    DEFAULT_PORTS,
    LOOPBACK,
    RENEWAL_FIELDS,
    SECRET_FIELDS,
    configure_imap,
    connection_problems,
    host_problem,
    imap_settings_problems,
    plaintext_allowed,
)

__all__ = [
    "CONNECTION_FIELDS",
    "DEFAULT_PORTS",
    "LOOPBACK",
    "RENEWAL_FIELDS",
    "SECRET_FIELDS",
    "TIMEOUT",
    "ConnectionCheck",
    "PollFailed",
    "check_connection",
    "configure_imap",
    "connection_problems",
    "host_problem",
    "imap_settings_problems",
    "lock_name",
    "plaintext_allowed",
    "poll",
    "poll_all",
    "poll_locked",
    "poll_mailboxes_task",
]
