"""OAuth2 for IMAP mailboxes (Microsoft 365, Google, or another provider): the access token that
XOAUTH2 logs in with, renewed by Comptoir itself before it runs out.

An access token lives about an hour. With an OAuth2 provider set on the mailbox, a poll renews
the token when it runs out within five minutes, or when the IMAP server refuses it (once per
poll): with the refresh token the administrator stored (the refresh-token grant, RFC 6749
section 6), or, without one, with the client's own credentials (section 4.4, Microsoft 365
application access). The new access token, its expiry and any new refresh token the provider
hands out (rotation) are stored on the mailbox.

A refusal says what to do: ``invalid_grant`` means the refresh token is dead (revoked, expired,
the password changed) and someone must sign in and consent again. Secrets never leave this module
but in the request to the token endpoint: not in the log, not in an error message.

Renewals happen under the mailbox's polling lock (``imap.poll_locked``, ``imap.check_connection``),
so that two workers never spend the same refresh token at once.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.client import HTTPException
from typing import Any

from django.utils import timezone

from comptoir.mail.models import Mailbox

logger = logging.getLogger(__name__)

TIMEOUT = 30  # seconds, for the whole exchange with the token endpoint
RENEW_BEFORE = timedelta(minutes=5)
MAX_ANSWER = 64 * 1024  # bytes; a token answer is a few kilobytes
MAX_TOKEN = 16 * 1024  # characters
MAX_LIFETIME = timedelta(days=366)

MICROSOFT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"  # noqa: S105
MICROSOFT_DEFAULT_TENANT = "organizations"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address)
#: What a refresh asks for when the mailbox names no scope (Google keeps the consented ones).
MICROSOFT_DELEGATED_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
MICROSOFT_APP_SCOPE = "https://outlook.office365.com/.default"

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$")
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class RefreshFailed(Exception):
    """The access token could not be renewed; the message says why, and what to do."""

    def __init__(self, message: str, *, error: str = "") -> None:
        super().__init__(message)
        self.error = error  # the provider's OAuth2 error code, if it gave one


@dataclass(frozen=True)
class Grant:
    """What a renewal will send: the token endpoint and the form (secrets included)."""

    url: str
    form: dict[str, str]


# --- settings -----------------------------------------------------------------------------------


def configured(mailbox: Mailbox) -> bool:
    """Comptoir renews this mailbox's access token itself."""
    return bool(mailbox.oauth_provider)


def token_url(mailbox: Mailbox) -> str:
    """The provider's token endpoint: Microsoft 365's for the mailbox's tenant, Google's, or the
    one given for another provider."""
    provider = mailbox.oauth_provider
    if provider == Mailbox.OAuthProvider.MICROSOFT:
        tenant = mailbox.oauth_tenant.strip() or MICROSOFT_DEFAULT_TENANT
        return MICROSOFT_TOKEN_URL.format(tenant=tenant)
    if provider == Mailbox.OAuthProvider.GOOGLE:
        return GOOGLE_TOKEN_URL
    return mailbox.oauth_token_url.strip()


def problems(mailbox: Mailbox) -> dict[str, str]:
    """What is wrong with the mailbox's OAuth2 settings, by field ({} when nothing is)."""
    found: dict[str, str] = {}
    for name in ("imap_oauth_token", "oauth_refresh_token", "oauth_client_secret"):
        value = getattr(mailbox, name)
        if value and not is_token(value):
            found[name] = "A token or secret is one word of printable ASCII characters."
    for name in ("oauth_client_id", "oauth_scope"):
        value = getattr(mailbox, name)
        if value and not all(" " <= char <= "~" for char in value):
            found[name] = "Only printable ASCII characters are allowed."
    provider = mailbox.oauth_provider
    if provider not in Mailbox.OAuthProvider.values:
        found["oauth_provider"] = f"Choose one of {', '.join(Mailbox.OAuthProvider.values[1:])}."
        return found
    if not provider:
        return found
    if mailbox.oauth_tenant and not _TENANT.match(mailbox.oauth_tenant.strip()):
        found["oauth_tenant"] = (
            "The tenant is a directory ID (a GUID) or one of its domains, e.g. example.com."
        )
    if provider == Mailbox.OAuthProvider.OTHER:
        problem = url_problem(mailbox.oauth_token_url.strip())
        if problem:
            found["oauth_token_url"] = problem
    if not mailbox.oauth_client_id.strip():
        found["oauth_client_id"] = "The application's client ID is needed to renew tokens."
    missing = ""
    if not mailbox.oauth_refresh_token:
        if provider == Mailbox.OAuthProvider.GOOGLE:
            missing = "Google renews access tokens with a refresh token only: store one."
        elif not mailbox.oauth_client_secret:
            missing = "Store a refresh token, or, for application access, a client secret."
    if missing:
        found["oauth_refresh_token"] = missing
    return found


def url_problem(url: str) -> str:
    """Why a token endpoint cannot be used ("" when it can): HTTPS, or HTTP to this machine."""
    if not url:
        return "Give the provider's token endpoint."
    if len(url) > 500 or not all("!" <= char <= "~" for char in url):
        return "The token endpoint is not a valid address."
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return "The token endpoint is not a valid address."
    if not host:
        return "The token endpoint has no host."
    if parts.username is not None or parts.password is not None:
        return "The token endpoint must not carry a user name or password."
    if parts.scheme == "https":
        return ""
    if parts.scheme == "http" and host.lower() in _LOOPBACK:
        return ""
    return "The token endpoint must be https:// (http:// only to 127.0.0.1 or localhost)."


def is_token(value: str) -> bool:
    """A token or secret as providers issue them: one word of printable ASCII, of sane length.
    Anything else could break the XOAUTH2 string (``\\x01``) or a form."""
    return 0 < len(value) <= MAX_TOKEN and all("!" <= char <= "~" for char in value)


def due(mailbox: Mailbox, *, now: datetime | None = None) -> bool:
    """The access token must be renewed before logging in: there is none, or it runs out within
    five minutes. A token of unknown lifetime is used until the server refuses it."""
    if not configured(mailbox):
        return False
    if not mailbox.imap_oauth_token:
        return True
    expires = mailbox.oauth_token_expires_at
    return expires is not None and expires - RENEW_BEFORE <= (now or timezone.now())


def grant(mailbox: Mailbox) -> Grant:
    """The request a renewal sends: the refresh-token grant when there is a refresh token, else
    the client-credentials grant."""
    provider = mailbox.oauth_provider
    # A malformed access token does not stop its renewal: the renewal replaces it.
    found = {k: v for k, v in problems(mailbox).items() if k != "imap_oauth_token"}
    if not provider or found:
        raise RefreshFailed(
            next(iter(found.values()), "The mailbox has no OAuth2 provider.")
            + " Fix the mailbox's OAuth2 settings."
        )
    form = {"client_id": mailbox.oauth_client_id.strip()}
    if mailbox.oauth_client_secret:
        form["client_secret"] = mailbox.oauth_client_secret
    scope = " ".join(mailbox.oauth_scope.split())
    if mailbox.oauth_refresh_token:
        form["grant_type"] = "refresh_token"
        form["refresh_token"] = mailbox.oauth_refresh_token
        if not scope and provider == Mailbox.OAuthProvider.MICROSOFT:
            scope = MICROSOFT_DELEGATED_SCOPE
    else:
        form["grant_type"] = "client_credentials"
        if not scope and provider == Mailbox.OAuthProvider.MICROSOFT:
            scope = MICROSOFT_APP_SCOPE
    if scope:
        form["scope"] = scope
    return Grant(token_url(mailbox), form)


# --- renewing -----------------------------------------------------------------------------------


def refresh(mailbox: Mailbox) -> str:
    """Renew the mailbox's access token now; store it, its expiry and any new refresh token on
    the mailbox (the row and the object), and return it. Raises ``RefreshFailed`` with a message
    for the administrator; nothing is stored then."""
    request = grant(mailbox)
    secrets = [v for k, v in request.form.items() if k in ("client_secret", "refresh_token")]
    before = mailbox.oauth_refresh_token
    started = timezone.now()
    status, body = _post(request, secrets)
    answer = _json(body)
    if status != 200:
        raise _refusal(status, answer, secrets)
    token, lifetime, rotated = _token(answer, secrets)
    expires_at = started + lifetime if lifetime is not None else None
    refresh_token = rotated or before
    # Written only if the settings it was made from are still those of the mailbox: a refresh
    # token an administrator stored meanwhile is not overwritten by the old one's successor.
    updated = Mailbox.objects.filter(
        pk=mailbox.pk,
        oauth_provider=mailbox.oauth_provider,
        oauth_client_id=mailbox.oauth_client_id,
        oauth_refresh_token=before,
    ).update(
        imap_oauth_token=token,
        oauth_token_expires_at=expires_at,
        oauth_refresh_token=refresh_token,
    )
    if not updated:
        raise RefreshFailed(
            "The mailbox's OAuth2 settings changed while the token was being renewed: "
            "the next poll uses the new ones."
        )
    mailbox.imap_oauth_token = token
    mailbox.oauth_token_expires_at = expires_at
    mailbox.oauth_refresh_token = refresh_token
    logger.info(
        "OAuth2 %s: access token renewed (%s), valid until %s%s",
        mailbox,
        request.form["grant_type"],
        expires_at.isoformat() if expires_at else "it is refused",
        "; the provider rotated the refresh token" if rotated and rotated != before else "",
    )
    return token


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A token endpoint answers; it does not send the secrets on elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx as an HTTPError


def _post(request: Grant, secrets: list[str]) -> tuple[int, bytes]:
    """POST the form; (HTTP status, at most MAX_ANSWER + 1 bytes of the answer)."""
    host = (urllib.parse.urlsplit(request.url).hostname or "").lower()
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if host in _LOOPBACK:  # never through a proxy
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    data = urllib.parse.urlencode(request.form).encode("ascii")
    http_request = urllib.request.Request(  # noqa: S310 (https, or http to loopback: url_problem)
        request.url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": "Comptoir",
        },
    )
    deadline = time.monotonic() + TIMEOUT
    try:
        try:
            response = opener.open(http_request, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:  # 4xx, 5xx and 3xx: the answer is in the error
            if exc.fp is None:
                return exc.code, b""
            response = exc
        with response:
            return response.status or 0, _read(response, deadline)
    except TimeoutError as exc:
        raise _timeout() from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timeout() from exc
        raise RefreshFailed(
            f"Could not reach the token endpoint {request.url}: {_clean(exc.reason, secrets)}"
        ) from exc
    except (OSError, HTTPException) as exc:
        raise RefreshFailed(
            f"The token endpoint {request.url} broke off the exchange: "
            f"{_clean(exc, secrets) or type(exc).__name__}"
        ) from exc


def _read(response: Any, deadline: float) -> bytes:
    """Up to MAX_ANSWER + 1 bytes, within the deadline even from a server that trickles."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_ANSWER:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = response.read1(8192)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _timeout() -> RefreshFailed:
    return RefreshFailed(f"The token endpoint did not answer within {TIMEOUT} seconds.")


def _json(body: bytes) -> dict[str, Any] | None:
    """The answer as a JSON object, or None when it is not one (or too large to be one)."""
    if len(body) > MAX_ANSWER:
        return None
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return answer if isinstance(answer, dict) else None


def _refusal(status: int, answer: dict[str, Any] | None, secrets: list[str]) -> RefreshFailed:
    error = answer.get("error") if answer else None
    if not isinstance(error, str) or not error.strip():
        return RefreshFailed(
            f"The token endpoint answered HTTP {status} without an OAuth2 error; "
            "check the provider's settings (and its status page)."
        )
    code = _clean(error, secrets, limit=60)
    description = answer.get("error_description") if answer else None
    said = f"{code}: {_clean(description, secrets)}" if isinstance(description, str) else code
    if code == "invalid_grant":
        message = (
            f"The provider refused the refresh token ({said}). It was revoked or has expired: "
            "sign in to the provider again to consent, and store the new refresh token on the "
            "mailbox."
        )
    elif code == "invalid_client":
        message = (
            f"The provider refused the client ID or secret ({said}): check them, or create a "
            "new client secret."
        )
    else:
        message = f"The provider refused to renew the access token ({said})."
    return RefreshFailed(message, error=code)


def _token(answer: dict[str, Any] | None, secrets: list[str]) -> tuple[str, timedelta | None, str]:
    """(access token, lifetime or None when not given, new refresh token or "")."""
    if answer is None:
        raise RefreshFailed("The token endpoint's answer is not a JSON object.")
    token = answer.get("access_token")
    if not isinstance(token, str) or not is_token(token):
        raise RefreshFailed("The token endpoint's answer holds no usable access token.")
    kind = answer.get("token_type", "Bearer")
    if not isinstance(kind, str) or kind.lower() != "bearer":
        raise RefreshFailed(
            f"The token endpoint gave a token of type {_clean(kind, secrets, limit=40)!r}, "
            "not a bearer token."
        )
    lifetime = _lifetime(answer.get("expires_in"))
    rotated = answer.get("refresh_token", "")
    if rotated and (not isinstance(rotated, str) or not is_token(rotated)):
        raise RefreshFailed("The token endpoint's answer holds an unusable refresh token.")
    return token, lifetime, rotated


def _lifetime(value: object) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():  # some providers send a string
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise RefreshFailed("The token endpoint's answer has an unreadable expires_in.")
    if value < 0 or value > MAX_LIFETIME.total_seconds():
        raise RefreshFailed(f"The token endpoint's answer has an impossible expires_in ({value}).")
    return timedelta(seconds=int(value))


def _clean(value: object, secrets: Sequence[str] = (), *, limit: int = 300) -> str:
    """A provider's words as one printable line, without any of our secrets in it."""
    text = value if isinstance(value, str) else str(value)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret]")
    text = "".join(char if char.isprintable() else " " for char in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
