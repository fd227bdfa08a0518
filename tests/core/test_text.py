"""Text from outside: Markdown rendered safely, HTML sanitised."""

from __future__ import annotations

import pytest

from comptoir.core.text import render_markdown, sanitize_html

REL = 'rel="noopener noreferrer nofollow"'


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_renders_emphasis_lists_code_and_line_breaks():
    html = render_markdown("**bold** and *it*\nnext line\n\n- one\n- two\n\n`code`")
    assert "<strong>bold</strong>" in html
    assert "<em>it</em>" in html
    assert "<br>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<code>code</code>" in html


def test_markdown_renders_tables_and_strikethrough():
    html = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~")
    assert "<table>" in html and "<td>1</td>" in html
    assert "<s>gone</s>" in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="https://example.com" onclick="steal()">click</a>',
        "<iframe src=https://evil.example></iframe>",
        "<style>body{display:none}</style>",
    ],
)
def test_raw_html_in_markdown_is_shown_as_text(source):
    html = render_markdown(source)
    assert (
        "<script" not in html
        and "<img" not in html
        and "<iframe" not in html
        and "<style" not in html
    )
    assert "<a " not in html
    assert "&lt;" in html  # the reader sees the markup they typed, escaped


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        "[x](<javascript:alert(1)>)",
    ],
)
def test_markdown_links_with_dangerous_schemes_are_not_links(source):
    html = render_markdown(source)
    assert "href=" not in html.lower()
    assert "src=" not in html.lower()


def test_markdown_link_gets_rel_noopener():
    assert render_markdown("[docs](https://example.com/help)") == (
        f'<p><a href="https://example.com/help" {REL}>docs</a></p>\n'
    )


def test_markdown_mail_link_is_kept():
    assert f'href="mailto:it@example.com" {REL}' in render_markdown(
        "[mail us](mailto:it@example.com)"
    )


def test_empty_markdown_is_empty():
    assert render_markdown("") == ""
    assert render_markdown(None) == ""


# --- HTML ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<script>alert(1)</script><p>ok</p>", "<p>ok</p>"),
        ("<p>a<script src=https://evil.example/x.js></script>b</p>", "<p>ab</p>"),
        ("<svg><script>alert(1)</script></svg>", ""),
        ("<style>body{}</style>text", "text"),
        ("<iframe src=https://evil.example></iframe>", ""),
        ("<form action=https://evil.example><input name=password></form>", ""),
        ("<!-- hidden --><b>shown</b>", "<b>shown</b>"),
        ('<p style="color:red" class="x" id="y" lang="fr">p</p>', '<p lang="fr">p</p>'),
    ],
)
def test_sanitize_keeps_the_harmless_part(dirty, clean):
    assert sanitize_html(dirty) == clean


@pytest.mark.parametrize(
    "dirty",
    [
        "<img src=x onerror=alert(1)>",
        '<p onclick="steal()">p</p>',
        '<a href="https://example.com" onmouseover="steal()">a</a>',
        '<body onload="steal()">b</body>',
        '<div ONCLICK="steal()">d</div>',
    ],
)
def test_sanitize_removes_event_handlers(dirty):
    assert " on" not in sanitize_html(dirty).lower()


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_sanitize_drops_dangerous_urls(href):
    html = sanitize_html(f'<a href="{href}">x</a><img src="{href}">')
    assert "href=" not in html
    assert "src=" not in html


def test_sanitize_links_get_rel_noopener_whatever_they_said():
    html = sanitize_html('<a href="https://example.com" rel="opener" target="_blank">x</a>')
    assert html == f'<a href="https://example.com" {REL}>x</a>'


def test_sanitize_keeps_inline_mail_images():
    assert (
        sanitize_html('<img src="cid:logo@mail" alt="Logo">')
        == '<img src="cid:logo@mail" alt="Logo">'
    )


@pytest.mark.parametrize(
    "src",
    [
        "https://tracker.example/p.gif",
        "http://x/p.png",
        "//tracker.example/p.gif",
        "data:image/png;base64,AA",
    ],
)
def test_remote_images_are_dropped_so_reading_a_ticket_tells_no_tracker(src):
    html = sanitize_html(f'<img src="{src}" alt="pixel">')
    assert "src=" not in html
    assert 'alt="pixel"' in html


def test_images_from_the_message_itself_or_from_comptoir_are_kept():
    assert 'src="cid:logo"' in sanitize_html('<img src="cid:logo">')
    assert 'src="/api/v1/tickets/IT-000001/attachments/1/download"' in sanitize_html(
        '<img src="/api/v1/tickets/IT-000001/attachments/1/download">'
    )
