"""Template helpers of the web UI: inline icons and the SLA badge.

``{% load comptoir_ui %}`` then ``{% icon "clock" %}`` or ``{% sla_badge ticket %}``. The icons are
drawn here, a few strokes each on a 24-unit grid, so the pages load no icon font or sprite.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

register = template.Library()

_ICONS = {
    "inbox": '<path d="M3 13h5l2 3h4l2-3h5"/><path d="M5 5h14l2 8v6H3v-6z"/>',
    "user": '<circle cx="12" cy="8" r="4"/><path d="M4 21c0-4 4-6 8-6s8 2 8 6"/>',
    "users": '<circle cx="9" cy="8" r="3.5"/><path d="M2 20c0-3.5 3-5.5 7-5.5s7 2 7 5.5"/>'
    '<path d="M16 4.5a3.5 3.5 0 0 1 0 7M19 14.8c1.8.8 3 2.5 3 5.2"/>',
    "clock": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
    "alert": '<path d="M12 3 2 20h20z"/><path d="M12 10v4M12 17v.5"/>',
    "list": '<path d="M8 6h13M8 12h13M8 18h13M3 6h.5M3 12h.5M3 18h.5"/>',
    "clip": '<path d="M20 11.5 12 19.5a5 5 0 0 1-7-7L13.5 4a3.3 3.3 0 0 1 4.7 4.7L10 17a1.6 1.6 0 0 1-2.3-2.3L15 7.5"/>',
    "lock": '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
    "reply": '<path d="M9 7 4 12l5 5"/><path d="M4 12h10a6 6 0 0 1 6 6v1"/>',
    "check": '<path d="m4 12 5 5L20 6"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "out": '<path d="M15 4h4v16h-4"/><path d="M10 8l-4 4 4 4M6 12h10"/>',
    "desk": '<rect x="3" y="4" width="18" height="12" rx="1.5"/><path d="M8 20h8M12 16v4"/>',
    "dot": '<circle cx="12" cy="12" r="3"/>',
}


@register.simple_tag
def icon(name: str, label: str = "") -> SafeString:
    """An inline SVG icon; decorative (hidden from screen readers) unless given a label."""
    body = _ICONS.get(name, _ICONS["dot"])
    if label:
        return format_html(
            '<svg class="icon" viewBox="0 0 24 24" role="img" aria-label="{}">{}</svg>',
            label,
            mark_safe(body),  # noqa: S308 (our own constant markup)
        )
    return mark_safe(  # noqa: S308 (our own constant markup)
        f'<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">{body}</svg>'
    )


def duration_words(delta: timedelta) -> str:
    """A short span a reader takes in at a glance: ``3 d 4 h``, ``2 h 05 min``, ``12 min``."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": mins}
    return _("%(minutes)d min") % {"minutes": mins}


#: Under this much time left, the badge turns amber.
SOON = timedelta(hours=4)


def sla_state(ticket: Any, now: datetime | None = None) -> dict[str, str]:
    """What the SLA badge says: a CSS class, a short text, and a title with the due time."""
    now = now or timezone.now()
    due = getattr(ticket, "sla_due_at", None)
    breached = bool(getattr(ticket, "sla_breached", False))
    if due is None:
        if breached:
            return {"css": "sla-breached", "text": _("Breached"), "title": ""}
        return {"css": "", "text": "", "title": ""}
    local = timezone.localtime(due)
    title = _("Due %(when)s") % {"when": local.strftime("%Y-%m-%d %H:%M %Z")}
    left = due - now
    if left <= timedelta(0):
        text = _("Overdue by %(span)s") % {"span": duration_words(left)}
        return {"css": "sla-breached", "text": text, "title": title}
    text = _("%(span)s left") % {"span": duration_words(left)}
    if breached:
        return {"css": "sla-breached", "text": text, "title": title}
    return {"css": "sla-soon" if left <= SOON else "sla-ok", "text": text, "title": title}


@register.simple_tag
def sla_badge(ticket: Any) -> SafeString:
    """The SLA badge of a ticket, in the reader's time zone; nothing without a running clock."""
    state = sla_state(ticket)
    if not state["text"]:
        return mark_safe("")  # noqa: S308 (empty)
    return format_html(
        '<span class="badge {}" title="{}">{}</span>', state["css"], state["title"], state["text"]
    )


@register.filter
def status_label(ticket: Any) -> str:
    """A ticket's status in words, from its lifecycle (``{{ ticket|status_label }}``)."""
    try:
        return str(ticket.lifecycle.state(ticket.status).label)
    except (AttributeError, KeyError):
        return str(getattr(ticket, "status", ""))
