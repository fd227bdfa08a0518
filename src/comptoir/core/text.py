"""Text from outside, made safe: Markdown rendered then sanitised, HTML sanitised."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "*": {"lang"},
}
URL_SCHEMES = {"http", "https", "mailto", "cid"}

_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    .enable("table")
    .enable("strikethrough")
)


def _no_remote_images(element: str, attribute: str, value: str) -> str | None:
    """Images load only from inside the message (``cid:``) or from Comptoir itself.

    A remote image is a tracking pixel: opening a ticket would tell a stranger who read it, when.
    """
    if element == "img" and attribute == "src":
        lowered = value.strip().lower()
        if not (
            lowered.startswith("cid:") or (lowered.startswith("/") and not lowered.startswith("//"))
        ):
            return None
    return value


def sanitize_html(html: str) -> str:
    """Keep the harmless part of ``html``: no script, no style, no event handler, no javascript: URL,
    no remote image."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_no_remote_images,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Markdown to safe HTML. Raw HTML in the source is shown as text, never interpreted."""
    return sanitize_html(_markdown.render(text or ""))
