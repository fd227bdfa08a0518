"""How a mailbox is polled: its IMAP server, credentials and OAuth2 settings, and the rules
they follow. ``configure_imap`` is the one door for changing them (validated by
``connection_problems``, audited); ``imap_settings_problems`` says what it would refuse,
changing nothing, for a form to show on its fields."""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

from django.db import transaction

from comptoir.accounts.permissions import is_manager_on
from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.mail import oauth
from comptoir.mail.models import Mailbox

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
#: Characters no setting may hold (a line break would end an IMAP command).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def plaintext_allowed(host: str) -> bool:
    """An unencrypted IMAP connection is only made to this machine."""
    return host.strip().lower() in LOOPBACK


#: What ``configure_imap`` changes; the rest of a mailbox goes through ``services.update_mailbox``.
#: The OAuth2 settings. A change to one of them makes the stored access token worthless: it is
#: dropped and renewed.
RENEWAL_FIELDS = (
    "oauth_provider",
    "oauth_tenant",
    "oauth_token_url",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_refresh_token",
    "oauth_scope",
)
CONNECTION_FIELDS = (
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_username",
    "imap_password",
    "imap_oauth_token",
    "imap_folder",
    "imap_after",
    *RENEWAL_FIELDS,
)
#: Write-only: never shown back, never in the audit log (``core.audit.SECRETS``).
SECRET_FIELDS = ("imap_password", "imap_oauth_token", "oauth_client_secret", "oauth_refresh_token")
_KEPT_AS_TYPED = ("imap_password", "imap_folder")  # a space at either end may be meant
DEFAULT_PORTS: dict[str, int] = {
    Mailbox.ImapSecurity.SSL: 993,
    Mailbox.ImapSecurity.STARTTLS: 143,
    Mailbox.ImapSecurity.NONE: 143,
}
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def host_problem(host: str) -> str:
    """Why ``host`` is not a server name or address ("" when it is one)."""
    try:
        ipaddress.ip_address(host)
        return ""
    except ValueError:
        pass
    labels = host.split(".")
    if (
        len(host) > 253
        or not all(_HOST_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        return (
            "Give the server's host name (imap.example.com) or IP address, without a scheme or a "
            "port; a name in another script in its ASCII form (xn--…)."
        )
    return ""


def connection_problems(mailbox: Mailbox) -> dict[str, str]:
    """What is wrong with the mailbox's IMAP and OAuth2 settings, by field ({} when nothing)."""
    found: dict[str, str] = {}
    host = mailbox.imap_host.strip()
    if host and (problem := host_problem(host)):
        found["imap_host"] = problem
    port = mailbox.imap_port
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        found["imap_port"] = "A port is a number from 1 to 65535."
    if mailbox.imap_security not in Mailbox.ImapSecurity.values:
        found["imap_security"] = f"Choose one of {', '.join(Mailbox.ImapSecurity.values)}."
    elif (
        host and mailbox.imap_security == Mailbox.ImapSecurity.NONE and not plaintext_allowed(host)
    ):
        found["imap_security"] = (
            "An unencrypted connection is only allowed to 127.0.0.1 or localhost."
        )
    if mailbox.imap_after not in Mailbox.ImapAfter.values:
        found["imap_after"] = f"Choose one of {', '.join(Mailbox.ImapAfter.values)}."
    for name in ("imap_username", "imap_password", "imap_folder"):
        if CONTROL.search(getattr(mailbox, name)):
            found[name] = "Line breaks, tabs and other control characters are not allowed."
    if not mailbox.imap_folder.strip():
        found.setdefault("imap_folder", "Give the folder to poll (INBOX by default).")
    for name, problem in oauth.problems(mailbox).items():
        found.setdefault(name, problem)
    for name in CONNECTION_FIELDS:
        limit = getattr(Mailbox._meta.get_field(name), "max_length", None)
        value = getattr(mailbox, name)
        if limit and isinstance(value, str) and len(value) > limit:
            found.setdefault(name, f"At most {limit} characters.")
    return found


@transaction.atomic
def configure_imap(*, actor: Actor, mailbox: Mailbox, **values: Any) -> Mailbox:
    """Change how the mailbox is polled: its IMAP server and credentials, its OAuth2 settings.

    A setting left out (or ``None``) is kept; an empty secret forgets the stored one. Changing
    the security alone moves a default port (993, 143) to the new default. A change to the OAuth2
    settings drops the stored access token, so that the next poll (or ``check_connection``)
    renews it with the new ones. Refused with nothing changed when the result would not work.
    Audited; secrets are not in the audit entry, only the names of those that changed."""
    if not is_manager_on(actor, mailbox.desk_id):
        raise PermissionDenied("Only the desk's managers connect mailboxes.")
    unknown = sorted(set(values) - set(CONNECTION_FIELDS))
    if unknown:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, f"Unknown setting {unknown[0]!r}.", {"field": unknown[0]}
        )
    # The row as it is now, locked: a poll may have renewed the tokens since ``mailbox`` was read.
    box = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    before = snapshot(box)
    changed = _apply(box, values)
    problems = connection_problems(box)
    if problems:
        field, message = next(iter(problems.items()))
        raise DomainError(ErrorCode.VALIDATION_ERROR, message, {"field": field})
    if not changed:
        return box
    box.save()
    after = snapshot(box)
    secrets = sorted(changed & set(SECRET_FIELDS))
    if secrets:
        after["credentials_changed"] = secrets
    record_audit(actor=actor, action="update", obj=box, before=before, after=after)
    return box


def _apply(box: Mailbox, values: dict[str, Any]) -> set[str]:
    """Set ``values`` on ``box`` (not saved) as ``configure_imap`` does; the names changed."""
    old = {name: getattr(box, name) for name in CONNECTION_FIELDS}
    given = {name: value for name, value in values.items() if value is not None}
    for name, value in given.items():
        if isinstance(value, str) and name not in _KEPT_AS_TYPED:
            value = value.strip()
        setattr(box, name, value)
    if "imap_security" in given and "imap_port" not in given and box.imap_port in (993, 143):
        box.imap_port = DEFAULT_PORTS.get(box.imap_security, box.imap_port)
    if box.oauth_provider != Mailbox.OAuthProvider.MICROSOFT:
        box.oauth_tenant = ""
    if box.oauth_provider != Mailbox.OAuthProvider.OTHER:
        box.oauth_token_url = ""
    changed = {name for name in CONNECTION_FIELDS if getattr(box, name) != old[name]}
    if "imap_oauth_token" in changed:
        box.oauth_token_expires_at = None  # given by hand: used until the server refuses it
    elif changed & set(RENEWAL_FIELDS):
        box.imap_oauth_token, box.oauth_token_expires_at = "", None
        if old["imap_oauth_token"]:
            changed.add("imap_oauth_token")
    return changed


def imap_settings_problems(mailbox: Mailbox, values: dict[str, Any]) -> dict[str, str]:
    """What ``configure_imap`` would refuse in ``values`` for ``mailbox`` (a new one, unsaved,
    too), by field ({} when nothing): the same rules, nothing saved. For a form that shows the
    problems on their fields before it calls ``configure_imap``."""
    box = copy.copy(mailbox)
    unknown = sorted(set(values) - set(CONNECTION_FIELDS))
    if unknown:
        return {unknown[0]: f"Unknown setting {unknown[0]!r}."}
    _apply(box, values)
    return connection_problems(box)
