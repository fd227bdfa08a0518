"""Mail from outside, read: the bytes of one message turned into a :class:`ParsedMessage`.

A pure function of its input: no Django, no database, no network. Everything in a mail is
written by a stranger, so nothing here trusts it. The size is checked before parsing, the MIME
walk stops after :data:`MAX_PARTS` parts, every header value comes out on one line, every text
is decoded whatever charset was (or was not) declared, and what was odd is noted in
``defects`` instead of raised. The HTML body is returned raw: whoever shows it sanitises it
(``comptoir.core.text.sanitize_html``).

Large attachments are not held in memory twice over. A base64 body of a few kilobytes or more
is set apart from the bytes before the standard library parser sees them: the parser reads the
message's structure with a short placeholder in its place, and the attachment is decoded from
the original bytes only when it is read (:meth:`ParsedAttachment.open`), a chunk at a time. The
placeholder is used only when the parser's reading of the structure is provably the same as it
would have been with the body in place; otherwise the whole message is parsed as it is.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.headerregistry
import email.policy
import email.utils
import importlib
import io
import mimetypes
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from html.parser import HTMLParser
from types import ModuleType
from urllib.parse import unquote

from comptoir.core.files import safe_display_name

MAX_MESSAGE_BYTES = 50 * 1024 * 1024
MAX_PARTS = 500

# The standard library parser recurses once per nested multipart or message: past about a
# thousand levels it fails, and long before that it is slow. No real mail nests this deep.
_MAX_CONTAINERS = 100
# A forwarded message inside a forwarded message...: past this depth it is only attached.
_MAX_FORWARD_DEPTH = 8

FORWARDED_MARKER = "---------- Forwarded message ----------"


class _Registry(email.headerregistry.HeaderRegistry):
    """The standard header classes, each made once (the standard registry makes a new class on
    every lookup)."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(key)
        return made


class _RememberingPolicy(email.policy.EmailPolicy):
    """``email.policy.default``, remembering the header values it parsed while one message is
    read.

    The standard library parses a structured header (``Content-Type``...) again on every read,
    and reads the same ones many times per part: a parse is a pure function of the name and the
    raw value, so the result is kept until ``parse_message`` returns.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        table = _PARSED_HEADERS.get()
        if (
            table is None
            or not isinstance(value, str)
            or hasattr(value, "name")
            or len(value) > _PARSED_HEADER_LENGTH
        ):
            return super().header_fetch_parse(name, value)
        key = (name, value)
        parsed = table.get(key)
        if parsed is None:
            parsed = super().header_fetch_parse(name, value)
            if len(table) < _PARSED_HEADERS_LIMIT:
                table[key] = parsed
        return parsed


#: The header values parsed so far while reading the current message.
_PARSED_HEADERS: ContextVar[dict[tuple[str, str], str] | None] = ContextVar(
    "parsed_headers", default=None
)
_PARSED_HEADERS_LIMIT = 1000  # values kept per message
_PARSED_HEADER_LENGTH = 1000  # longer values are parsed each time, not kept
_POLICY = _RememberingPolicy(header_factory=_Registry())
# Re-serialising a forwarded message keeps its header lines as they came.
_SERIALISE_POLICY = email.policy.default.clone(refold_source="none")

# Headers that say "this is a mail". A file with none of them is not one.
_MAIL_HEADERS = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "received",
        "return-path",
        "delivered-to",
        "mime-version",
        "content-type",
        "reply-to",
        "in-reply-to",
        "references",
    }
)


def _load_tnefparse() -> ModuleType | None:
    """``tnefparse`` unpacks Outlook's ``winmail.dat``; without it the file is kept as it is."""
    try:
        return importlib.import_module("tnefparse")
    except ImportError:
        return None


_tnefparse = _load_tnefparse()


class MessageTooLarge(ValueError):
    """The message is over the size limit; it was not parsed."""


class UnreadableMessage(ValueError):
    """The bytes are empty or are not a mail at all."""


@dataclass(frozen=True)
class Address:
    email: str
    name: str


# --------------------------------------------------------------------------------------------
# Attachment bodies, read when needed

# Encoded bytes decoded at a time: what a large attachment costs in memory while it is read.
_CHUNK = 64 * 1024


class _Body:
    """The bytes of an attachment, to be read whole (:meth:`read`) or as a stream (:meth:`open`)."""

    size: int

    def chunks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def open(self) -> io.RawIOBase:
        return _ChunkReader(self.chunks, self.size)

    def read(self) -> bytes:
        return b"".join(self.chunks())


class _InMemory(_Body):
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def chunks(self) -> Iterator[bytes]:
        if self.data:
            yield self.data

    def open(self) -> io.RawIOBase:
        return io.BytesIO(self.data)  # type: ignore[return-value]

    def read(self) -> bytes:
        return self.data


class _Base64Span(_Body):
    """A base64 body inside the message's bytes, checked canonical when parsed, decoded a chunk
    at a time when read."""

    def __init__(self, source: bytes, start: int, end: int, size: int) -> None:
        self.source, self.start, self.end, self.size = source, start, end, size

    def chunks(self) -> Iterator[bytes]:
        carry = b""
        position = self.start
        while position < self.end:
            stop = min(position + _CHUNK, self.end)
            piece = carry + self.source[position:stop].translate(None, b"\r\n")
            position = stop
            usable = len(piece) - len(piece) % 4 if position < self.end else len(piece)
            carry = piece[usable:]
            if usable:
                decoded = binascii.a2b_base64(piece[:usable])
                if decoded:
                    yield decoded


class _SourceLines(_Body):
    """A span of the message's bytes as the serialiser writes it: every line ending as LF."""

    def __init__(self, source: bytes, start: int, end: int) -> None:
        self.source, self.start, self.end = source, start, end
        self.size = (end - start) - source.count(b"\r\n", start, end)

    def chunks(self) -> Iterator[bytes]:
        position = self.start
        while position < self.end:
            stop = min(position + _CHUNK, self.end)
            if stop < self.end and self.source[stop - 1] == 0x0D:
                stop -= 1  # keep a CR with the LF that may follow it
            if stop == position:
                stop += 1
            piece = self.source[position:stop].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            position = stop
            if piece:
                yield piece


class _Spliced(_Body):
    """Pieces one after the other: a forwarded message serialised, its large bodies put back."""

    def __init__(self, pieces: list[_Body]) -> None:
        self.pieces = pieces
        self.size = sum(piece.size for piece in pieces)

    def chunks(self) -> Iterator[bytes]:
        for piece in self.pieces:
            yield from piece.chunks()


class _ChunkReader(io.RawIOBase):
    """A read-only, seekable file over chunks made again from the start on a rewind."""

    def __init__(self, make: Callable[[], Iterator[bytes]], size: int) -> None:
        super().__init__()
        self._make = make
        self._size = size
        self._rewind()

    def _rewind(self) -> None:
        self._chunks = self._make()
        self._buffer = memoryview(b"")
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        target += offset
        if target < 0:
            raise ValueError("negative seek position")
        if target < self._position:
            self._rewind()
        while self._position < target and self._fill():
            step = min(target - self._position, len(self._buffer))
            self._buffer = self._buffer[step:]
            self._position += step
        return self._position

    def _fill(self) -> bool:
        """Something in the buffer, unless the body is read to its end."""
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            self._buffer = memoryview(chunk)
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(target) and self._fill():
            step = min(len(target) - filled, len(self._buffer))
            target[filled : filled + step] = self._buffer[:step]
            self._buffer = self._buffer[step:]
            filled += step
        self._position += filled
        return filled

    def readall(self) -> bytes:
        pieces = [bytes(self._buffer)] if self._buffer else []
        self._buffer = memoryview(b"")
        pieces.extend(self._chunks)
        data = b"".join(pieces)
        self._position += len(data)
        return data


@dataclass(frozen=True)
class ParsedAttachment:
    """A file of the message. Its bytes are read with :meth:`open` (a stream, as large files
    should be) or :attr:`data` (all of them at once)."""

    filename: str
    content_type: str
    body: _Body = field(repr=False, compare=False)
    content_id: str | None
    inline: bool

    @property
    def size(self) -> int:
        """The size of the file, in bytes (known without reading it)."""
        return self.body.size

    @property
    def data(self) -> bytes:
        return self.body.read()

    def open(self) -> io.RawIOBase:
        """The file's bytes as a read-only, seekable stream, decoded as it is read."""
        return self.body.open()

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes, a piece at a time (decoded as they come, for a large file)."""
        return self.body.chunks()


@dataclass(frozen=True)
class Bounce:
    """An RFC 3464 delivery-status report: which addresses could not be reached, and why."""

    recipients: tuple[str, ...]
    status: str
    action: str
    permanent: bool


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    sender: Address
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    delivered_to: tuple[str, ...]
    date: datetime | None
    text: str
    full_text: str
    html: str = field(repr=False)
    attachments: tuple[ParsedAttachment, ...]
    auto_submitted: str
    precedence: str
    auto_response_suppress: str
    x_loop: tuple[str, ...]
    list_id: str
    is_auto: bool
    bounce: Bounce | None
    #: Why the message reads as an automatic answer (an out-of-office, a vacation responder),
    #: "" when it does not; ``auto_reply_certain``: whether its headers say so, not only its
    #: subject (see ``_automatic_answer``).
    auto_reply: str
    auto_reply_certain: bool
    size: int
    defects: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Notes on what was odd


class _Notes:
    """Human-readable defects, each once, in the order met."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, note: str) -> None:
        self._seen.setdefault(note, None)

    def all(self) -> tuple[str, ...]:
        return tuple(self._seen)


_TOO_MANY_PARTS = f"more than {MAX_PARTS} MIME parts: the rest of the message was not read"
_TOO_DEEP = (
    f"more than {_MAX_CONTAINERS} nested MIME sections: the rest of the message was not read"
)

_DEFECT_NOTES = {
    "CloseBoundaryNotFoundDefect": "a multipart section is never closed (truncated message?)",
    "StartBoundaryNotFoundDefect": "a multipart section has no part: its boundary never appears",
    "NoBoundaryInMultipartDefect": "a multipart section declares no boundary",
    "MultipartInvariantViolationDefect": "a multipart section could not be split into parts",
    "InvalidMultipartContentTransferEncodingDefect": "a multipart section declares a transfer encoding",
    "FirstHeaderLineIsContinuationDefect": "the header block starts with a continuation line",
    "MisplacedEnvelopeHeaderDefect": "a 'From ' envelope line appears among the headers",
    "MissingHeaderBodySeparatorDefect": "a line of the header block is not a header: the rest was read as the body",
    "InvalidBase64PaddingDefect": "a part has broken base64 (bad padding)",
    "InvalidBase64CharactersDefect": "a part has broken base64 (characters outside the alphabet)",
    "InvalidBase64LengthDefect": "a part has broken base64 (truncated)",
    "UndecodableBytesDefect": "a header holds bytes that are not text",
}


def _note_defects(part: Message, notes: _Notes) -> None:
    for defect in part.defects:
        name = type(defect).__name__
        notes.add(_DEFECT_NOTES.get(name, f"malformed MIME ({name})"))


# --------------------------------------------------------------------------------------------
# Text decoding


_FALLBACK_CODECS = ("utf-8", "cp1252")


def _decode_bytes(data: bytes, charset: str | None, notes: _Notes, where: str) -> str:
    """``data`` as text: the declared charset, then UTF-8, then Windows-1252, then Latin-1."""
    declared = (charset or "").strip().strip('"').lower()[:40]
    tried = ""
    if declared:
        try:
            tried = codecs.lookup(declared).name
            return data.decode(tried)
        except UnicodeDecodeError:
            problem = f"text is not valid {declared}"
        except (LookupError, UnicodeError, ValueError):
            # Unknown, or not a text encoding at all ("base64", "zlib"...).
            problem = f"unknown charset {declared!r}"
            tried = ""
    elif data.isascii():
        return data.decode("ascii")
    else:
        problem = "no charset declared"
    for codec in _FALLBACK_CODECS:
        if codec == tried:
            continue
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        notes.add(f"{where}: {problem}, read as {codec}")
        return text
    notes.add(f"{where}: {problem}, read as latin-1")
    return data.decode("latin-1", errors="replace")


_SURROGATE = re.compile("[\udc80-\udcff]")


def _unescape_surrogates(value: str, notes: _Notes, where: str) -> str:
    """The parser keeps 8-bit header bytes as surrogate escapes: read them as text."""
    if value.isascii() or _SURROGATE.search(value) is None:
        return value
    raw = value.encode("utf-8", errors="surrogateescape")
    try:
        return raw.decode("utf-8")  # RFC 6532 allows UTF-8 in headers
    except UnicodeDecodeError:
        return _decode_bytes(raw, None, notes, where)


_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([qQbB])\?([^?\s]*)\?=")


def _decode_words(value: str, notes: _Notes) -> str:
    """RFC 2047: decode the ``=?charset?q?...?=`` words of a header value.

    White space between two encoded words is dropped; adjacent words of one charset are joined
    before decoding, so a character split across two words survives.
    """
    if "=?" not in value:
        return value
    chunks: list[str | tuple[bytes, str]] = []
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        previous_is_word = bool(chunks) and isinstance(chunks[-1], tuple)
        if between and not (previous_is_word and between.isspace()):
            chunks.append(between)
        charset, encoding, payload = match.groups()
        encoded = payload.encode("ascii", errors="replace")
        try:
            if encoding in "bB":
                data = binascii.a2b_base64(encoded + b"=" * (-len(encoded) % 4))
            else:
                data = binascii.a2b_qp(encoded, header=True)
        except (binascii.Error, ValueError):
            notes.add("a header has a broken encoded word")
            chunks.append(match.group(0))
        else:
            last = chunks[-1] if chunks else None
            if isinstance(last, tuple) and last[1] == charset.lower():
                chunks[-1] = (last[0] + data, last[1])
            else:
                chunks.append((data, charset.lower()))
        position = match.end()
    chunks.append(value[position:])
    return "".join(
        chunk if isinstance(chunk, str) else _decode_bytes(chunk[0], chunk[1], notes, "a header")
        for chunk in chunks
    )


_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _one_line(value: str) -> str:
    """A header value as one line: no CR, LF or other control, white space collapsed."""
    return " ".join(_LINE_BREAKING.sub(" ", _BIDI_CONTROL.sub("", value)).split())


def _clean_body(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROL.sub("", text)


# --------------------------------------------------------------------------------------------
# Headers


class _Headers:
    """The raw values of a header block, by lower-cased name, read without the slow structured
    parsers of the standard library."""

    def __init__(self, message: Message, notes: _Notes) -> None:
        self._notes = notes
        self._values: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self._values.setdefault(name.strip().lower(), []).append(str(value))

    def names(self) -> set[str]:
        return set(self._values)

    def raw_all(self, name: str) -> list[str]:
        """Every value of ``name``, unfolded, 8-bit bytes read as text, encoded words kept."""
        return [
            _unescape_surrogates(value, self._notes, f"the {name} header")
            .replace("\r", "")
            .replace("\n", "")
            for value in self._values.get(name, [])
        ]

    def text(self, name: str) -> str:
        """The first value of ``name``, decoded, on one line."""
        values = self.raw_all(name)
        return _one_line(_decode_words(values[0], self._notes)) if values else ""

    def texts(self, name: str) -> tuple[str, ...]:
        return tuple(
            text
            for text in (_one_line(_decode_words(v, self._notes)) for v in self.raw_all(name))
            if text
        )

    def addresses(self, *names: str) -> tuple[Address, ...]:
        values = [
            _protect_encoded_words(value, self._notes)
            for name in names
            for value in self.raw_all(name)
        ]
        found: list[Address] = []
        for name, addr in email.utils.getaddresses(values):
            display = _one_line(_decode_words(name, self._notes))
            addr_spec = "".join(_one_line(addr).split()).lower()
            if display or addr_spec:
                found.append(Address(email=addr_spec, name=display))
        return tuple(found)

    def message_ids(self, name: str) -> tuple[str, ...]:
        ids: dict[str, None] = {}
        for value in self.raw_all(name):
            for message_id in _message_ids(value):
                ids.setdefault(message_id, None)
        return tuple(ids)


_ANY_WORD = r"=\?[^?\s*]+(?:\*[^?\s]*)?\?[qQbB]\?[^?\s]*\?="
_QUOTED_OR_WORDS = re.compile(
    rf'(?P<quoted>"(?:\\.|[^"\\])*")|(?P<words>{_ANY_WORD}(?:\s*{_ANY_WORD})*)'
)


def _protect_encoded_words(value: str, notes: _Notes) -> str:
    """Encoded words of an address header, decoded into quoted strings.

    Decoded first, ``=?utf-8?q?boss@example.com=2C?= <x@evil.example>`` would read as two
    addresses; left encoded, a ``:`` or ``@`` inside the word would mislead the address parser.
    As a quoted string, whatever the word says stays part of the display name.
    """
    if "=?" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group("quoted") is not None:
            return match.group("quoted")
        decoded = _one_line(_decode_words(match.group("words"), notes))
        return '"' + decoded.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return _QUOTED_OR_WORDS.sub(replace, value)


_MESSAGE_ID = re.compile(r"<([^<>\x00-\x20\x7f]+)>")


def _message_ids(value: str) -> list[str]:
    """The ``<...>`` tokens of a header; lacking any, the bare tokens that look like ids."""
    found = _MESSAGE_ID.findall(value)
    if not found:
        found = [token for token in _one_line(value).split() if "@" in token and "<" not in token]
    return [token.strip() for token in found if token.strip()]


def _parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _first_param(value: str) -> str:
    """``auto-replied; owner=...`` → ``auto-replied``."""
    return value.split(";", 1)[0].strip().lower()


# --------------------------------------------------------------------------------------------
# Size and shape limits, applied to the bytes before the parser sees them


_BOUNDARY_PARAM = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.I)
_DASH_LINE = re.compile(rb"^--([^\r\n]{1,250})", re.M)
_CONTAINER_LINE = re.compile(rb"^content-type:[ \t]*(?:multipart|message)/", re.I | re.M)


def _cut_before_limits(data: bytes) -> tuple[bytes, str | None]:
    """Cut the message before its (MAX_PARTS + 1)th part or its (_MAX_CONTAINERS + 1)th section.

    The standard library parser reads every part before anything can be counted, at a cost
    that grows with the number of parts; a scan of the bytes for boundary lines is cheap.
    """
    cut: int | None = None
    note: str | None = None
    boundaries = {
        (match.group(1) or match.group(2)).strip() for match in _BOUNDARY_PARAM.finditer(data)
    }
    if boundaries:
        opened = 0
        for match in _DASH_LINE.finditer(data):
            if match.group(1).rstrip() in boundaries:
                opened += 1
                if opened > MAX_PARTS:
                    cut, note = match.start(), _TOO_MANY_PARTS
                    break
    end = len(data) if cut is None else cut
    for containers, match in enumerate(_CONTAINER_LINE.finditer(data, 0, end), start=1):
        if containers > _MAX_CONTAINERS:
            cut, note = match.start(), _TOO_DEEP
            break
    if cut is None:
        return data, None
    return data[:cut], note


# --------------------------------------------------------------------------------------------
# Large base64 bodies, set apart before the parser reads the structure

# A base64 body of at least this many characters is set apart (smaller ones cost the parser
# little, and their bytes are small).
_SET_APART_CHARACTERS = 4096
# What stands in for a set-apart body: letters and digits only, so the parser treats its line as
# it treats a line of base64. A message that contains the text already gets another one.
_PLACEHOLDER = b"ComptoirBodySetApart"
# Bounds on the scan, so that a hostile message costs it little: the parts looked at (the parser
# reads no more than MAX_PARTS), and the size of each part's header block.
_MAX_PARTS_SCANNED = 2 * MAX_PARTS
_MAX_PART_HEADER_BYTES = 8 * 1024
_MAX_PART_HEADER_LINES = 50
# A line the standard library parser takes as a header line (feedparser's own rule).
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[\t ]")
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/\r\n]")
_BASE64_END = re.compile(rb"(={0,2})[\r\n]*")


@dataclass
class _SetApart:
    """The message as the parser reads it, and the bodies set apart from it, by placeholder."""

    skeleton: bytes
    prefix: str = ""
    spans: dict[str, _Base64Span] = field(default_factory=dict)


def _part_header(data: bytes, start: int) -> tuple[dict[bytes, bytes], int] | None:
    """The Content-Type and Content-Transfer-Encoding of the header block at ``start``, and
    where its body begins; None when the block is not plainly one (no blank line soon, a line
    that is not a header, a bare CR)."""
    values: dict[bytes, bytes] = {}
    name = b""
    position = start
    limit = min(len(data), start + _MAX_PART_HEADER_BYTES)
    for _ in range(_MAX_PART_HEADER_LINES):
        end = data.find(b"\n", position, limit)
        if end == -1:
            return None
        line = data[position : end + 1]
        position = end + 1
        if line in (b"\n", b"\r\n"):
            return values, position
        if line.find(b"\r", 0, len(line) - 2) != -1 or not _HEADER_LINE.match(line):
            return None
        if line[0] in b" \t":
            if name in values:
                values[name] += line
            continue
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"content-type", b"content-transfer-encoding") and name not in values:
            values[name] = value
        else:
            name = b""
    return None


def _base64_body(data: bytes, start: int) -> tuple[int, int, int] | None:
    """The body to set apart of the part whose header block begins at ``start``: (first byte,
    end, decoded size), or None.

    Only a leaf part that says it is base64, whose body is canonical base64 (the alphabet in
    lines, padding at the very end, a whole number of quanta) and ends at the end of the data
    or at a line that begins with ``--``: such a body holds no line the parser could take for
    anything but base64, so setting it apart changes nothing of how the rest is read.
    """
    header = _part_header(data, start)
    if header is None:
        return None
    values, body = header
    encoding = b"".join(values.get(b"content-transfer-encoding", b"").split()).lower()
    kind = b"".join(values.get(b"content-type", b"").split()).lower()
    if encoding != b"base64" or not kind or kind.startswith((b"multipart", b"message")):
        return None
    # The run of alphabet and line ends, a chunk at a time; line ends counted on the way.
    stop, line_ends = len(data), 0
    position = body
    while position < len(data):
        chunk_end = min(position + _CHUNK, len(data))
        rest = data[position:chunk_end].translate(None, _BASE64_ALPHABET)
        if rest.translate(None, b"\r\n"):
            found = _NOT_BASE64.search(data, position, chunk_end)
            stop = found.start() if found else chunk_end
            line_ends += data.count(b"\n", position, stop) + data.count(b"\r", position, stop)
            break
        line_ends += len(rest)
        position = chunk_end
    tail = _BASE64_END.match(data, stop)
    padding = len(tail.group(1)) if tail else 0
    after = tail.end() if tail else stop
    if after < len(data) and not (
        after > body and data[after - 1] in b"\r\n" and data.startswith(b"--", after)
    ):
        return None
    end = stop + padding
    while not padding and end > body and data[end - 1] in b"\r\n":
        end -= 1
        line_ends -= 1
    characters = (end - body) - line_ends
    if characters < _SET_APART_CHARACTERS or characters % 4:
        return None
    return body, end, characters // 4 * 3 - padding


def _next_part(data: bytes, position: int) -> int | None:
    """Where the header block after the next line beginning with ``--`` starts."""
    dash = 0 if position == 0 and data.startswith(b"--") else data.find(b"\n--", position)
    if dash == -1:
        return None
    end = data.find(b"\n", dash + 1)
    return None if end == -1 else end + 1


def _set_apart(data: bytes) -> _SetApart:
    """The large base64 bodies of ``data`` replaced by placeholders (see the module's notes)."""
    if len(data) < _SET_APART_CHARACTERS or _PLACEHOLDER in data:
        return _SetApart(data)  # small, or quoting the placeholder: read as it is
    prefix = _PLACEHOLDER
    found = _SetApart(b"", prefix.decode("ascii"))
    pieces: list[bytes] = []
    kept = 0
    part: int | None = 0
    for _ in range(_MAX_PARTS_SCANNED):
        if part is None:
            break
        body = _base64_body(data, part)
        if body is not None:
            start, end, size = body
            token = prefix + b"%dQ" % len(found.spans)
            pieces += [data[kept:start], token]
            found.spans[token.decode("ascii")] = _Base64Span(data, start, end, size)
            kept = part = end
        part = _next_part(data, part)
    if not found.spans:
        return _SetApart(data)
    pieces.append(data[kept:])
    found.skeleton = b"".join(pieces)
    return found


def _set_apart_came_back(message: Message, apart: _SetApart, read: bytes) -> bool:
    """Whether the parser read each placeholder still in the bytes it read (``read``: the
    skeleton, maybe cut at the limits) as the whole body of a base64 leaf part, once: then it
    read the structure as it would have with the bodies in place."""
    expected = {token for token in apart.spans if token.encode("ascii") in read}
    seen: set[str] = set()
    try:
        parts = list(message.walk())
    except RecursionError:
        return False
    for part in parts:
        if part.is_multipart():
            continue
        payload = part.get_payload()
        if not isinstance(payload, str) or not payload.startswith(apart.prefix):
            continue
        token = payload.rstrip("\r\n")
        if token not in expected or token in seen:
            return False
        if str(part.get("content-transfer-encoding", "")).lower() != "base64":
            return False
        seen.add(token)
    return seen == expected


# --------------------------------------------------------------------------------------------
# The MIME walk


_MIME_TYPES = mimetypes.MimeTypes()  # the built-in table only: the same on every machine
_EXTRA_EXTENSIONS = {
    "text/plain": ".txt",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "message/rfc822": ".eml",
    "application/octet-stream": ".bin",
}
_WINDOWS_DEVICE = re.compile(r"^(?:con|prn|aux|nul|com[0-9]|lpt[0-9])(?:\.|$)", re.I)
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
# What a multipart/alternative offers that is worth keeping: the bodies, and a meeting invite.
_BODY_TYPES = frozenset({"text/plain", "text/html", "text/calendar"})


def _attachment_name(name: str | None, content_type: str) -> str:
    extension = _EXTRA_EXTENSIONS.get(content_type) or _MIME_TYPES.guess_extension(content_type)
    safe = safe_display_name(name, fallback=f"attachment{extension or '.bin'}")
    # Harmless here, but a Windows device name saved as a file misbehaves on the desktop.
    if _WINDOWS_DEVICE.match(safe):
        safe = f"_{safe}"
    return safe


def _guess_type(filename: str) -> str:
    guessed, _ = _MIME_TYPES.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def _content_id(part: Message, notes: _Notes) -> str | None:
    values = [value for name, value in part.raw_items() if name.lower() == "content-id"]
    if not values:
        return None
    value = _one_line(_unescape_surrogates(str(values[0]), notes, "a Content-ID header"))
    match = re.search(r"<([^<>]*)>", value)
    token = (match.group(1) if match else value).strip()
    return token or None


def _claimed_type(part: Message, content_type: str) -> str:
    """The Content-Type the part claims, or application/octet-stream if it claims none."""
    raw = next((str(v) for n, v in part.raw_items() if n.lower() == "content-type"), "")
    return content_type if "/" in raw else "application/octet-stream"


def _payload_bytes(part: Message, notes: _Notes) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a codec error deep in the standard library must not lose the mail
        notes.add("a part could not be decoded")
        return b""
    return data if isinstance(data, bytes) else b""


def _unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676 ``format=flowed``: join the lines that were only wrapped for transport."""
    lines: list[str] = []
    pending: str | None = None
    pending_depth = 0

    def emit(depth: int, body: str) -> None:
        lines.append(">" * depth + (" " + body if depth and body else body))

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]
        if pending is not None and depth != pending_depth:
            emit(pending_depth, pending)
            pending = None
        flowed = body.endswith(" ") and body != "-- "
        if flowed and delsp:
            body = body[:-1]
        if pending is not None:
            body = pending + body
        if flowed:
            pending, pending_depth = body, depth
        else:
            emit(depth, body)
            pending = None
    if pending is not None:
        emit(pending_depth, pending)
    return "\n".join(lines)


@dataclass
class _Collected:
    """What the walk of one message found."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    bounce: Bounce | None = None


class _Walker:
    """One walk over a message and the messages forwarded inside it, sharing one part budget."""

    def __init__(self, notes: _Notes, apart: _SetApart | None = None) -> None:
        self.notes = notes
        self.parts = 0
        self.stopped = False
        self.apart = apart if apart is not None and apart.spans else None

    def _body(self, part: Message) -> _Body:
        """The part's decoded bytes: set apart before parsing, or decoded by the parser."""
        if self.apart is not None:
            payload = part.get_payload()
            if isinstance(payload, str) and payload.startswith(self.apart.prefix):
                span = self.apart.spans.get(payload.rstrip("\r\n"))
                if span is not None:
                    return span
        return _InMemory(_payload_bytes(part, self.notes))

    def _serialised(self, inner: Message) -> _Body:
        """A forwarded message as a file: serialised, with its set-apart bodies put back as the
        serialiser would have written them."""
        data = inner.as_bytes(policy=_SERIALISE_POLICY)
        if self.apart is None or self.apart.prefix.encode("ascii") not in data:
            return _InMemory(data)
        pieces: list[_Body] = []
        kept = 0
        pattern = re.compile(re.escape(self.apart.prefix.encode("ascii")) + rb"[0-9]+Q")
        for match in pattern.finditer(data):
            span = self.apart.spans.get(match.group(0).decode("ascii"))
            if span is None:
                continue
            pieces += [
                _InMemory(data[kept : match.start()]),
                _SourceLines(span.source, span.start, span.end),
            ]
            kept = match.end()
        pieces.append(_InMemory(data[kept:]))
        return _Spliced(pieces)

    def collect(self, root: Message, depth: int = 0) -> _Collected:
        found = _Collected()
        stack: list[tuple[Message, str]] = [(root, "")]
        while stack and not self.stopped:
            part, parent_type = stack.pop()
            self.parts += 1
            if self.parts > MAX_PARTS:
                self.notes.add(_TOO_MANY_PARTS)
                self.stopped = True
                break
            try:
                children = self._visit(part, parent_type, found, depth)
            except RecursionError:
                self.notes.add(_TOO_DEEP)
                continue
            except Exception:  # one unreadable part must not lose the rest of the mail
                self.notes.add("a part could not be read and was skipped")
                continue
            stack.extend(reversed(children))
        return found

    def _visit(
        self, part: Message, parent_type: str, found: _Collected, depth: int
    ) -> list[tuple[Message, str]]:
        """Read one part; return its children, each with the type of its parent."""
        content_type = part.get_content_type()
        payload = part.get_payload()
        if content_type == "message/delivery-status":
            _note_defects(part, self.notes)
            if depth == 0 and found.bounce is None:
                found.bounce = _read_delivery_status(part, self.notes)
            return []
        if content_type.startswith("message/") and isinstance(payload, list):
            _note_defects(part, self.notes)
            inner = next((item for item in payload if isinstance(item, Message)), None)
            if inner is not None:
                self._forwarded(inner, found, depth)
            return []
        if part.is_multipart() and isinstance(payload, list):
            _note_defects(part, self.notes)
            return [(item, content_type) for item in payload if isinstance(item, Message)]
        self._leaf(part, content_type, parent_type, found)
        return []

    def _leaf(self, part: Message, content_type: str, parent_type: str, found: _Collected) -> None:
        disposition = part.get_content_disposition()
        raw_name = part.get_filename()
        filename = (
            _one_line(
                _decode_words(_unescape_surrogates(raw_name, self.notes, "a file name"), self.notes)
            )
            if raw_name
            else ""
        )
        content_id = _content_id(part, self.notes)
        body = self._body(part)
        _note_defects(part, self.notes)

        if (
            parent_type == "multipart/alternative"
            and content_type.startswith("text/")
            and content_type not in _BODY_TYPES
            and not filename
        ):
            return  # another rendering of the same body (AMP, Apple Watch...): nothing to keep
        if content_type in _TNEF_TYPES or filename.lower() == "winmail.dat":
            if self._unpack_tnef(body.read(), found):
                return
        elif (
            content_type in ("text/plain", "text/html")
            and disposition != "attachment"
            and not filename
        ):
            text = _clean_body(
                _decode_bytes(
                    body.read(), part.get_content_charset(), self.notes, f"the {content_type} body"
                )
            )
            if content_type == "text/html":
                found.html.append(text)
            else:
                if str(part.get_param("format") or "").lower() == "flowed":
                    text = _unflow(text, delsp=str(part.get_param("delsp") or "").lower() == "yes")
                found.plain.append(text)
            return

        claimed = _claimed_type(part, content_type)
        inline = claimed.startswith("image/") and (
            disposition == "inline" or (content_id is not None and disposition != "attachment")
        )
        found.attachments.append(
            ParsedAttachment(
                filename=_attachment_name(filename, claimed),
                content_type=claimed,
                body=body,
                content_id=content_id,
                inline=inline,
            )
        )

    def _forwarded(self, inner: Message, found: _Collected, depth: int) -> None:
        headers = _Headers(inner, self.notes)
        subject = headers.text("subject")
        name = f"{subject}.eml" if subject.strip(" .") else "forwarded-message.eml"
        file: _Body
        try:
            file = self._serialised(inner)
        except Exception:  # re-serialising a broken message can fail: keep its text at least
            self.notes.add("a forwarded message could not be kept as a file")
            file = _InMemory(b"")
        found.attachments.append(
            ParsedAttachment(
                filename=_attachment_name(name, "message/rfc822"),
                content_type="message/rfc822",
                body=file,
                content_id=None,
                inline=False,
            )
        )
        if depth >= _MAX_FORWARD_DEPTH:
            self.notes.add("forwarded messages nest too deep: the innermost are only attached")
            return
        inner_found = self.collect(inner, depth + 1)
        lines = [FORWARDED_MARKER]
        sender = headers.addresses("from")
        if sender:
            lines.append(f"From: {_format_address(sender[0])}")
        for label, header in (("Date", "date"), ("Subject", "subject")):
            value = headers.text(header)
            if value:
                lines.append(f"{label}: {value}")
        for label, header in (("To", "to"), ("Cc", "cc")):
            addresses = headers.addresses(header)
            if addresses:
                lines.append(f"{label}: {', '.join(_format_address(a) for a in addresses)}")
        body = _body_text(inner_found)
        found.forwarded.append("\n".join(lines) + ("\n\n" + body if body else ""))

    def _unpack_tnef(self, data: bytes, found: _Collected) -> bool:
        """Outlook's winmail.dat, unpacked into its files and body. False: keep it as it is."""
        if _tnefparse is None or not data:
            return False
        try:
            tnef = _tnefparse.TNEF(data, do_checksum=False)
            files = [_tnef_attachment(item, self.notes) for item in tnef.attachments]
            body = _tnef_text(tnef.body, self.notes)
            html = _tnef_text(tnef.htmlbody, self.notes)
        except Exception:  # a broken winmail.dat is still worth keeping as a file
            self.notes.add("winmail.dat could not be unpacked: kept as it is")
            return False
        unpacked = [item for item in files if item is not None]
        if not unpacked and not body and not html:
            return False
        found.attachments.extend(unpacked)
        if body and not found.plain:
            found.plain.append(body)
        if html and not found.html:
            found.html.append(html)
        return True


def _tnef_text(value: object, notes: _Notes) -> str:
    if isinstance(value, bytes):
        value = _decode_bytes(value, None, notes, "the winmail.dat body")
    return _clean_body(value).strip() if isinstance(value, str) else ""


def _tnef_attachment(item: object, notes: _Notes) -> ParsedAttachment | None:
    data = getattr(item, "data", b"")
    if not isinstance(data, bytes):
        return None
    long_filename = getattr(item, "long_filename", None)
    name: object = long_filename() if callable(long_filename) else ""
    if isinstance(name, bytes):
        name = _decode_bytes(name, None, notes, "a winmail.dat file name")
    filename = str(name or "").strip("\x00")
    mime_tag = next(
        (
            attr.data
            for attr in getattr(item, "mapi_attrs", [])
            if getattr(attr, "name", None) == 0x370E  # PR_ATTACH_MIME_TAG
        ),
        None,
    )
    if isinstance(mime_tag, bytes):
        mime_tag = mime_tag.decode("ascii", errors="replace")
    content_type = str(mime_tag).strip("\x00").strip().lower() if mime_tag else ""
    if "/" not in content_type:
        content_type = _guess_type(filename)
    return ParsedAttachment(
        filename=_attachment_name(filename, content_type),
        content_type=content_type,
        body=_InMemory(data),
        content_id=None,
        inline=False,
    )


def _format_address(address: Address) -> str:
    if address.name and address.email:
        return f"{address.name} <{address.email}>"
    return address.name or address.email


def _body_text(found: _Collected) -> str:
    """The plain text of one message: its text/plain parts, or its HTML as text, then what it
    forwards."""
    body = "\n\n".join(text.strip("\n") for text in found.plain if text.strip())
    if not body.strip() and found.html:
        body = html_to_text("\n".join(found.html))
    sections = [body.strip("\n")] if body.strip() else []
    sections.extend(found.forwarded)
    return "\n\n".join(sections).rstrip()


# --------------------------------------------------------------------------------------------
# Delivery-status reports (RFC 3464)


_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def _status_blocks(part: Message, notes: _Notes) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status part, lower-cased names."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append(
                    {
                        name.strip().lower(): _one_line(
                            _unescape_surrogates(str(value), notes, "a delivery report")
                        )
                        for name, value in block.raw_items()
                    }
                )
    if any("final-recipient" in b or "original-recipient" in b for b in blocks):
        return blocks
    # Encoded, or not split by the parser: read the fields from the text.
    text = _clean_body(_decode_bytes(_payload_bytes(part, notes), None, notes, "a delivery report"))
    blocks = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        last = ""
        for line in chunk.split("\n"):
            if line[:1] in (" ", "\t") and last:
                fields[last] = _one_line(fields[last] + " " + line)
            elif ":" in line:
                name, _, value = line.partition(":")
                last = name.strip().lower()
                fields.setdefault(last, _one_line(value))
        if fields:
            blocks.append(fields)
    return blocks


def _recipient(value: str) -> str:
    """``rfc822; <Someone@Example.com>`` → ``someone@example.com``."""
    address = value.split(";", 1)[1] if ";" in value else value
    return "".join(address.split()).strip("<>").lower()


def _read_delivery_status(part: Message, notes: _Notes) -> Bounce | None:
    reports: list[tuple[str, str, str]] = []
    for fields in _status_blocks(part, notes):
        value = fields.get("final-recipient") or fields.get("original-recipient")
        if not value:
            continue
        status_match = _STATUS.search(fields.get("status", ""))
        action = (
            _first_param(fields.get("action", "")).split(" ")[0] if fields.get("action") else ""
        )
        reports.append((_recipient(value), action, status_match.group(1) if status_match else ""))
    if not reports:
        notes.add("a delivery report names no recipient")
        return None
    failed = [r for r in reports if r[1] == "failed" or r[2].startswith("5")]
    chosen = failed or reports
    _, action, status = chosen[0]
    recipients = tuple(dict.fromkeys(address for address, _, _ in chosen if address))
    return Bounce(
        recipients=recipients,
        status=status,
        action=action,
        permanent=status.startswith("5") or action == "failed",
    )


# --------------------------------------------------------------------------------------------
# Automatic messages


_AUTO_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply", "auto-reply"})
_AUTO_LOCAL_PARTS = frozenset(
    {
        "mailer-daemon",
        "postmaster",
        "no-reply",
        "noreply",
        "no_reply",
        "do-not-reply",
        "donotreply",
        "do_not_reply",
    }
)
_AUTO_HEADERS = (
    "list-id",
    "list-unsubscribe",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
)


def _looks_automatic(
    headers: _Headers,
    *,
    auto_submitted: str,
    precedence: str,
    sender: Address,
    bounce: Bounce | None,
) -> bool:
    if auto_submitted and _first_param(auto_submitted) != "no":
        return True
    if _first_param(precedence) in _AUTO_PRECEDENCE:
        return True
    if any(value.strip() for name in _AUTO_HEADERS for value in headers.raw_all(name)):
        return True
    if sender.email.split("@", 1)[0] in _AUTO_LOCAL_PARTS:
        return True
    # RFC 3834: automatic replies and delivery reports go out with an empty return path.
    if any(value.strip() == "<>" for value in headers.raw_all("return-path")):
        return True
    return bounce is not None


#: Subjects automatic answers are given: Outlook's and Exchange's in English and French
#: ("Automatic reply: …", "Réponse automatique : …", the older "Out of Office AutoReply: …" and
#: "Absent du bureau : …"), and the usual texts people give their vacation responder.
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:out\s+of\s+(?:the\s+)?office(?:\s+auto-?reply)?|automatic\s+reply|auto[-\s]?reply"
    r"|absence|absent\s+du\s+bureau|réponse\s+automatique|abwesenheitsnotiz"
    r"|automatische\s+antwort)\s*(?::|$)",
    re.IGNORECASE,
)


def _automatic_answer(
    headers: _Headers,
    *,
    auto_submitted: str,
    precedence: str,
    suppress: str,
    answers: bool,
    subject: str,
    sender: Address,
    bounce: Bounce | None,
) -> tuple[str, bool]:
    """(why the message reads as an automatic answer, whether its headers say so).

    An automatic answer is a robot writing back to a message: an out-of-office, a vacation
    responder. Its headers say so (``Auto-Submitted: auto-replied``, ``X-Autoreply``,
    ``X-Autorespond``, ``Precedence: auto_reply``), or mark a reply as automatic
    (``Auto-Submitted`` other than ``no``, or ``X-Auto-Response-Suppress``, in a message that
    answers another one or whose subject is an automatic answer's: Exchange's out-of-office is
    ``auto-generated``). A subject alone ("Out of office: …", "Réponse automatique : …") is a
    weaker sign: a person may title a mail "Absence". A bounce is not an answer: delivery
    reports and mail from a mailer-daemon or postmaster keep their own handling.
    """
    if bounce is not None or sender.email.split("@", 1)[0] in ("mailer-daemon", "postmaster"):
        return "", False
    kind = _first_param(auto_submitted)
    if kind == "auto-replied":
        return "Auto-Submitted: auto-replied", True
    for name, shown in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        if any(value.strip() for value in headers.raw_all(name)):
            return shown, True
    if _first_param(precedence) in ("auto_reply", "auto-reply"):
        return f"Precedence: {_first_param(precedence)}", True
    titled = _AUTO_REPLY_SUBJECT.match(subject)
    if answers or titled:
        if kind and kind != "no":
            return f"Auto-Submitted: {kind}", True
        if suppress.strip():
            return "X-Auto-Response-Suppress", True
    if titled:
        return f"its subject ({titled.group(0).strip().rstrip(':').strip()})", answers
    return "", False


# --------------------------------------------------------------------------------------------
# The entry point


_NOT_BLANK = re.compile(rb"[^ \t\n\r\x0b\x0c]")


def _parse(data: bytes, notes: _Notes) -> tuple[bytes, Message, bool]:
    """The bytes as read (cut at the limits), the parsed message, and whether its body was
    parsed (not when it nests past what the parser can follow)."""
    data, limit_note = _cut_before_limits(data)
    if limit_note:
        notes.add(limit_note)
    try:
        return data, email.message_from_bytes(data, policy=_POLICY), True
    except RecursionError:
        notes.add(_TOO_DEEP)
        return data, BytesParser(policy=_POLICY).parsebytes(data, headersonly=True), False


def parse_message(raw: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> ParsedMessage:
    """The bytes of one mail, read.

    Raises :class:`MessageTooLarge` over ``max_bytes`` (before parsing anything) and
    :class:`UnreadableMessage` for empty input or input with no mail header. Anything else is
    read as well as it can be, what was odd going into ``defects``.
    """
    reading = _PARSED_HEADERS.set({})
    try:
        return _parse_message(raw, max_bytes)
    finally:
        _PARSED_HEADERS.reset(reading)


def _parse_message(raw: bytes, max_bytes: int) -> ParsedMessage:
    if len(raw) > max_bytes:
        raise MessageTooLarge(f"the message is {len(raw)} bytes, over the limit of {max_bytes}")
    data = raw
    if data.startswith((b"\xef\xbb\xbf", b"\r", b"\n")):  # copied only then
        data = data.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    if _NOT_BLANK.search(data) is None:
        raise UnreadableMessage("the message is empty")
    apart = _set_apart(data)
    notes = _Notes()
    skeleton, message, parsed_body = _parse(apart.skeleton, notes)
    if apart.spans and parsed_body and not _set_apart_came_back(message, apart, skeleton):
        # The parser read the structure otherwise than the scan of the bytes did: read it all.
        apart = _SetApart(data)
        notes = _Notes()
        _, message, parsed_body = _parse(data, notes)

    headers = _Headers(message, notes)
    if not headers.names() & _MAIL_HEADERS:
        raise UnreadableMessage("no mail header block")
    _note_defects(message, notes)

    found = _Walker(notes, apart).collect(message) if parsed_body else _Collected()
    html = "\n".join(found.html)
    referenced = {unquote(cid) for cid in re.findall(r"cid:([^\s\"'<>)]+)", html, flags=re.I)}
    attachments = tuple(
        replace(item, inline=True)
        if not item.inline and item.content_id and item.content_id in referenced
        else item
        for item in found.attachments
    )
    full_text = _body_text(found)
    text = split_quoted(full_text)[0] or full_text

    senders = headers.addresses("from")
    sender = next(
        (a for a in senders if "@" in a.email), senders[0] if senders else Address("", "")
    )
    delivered_to = tuple(
        dict.fromkeys(
            a.email
            for a in headers.addresses("delivered-to", "x-original-to", "envelope-to")
            if a.email
        )
    )
    message_ids = headers.message_ids("message-id")
    auto_submitted = headers.text("auto-submitted").lower()
    precedence = headers.text("precedence").lower()
    suppress = headers.text("x-auto-response-suppress")
    in_reply_to = headers.message_ids("in-reply-to")
    references = headers.message_ids("references")
    subject = headers.text("subject")
    auto_reply, auto_reply_certain = _automatic_answer(
        headers,
        auto_submitted=auto_submitted,
        precedence=precedence,
        suppress=suppress,
        answers=bool(in_reply_to or references),
        subject=subject,
        sender=sender,
        bounce=found.bounce,
    )
    return ParsedMessage(
        message_id=message_ids[0] if message_ids else "",
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        sender=sender,
        reply_to=headers.addresses("reply-to"),
        to=headers.addresses("to"),
        cc=headers.addresses("cc"),
        delivered_to=delivered_to,
        date=_parse_date(headers.text("date")),
        text=text,
        full_text=full_text,
        html=html,
        attachments=attachments,
        auto_submitted=auto_submitted,
        precedence=precedence,
        auto_response_suppress=suppress,
        x_loop=headers.texts("x-loop"),
        list_id=headers.text("list-id"),
        is_auto=bool(auto_reply)
        or _looks_automatic(
            headers,
            auto_submitted=auto_submitted,
            precedence=precedence,
            sender=sender,
            bounce=found.bounce,
        ),
        bounce=found.bounce,
        auto_reply=auto_reply,
        auto_reply_certain=auto_reply_certain,
        size=len(raw),
        defects=notes.all(),
    )


# --------------------------------------------------------------------------------------------
# Quoted history


_QUOTE_STARTERS = ("on ", "le ", "am ", "op ", "el ", "il ", "em ")
_ATTRIBUTION = re.compile(
    r"^(?:On\s.{1,300}\swrote"
    r"|Le\s.{1,300}\sa\s+écrit"
    r"|El\s.{1,300}\sescribió"
    r"|Il\s.{1,300}\sha\s+scritto"
    r"|Em\s.{1,300}\sescreveu"
    r"|(?:Am\s.{1,300}\sschrieb|Op\s.{1,300}\sschreef)\s.{0,200}"
    r")\s*:$",
    re.I,
)
_WROTE = re.compile(
    r"(?:\bwrote|\ba\s+écrit|\bescribió|\bha\s+scritto|\bescreveu|\bschrieb\b.{0,200}|\bschreef\b.{0,200})\s*:$",
    re.I,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Message d['’]origine|Ursprüngliche Nachricht|"
    r"Original-Nachricht|Mensaje original|Messaggio originale|Oorspronkelijk bericht)\s*-{2,}\s*$",
    re.I,
)
_FORWARD_MARKER = re.compile(
    r"^\s*(?:-{2,}\s*(?:Forwarded message|Message transféré|Weitergeleitete Nachricht|"
    r"Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht)\s*-{2,}"
    r"|(?:Begin forwarded message|Début du message (?:réexpédié|transféré))\s*:)\s*$",
    re.I,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:From|De|Von|Van|Da)\s*:", re.I)
_HEADER_SENT = re.compile(
    r"^\s*\*?(?:Sent|Date|Envoyé|Gesendet|Datum|Enviado|Fecha|Inviato|Verzonden|Data)\s*:", re.I
)
_HEADER_SUBJECT = re.compile(
    r"^\s*\*?(?:Subject|Objet|Betreff|Asunto|Oggetto|Onderwerp|Assunto)\s*:", re.I
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_MOBILE_FOOTER = re.compile(
    r"^(?:Sent from my \S.{0,40}"
    r"|Sent from (?:Outlook|Mail for Windows|Yahoo Mail|Proton Mail|ProtonMail)\b.{0,40}"
    r"|Get Outlook for (?:iOS|Android)"
    r"|Envoyé (?:de|depuis) mon \S.{0,40}"
    r"|Envoyé à partir de \S.{0,40}"
    r"|(?:Obtenir|Télécharger) Outlook pour (?:iOS|Android)"
    r"|Von meinem \S.{0,40} gesendet"
    r"|Enviado desde mi \S.{0,40})$",
    re.I,
)


def _previous_filled(lines: list[str], index: int) -> int | None:
    for j in range(index - 1, -1, -1):
        if lines[j].strip():
            return j
    return None


def _next_filled(lines: list[str], index: int) -> int | None:
    for j in range(index + 1, len(lines)):
        if lines[j].strip():
            return j
    return None


def _is_attribution(lines: list[str], index: int) -> bool:
    """``On <date>, <name> wrote:``, on this line or wrapped over the next one or two."""
    if not lines[index].lstrip().lower().startswith(_QUOTE_STARTERS):
        return False
    joined = ""
    for line in lines[index : index + 3]:
        if not line.strip():
            break
        joined = f"{joined} {line.strip()}".strip()
        if len(joined) > 600:
            break
        if _ATTRIBUTION.match(joined):
            return True
    return False


def _is_header_block(lines: list[str], index: int) -> bool:
    """An Outlook ``From: / Sent: / To: / Subject:`` block that is not a forwarded one."""
    if not _HEADER_FROM.match(lines[index]):
        return False
    following = lines[index + 1 : index + 8]
    if not (
        any(_HEADER_SENT.match(line) for line in following)
        and any(_HEADER_SUBJECT.match(line) for line in following)
    ):
        return False
    above = _previous_filled(lines, index)
    return not (above is not None and _FORWARD_MARKER.match(lines[above]))


def _quote_start(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        stripped = line.strip()
        if line.lstrip(" \t").startswith(">"):
            return index
        if line.rstrip(" \t") == "--":
            return index
        if not stripped:
            continue
        if _ORIGINAL_MESSAGE.match(line) or _MOBILE_FOOTER.match(stripped):
            return index
        if _is_attribution(lines, index):
            return index
        if _WROTE.search(stripped):
            after = _next_filled(lines, index)
            if after is not None and lines[after].lstrip(" \t").startswith(">"):
                return index
        if _is_header_block(lines, index):
            above = _previous_filled(lines, index)
            return above if above is not None and _RULE.match(lines[above]) else index
    return None


def _trim_blank_lines(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def split_quoted(text: str) -> tuple[str, str]:
    """``(new text, quoted history and signature)``: the new text is what is above the first
    quote marker (a ``>`` line, an ``On ... wrote:`` line, an Outlook original-message block, a
    ``-- `` signature line, a "Sent from my iPhone" footer...). A forwarded message is not a
    quote: it stays in the new text."""
    lines = _clean_body(text).split("\n")
    start = _quote_start(lines)
    if start is None:
        return _trim_blank_lines(lines), ""
    return _trim_blank_lines(lines[:start]), _trim_blank_lines(lines[start:])


# --------------------------------------------------------------------------------------------
# HTML as text


_SKIPPED = frozenset(
    {"script", "style", "head", "title", "template", "iframe", "object", "svg", "noembed"}
)
_PARAGRAPHS = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "dl",
        "figure",
        "hr",
    }
)
_BLOCKS = _PARAGRAPHS | frozenset(
    {
        "address",
        "article",
        "aside",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dt",
        "fieldset",
        "figcaption",
        "footer",
        "form",
        "header",
        "li",
        "main",
        "nav",
        "section",
        "summary",
        "tbody",
        "tfoot",
        "thead",
        "tr",
    }
)
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)
_SHOWN_SCHEMES = frozenset({"http", "https", "ftp", "mailto", "tel"})
_WHITESPACE = re.compile(r"\s+")


class _TextWriter:
    """Lines of text with their blockquote depth; line breaks are held until text follows, so
    empty blocks leave no blank lines behind."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.line = ""
        self.line_depth = 0
        self.depth = 0
        self.breaks = 0

    def write(self, text: str, *, keep_spaces: bool = False) -> None:
        if (self.breaks or not self.line) and not keep_spaces:
            text = text.lstrip(" ")
        if not text:
            return
        if self.breaks:
            if self.line or self.lines:
                self.lines.append((self.line_depth, self.line.rstrip()))
                self.lines.extend(
                    (min(self.line_depth, self.depth), "") for _ in range(self.breaks - 1)
                )
            self.line = ""
            self.breaks = 0
        if not self.line:
            self.line_depth = self.depth
        elif not keep_spaces and self.line.endswith(" ") and text.startswith(" "):
            text = text[1:]
        self.line += text

    def block(self, breaks: int) -> None:
        self.breaks = max(self.breaks, breaks)

    def line_break(self) -> None:
        self.breaks = min(self.breaks + 1, 2) if self.line or self.breaks else 1

    def mark(self) -> tuple[int, int]:
        return len(self.lines), len(self.line)

    def since(self, mark: tuple[int, int]) -> str:
        count, length = mark
        if count == len(self.lines):
            return self.line[length:]
        return " ".join(
            [
                self.lines[count][1][length:],
                *(text for _, text in self.lines[count + 1 :]),
                self.line,
            ]
        )

    def text(self) -> str:
        rendered = []
        for depth, text in [*self.lines, (self.line_depth, self.line.rstrip())]:
            prefix = ">" * depth
            rendered.append(f"{prefix} {text}" if prefix and text else prefix + text)
        return _trim_blank_lines(rendered)


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _TextWriter()
        self.skipping: list[str] = []
        self.lists = 0
        self.pre = 0
        self.links: list[tuple[str, tuple[int, int]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.skipping.clear()  # a <head> that was never closed
            return
        if self.skipping:
            if tag in _SKIPPED and tag not in _VOID:
                self.skipping.append(tag)
            return
        if tag in _SKIPPED:
            self.skipping.append(tag)
            return
        if tag == "br":
            self.out.line_break()
        elif tag in _BLOCKS:
            self.out.block(self._breaks(tag))
            if tag == "blockquote":
                self.out.depth += 1
            elif tag in ("ul", "ol"):
                self.lists += 1
            elif tag == "li":
                self.out.write("  " * max(self.lists - 1, 0) + "- ", keep_spaces=True)
            elif tag == "pre":
                self.pre += 1
        elif tag in ("td", "th"):
            self.out.write(" ")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href, self.out.mark()))
        elif tag == "img":
            alt = _one_line(dict(attrs).get("alt") or "")
            if alt:
                self.out.write(f"[{alt}]")

    def _breaks(self, tag: str, *, closing: bool = False) -> int:
        """A blank line around paragraphs, a line break around other blocks and nested lists."""
        if tag in ("ul", "ol") and self.lists > (1 if closing else 0):
            return 1
        return 2 if tag in _PARAGRAPHS else 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
            return
        if tag in _BLOCKS:
            self.out.block(self._breaks(tag, closing=True))
            if tag == "blockquote":
                self.out.depth = max(self.out.depth - 1, 0)
            elif tag in ("ul", "ol"):
                self.lists = max(self.lists - 1, 0)
            elif tag == "pre":
                self.pre = max(self.pre - 1, 0)
        elif tag in ("td", "th"):
            self.out.write(" ")
        elif tag == "a" and self.links:
            href, mark = self.links.pop()
            self._link_target(href, self.out.since(mark))

    def _link_target(self, href: str, label: str) -> None:
        target = "".join(_LINE_BREAKING.sub("", href).split())
        scheme = target.split(":", 1)[0].lower() if ":" in target else ""
        if scheme not in _SHOWN_SCHEMES:
            return  # javascript:, data:, cid:, anchors and relative links say nothing useful
        shown = target.split(":", 1)[1] if scheme in ("mailto", "tel") else target
        label = " ".join(label.split())
        if shown and shown not in label and target not in label:
            self.out.write(f" ({shown})")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.pre:
            for index, piece in enumerate(data.replace("\r\n", "\n").split("\n")):
                if index:
                    self.out.line_break()
                self.out.write(piece, keep_spaces=True)
        else:
            self.out.write(_WHITESPACE.sub(" ", data))


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: blocks on their own lines, list items as ``- ``, links as
    ``text (url)``, blockquotes as ``>`` lines, scripts and styles dropped, entities decoded."""
    parser = _HtmlText()
    try:
        parser.feed(_BODY_CONTROL.sub("", html or ""))
        parser.close()
    except (AssertionError, ValueError, RecursionError):
        pass  # what was read so far is kept
    return parser.out.text()
