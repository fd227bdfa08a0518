"""Translation catalogues without GNU gettext: read a ``.po`` file, write its ``.mo``.

Django reads the compiled ``.mo`` files; ``makemessages`` and ``compilemessages`` need GNU
gettext, which a fresh machine may not have. The compiled files are committed beside their
sources; ``python -m comptoir.core.translations`` recompiles them all with Python alone, and a
test fails when a catalogue has an untranslated or fuzzy entry or its ``.mo`` differs from it.
"""

from __future__ import annotations

import ast
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    fuzzy: bool = False
    obsolete: bool = False

    @property
    def key(self) -> str:
        """The entry's key in a ``.mo`` file: context, EOT, id (NUL, plural id)."""
        key = self.msgid if self.msgid_plural is None else f"{self.msgid}\0{self.msgid_plural}"
        return key if self.msgctxt is None else f"{self.msgctxt}\x04{key}"

    @property
    def translation(self) -> str:
        return "\0".join(self.msgstr[i] for i in sorted(self.msgstr))

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


def read_po(text: str) -> list[Entry]:
    """The entries of a ``.po`` file (the header is the one with an empty ``msgid``)."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal current, started
        if started:
            entries.append(current)
        current, started = Entry(), False

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#~"):
            current.obsolete = True
            continue
        if not line:
            finish()
            target = None
            continue
        if line.startswith("#,"):
            if started:
                finish()
            current.fuzzy = "fuzzy" in [flag.strip() for flag in line[2:].split(",")]
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if target is None:
                raise ValueError(f"A continued string without a keyword: {raw!r}")
            value = ast.literal_eval(line)
        else:
            value = ast.literal_eval(rest)
            if keyword == "msgctxt" or (keyword == "msgid" and started and current.msgstr):
                fuzzy = current.fuzzy if not current.msgstr else False
                finish()
                current.fuzzy = fuzzy
            started = True
            if keyword.startswith("msgstr["):
                target = ("msgstr", int(keyword[7:-1]))
            elif keyword == "msgstr":
                target = ("msgstr", 0)
            else:
                target = (keyword, 0)
            _assign(current, target, "")
        _append(current, target, value)
    finish()
    return [e for e in entries if not e.obsolete]


def _assign(entry: Entry, target: tuple[str, int], value: str) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstr[index] = value
    else:
        setattr(entry, name, value)


def _append(entry: Entry, target: tuple[str, int], value: str) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstr[index] += value
    else:
        setattr(entry, name, (getattr(entry, name) or "") + value)


def problems(entries: list[Entry]) -> list[str]:
    """Entries a reader would see in English: untranslated, or marked fuzzy."""
    found = []
    for entry in entries:
        if entry.msgid == "":
            continue
        if entry.fuzzy:
            found.append(f"fuzzy: {entry.msgid!r}")
        elif not entry.translated:
            found.append(f"untranslated: {entry.msgid!r}")
    return found


def catalog(entries: list[Entry]) -> dict[str, str]:
    """What the ``.mo`` holds: translated, non-fuzzy entries and the header."""
    return {
        e.key: e.translation for e in entries if (e.msgid == "" or (e.translated and not e.fuzzy))
    }


def mo_bytes(messages: dict[str, str]) -> bytes:
    """A little-endian GNU ``.mo`` file of ``messages``, keys sorted, without a hash table."""
    keys = sorted(messages)
    ids = [k.encode() for k in keys]
    strs = [messages[k].encode() for k in keys]
    count = len(keys)
    header_size = 7 * 4
    ids_table = header_size
    strs_table = ids_table + count * 8
    data_start = strs_table + count * 8
    offsets: list[tuple[int, int]] = []
    data = b""
    for blob in ids:
        offsets.append((len(blob), data_start + len(data)))
        data += blob + b"\0"
    str_offsets: list[tuple[int, int]] = []
    for blob in strs:
        str_offsets.append((len(blob), data_start + len(data)))
        data += blob + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, count, ids_table, strs_table, 0, data_start)
    for length, offset in offsets + str_offsets:
        out += struct.pack("<2I", length, offset)
    return out + data


def compile_all(root: Path = LOCALE_DIR) -> list[Path]:
    """Write every catalogue's ``.mo`` beside its ``.po``; the paths written."""
    written = []
    for po in sorted(root.glob("*/LC_MESSAGES/*.po")):
        entries = read_po(po.read_text(encoding="utf-8"))
        mo = po.with_suffix(".mo")
        mo.write_bytes(mo_bytes(catalog(entries)))
        written.append(mo)
    return written


def main() -> int:
    for path in compile_all():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
