"""Uploaded file names and types: what is shown and what is believed."""

from __future__ import annotations

import pytest

from comptoir.core.files import MAX_NAME_LENGTH, safe_display_name, sniff_content_type

PNG_HEAD = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
)
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
ZIP_HEAD = b"PK\x03\x04\x14\x00\x00\x00\x08\x00"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\evil\\x.exe", "x.exe"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("dir/", "attachment"),
        ("..", "attachment"),
        ("...", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
        ("   ", "attachment"),
        ("report\x00.pdf", "report.pdf"),
        ("line\nbreak\r.txt", "linebreak.txt"),
        ("tab\there.txt", "tabhere.txt"),
        ("esc\x1b[2J.txt", "esc[2J.txt"),
        ("c1\x85\x9b.txt", "c1.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("\u2066isolate\u2069.txt", "isolate.txt"),
        ("zero\u200bwidth\u200f.txt", "zerowidth.txt"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("  spaced   out  .txt ", "spaced out .txt"),
        (".hidden", "hidden"),
        ("trailing.dot.", "trailing.dot"),
        ("cafe\u0301.txt", "caf\u00e9.txt"),
        ("Résumé – 2030.pdf", "Résumé – 2030.pdf"),
    ],
)
def test_safe_display_name(name, shown):
    assert safe_display_name(name) == shown


def test_fallback_name_can_be_chosen():
    assert safe_display_name("../", fallback="mail.eml") == "mail.eml"


def test_long_name_is_cut_and_keeps_its_extension():
    shown = safe_display_name("a" * 496 + ".pdf")
    assert len(shown) == MAX_NAME_LENGTH
    assert shown.endswith(".pdf")


def test_long_name_without_a_short_extension_is_cut():
    assert len(safe_display_name("b" * 500)) == MAX_NAME_LENGTH
    shown = safe_display_name("c" * 300 + "." + "d" * 50)
    assert len(shown) == MAX_NAME_LENGTH


def test_long_hostile_name_is_cut_after_cleaning():
    shown = safe_display_name("../" * 100 + "\u202e" * 300 + "x" * 250 + ".exe")
    assert len(shown) == MAX_NAME_LENGTH
    assert shown.endswith(".exe")
    assert "/" not in shown and "\u202e" not in shown


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "C:\\evil\\x.exe", "a\x00b", "\u202eexe.txt", "x" * 500, "<script>.html"],
)
def test_display_name_never_holds_a_path_or_a_control_character(name):
    shown = safe_display_name(name)
    assert "/" not in shown and "\\" not in shown
    assert shown not in ("", ".", "..")
    assert all(ch.isprintable() for ch in shown)
    assert len(shown) <= MAX_NAME_LENGTH


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (PNG_HEAD, "image/png"),
        (JPEG_HEAD, "image/jpeg"),
        (PDF_HEAD, "application/pdf"),
        (ZIP_HEAD, "application/zip"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"<!doctype html><script>alert(1)</script>", "text/plain"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "text/plain",
        ),
        (b"Hello, plain text.\n", "text/plain"),
        ("Caf\u00e9 cr\u00e8me".encode(), "text/plain"),
        (b"", "application/octet-stream"),
        (b"\x00\x01\x02\x03binary", "application/octet-stream"),
        (b"text then a nul\x00", "application/octet-stream"),
        (b"\xff\xfe\xfd not utf-8 at all", "application/octet-stream"),
    ],
)
def test_content_type_is_read_from_the_bytes(head, content_type):
    assert sniff_content_type(head) == content_type


def test_text_cut_inside_a_character_is_still_text():
    sample = ("é" * 100).encode()[:-1]  # the sample ends half-way through a two-byte character
    assert sniff_content_type(sample) == "text/plain"


def test_invalid_byte_early_in_text_is_binary():
    assert sniff_content_type(b"ok \xc3\x28 then more text after it") == "application/octet-stream"
