"""Files from outside: a safe display name, a content type read from the bytes, and the one way
they are served back (as a download)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import filetype
from django.http import FileResponse

MAX_NAME_LENGTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_RESERVED = re.compile(r'[<>:"|?*]')


def safe_display_name(name: str | None, fallback: str = "attachment") -> str:
    """The uploader's file name, reduced to a harmless display name.

    Path parts (``../../etc/passwd``, ``C:\\evil``) are dropped, control and bidirectional
    override characters removed, reserved characters replaced. It is only ever shown, never
    used as a path.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _CONTROL.sub("", text)
    text = _RESERVED.sub("_", text)
    text = " ".join(text.split()).strip(" .")
    if not text:
        return fallback
    if len(text) > MAX_NAME_LENGTH:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: MAX_NAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            text = text[:MAX_NAME_LENGTH]
    return text


def sniff_content_type(head: bytes) -> str:
    """The content type the bytes show, whatever the uploader claimed."""
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if not head:
        return "application/octet-stream"
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return "application/octet-stream"
    # Text, markup included: HTML or SVG is served as plain text so it never runs from our origin.
    return "text/plain"


def download_response(opened: Any, *, filename: str, content_type: str) -> FileResponse:
    """A stored file (opened for reading) as a download, never shown inline: its bytes came
    from outside."""
    response = FileResponse(
        opened, as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
