"""The rows of a person's list of requests, printed in Python (ADR 16).

Through the template engine each row cost two URL reversals, three translations, a status
label and two date formats: about 0.1 ms a row, a 25-row page's largest part. Here a page
reverses one URL and translates each label and status once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from comptoir.core.templatetags.comptoir_ui import status_label
from comptoir.tickets.models import Ticket

#: Stands for the reference in the one reversed URL (references are letters, digits and "-").
_MARK = "REF0"


def ticket_link(view: str) -> Callable[[str], str]:
    """The link to a ticket's page of ``view`` (``portal:ticket``, ``workspace:ticket``) for a
    reference, from one URL reversed once per page."""
    pattern = reverse(view, kwargs={"ref": _MARK})
    return lambda ref: pattern.replace(_MARK, quote(ref))


class Words:
    """A page's statuses and priorities in words, each translated once (not escaped)."""

    def __init__(self) -> None:
        self._statuses: dict[tuple[str, str], str] = {}
        self._priorities: dict[int, str] = {}

    def status(self, ticket: Ticket) -> str:
        key = (ticket.kind, ticket.status)
        if key not in self._statuses:
            self._statuses[key] = status_label(ticket)
        return self._statuses[key]

    def priority(self, ticket: Ticket) -> str:
        if ticket.priority not in self._priorities:
            self._priorities[ticket.priority] = str(ticket.get_priority_display())
        return self._priorities[ticket.priority]


#: One request; every value put in it is escaped first (``request_rows_html``).
_ROW = (
    "    <tr>\n"
    '      <td class="ref"><a href="{href}">{ref}</a></td>\n'
    '      <td><a href="{href}">{title}</a>{requester}</td>\n'
    '      <td data-label="{l_status}"><span class="badge status-{category}">{status}</span></td>\n'
    '      <td data-label="{l_opened}">{opened}</td>\n'
    '      <td data-label="{l_changed}">{changed}</td>\n'
    "    </tr>\n"
)


def request_rows_html(tickets: Iterable[Ticket], *, with_requester: bool) -> SafeString:
    """The ``<tr>`` of each request, read with its requester; ``with_requester`` names who
    asked (the organisation's list). A title or a name never becomes markup."""
    link = ticket_link("portal:ticket")
    labels = {
        "l_status": escape(gettext("Status")),
        "l_opened": escape(gettext("Opened")),
        "l_changed": escape(gettext("Last change")),
    }
    words = Words()
    printed = []
    for ticket in tickets:
        requester = (
            f' <span class="muted">— {escape(ticket.requester.name)}</span>'
            if with_requester
            else ""
        )
        printed.append(
            _ROW.format(
                href=escape(link(ticket.ref)),
                ref=escape(ticket.ref),
                title=escape(ticket.title),
                requester=requester,
                category=escape(ticket.status_category),
                status=escape(words.status(ticket)),
                opened=escape(
                    date_format(timezone.localtime(ticket.created_at), "SHORT_DATE_FORMAT")
                ),
                changed=escape(
                    date_format(timezone.localtime(ticket.updated_at), "SHORT_DATETIME_FORMAT")
                ),
                **labels,
            )
        )
    return mark_safe("".join(printed))  # noqa: S308 (each value escaped above)
