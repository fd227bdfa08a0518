"""The rows of a ticket list, worked out and printed in Python once per page.

Through template tags and lazy labels, each row cost about two URL reversals, a dozen
translations and an SLA computation: most of a 50-row page's time. Here a page reverses one URL,
translates each status and priority once, and reads the clock once. Printed by the template
engine, the rows still cost about 65 µs each, a quarter of a 50-row list page; ``rows_html``
prints them, with the escaping Django's templates apply (``html.escape``), in about 7 µs, as
``core.forms_renderer`` prints select boxes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from comptoir.core.templatetags.comptoir_ui import sla_state
from comptoir.portal.rows import Words, ticket_link
from comptoir.search.selectors import TicketHit
from comptoir.tickets.models import Ticket


@dataclass(frozen=True, slots=True)
class Row:
    ticket: Ticket
    href: str
    status: str
    priority: str
    sla: dict[str, str]  # sla_state's css, text and title; an empty text shows no badge


def list_rows(tickets: Iterable[Ticket]) -> list[Row]:
    """The rows of ``tickets`` (read through ``selectors.row_query``), in their order."""
    link = ticket_link("workspace:ticket")
    now = timezone.now()
    words = Words()
    rows = []
    for ticket in tickets:
        rows.append(
            Row(
                ticket=ticket,
                href=link(ticket.ref),
                status=words.status(ticket),
                priority=words.priority(ticket),
                sla=sla_state(ticket, now),
            )
        )
    return rows


#: One row of the list's table; every value put in it is escaped first (``rows_html``).
_ROW = (
    "  <tr data-row>\n"
    '    <td class="pick"><input type="checkbox" name="tickets" value="{ref}" id="pick-{ref}"'
    ' aria-label="{pick}"></td>\n'
    '    <td class="ref"><a href="{href}" data-open>{ref}</a></td>\n'
    '    <td><a href="{href}">{title}</a></td>\n'
    '    <td data-label="{l_requester}">{requester}</td>\n'
    '    <td data-label="{l_priority}"><span class="badge p{priority_value}">{priority}</span></td>\n'
    '    <td data-label="{l_status}"><span class="badge status-{category}">{status}</span></td>\n'
    '    <td data-label="{l_assignee}">{assignee}</td>\n'
    '    <td data-label="{l_sla}">{sla}</td>\n'
    "  </tr>\n"
)
_SLA = '<span class="badge {css}" title="{title}">{text}</span>'


def rows_html(rows: Iterable[Row]) -> SafeString:
    """The ``<tr>`` of each row, every value from the ticket escaped as the template engine
    escapes it (Django's ``escape`` is ``html.escape``): a title, a name or a reference never
    becomes markup."""
    labels = {
        "l_requester": escape(gettext("Requester")),
        "l_priority": escape(gettext("Priority")),
        "l_status": escape(gettext("Status")),
        "l_assignee": escape(gettext("Assignee")),
        "l_sla": escape(gettext("SLA")),
    }
    nobody = '<span class="muted">{}</span>'.format(escape(gettext("Nobody")))
    pick = gettext("Select %(ref)s")
    printed = []
    for row in rows:
        ticket = row.ticket
        ref = escape(ticket.ref)
        sla = row.sla
        printed.append(
            _ROW.format(
                ref=ref,
                pick=escape(pick % {"ref": ticket.ref}),
                href=escape(row.href),
                title=escape(ticket.title),
                requester=escape(ticket.requester.name),
                priority_value=ticket.priority,
                priority=escape(row.priority),
                category=escape(ticket.status_category),
                status=escape(row.status),
                assignee=escape(ticket.assignee.name) if ticket.assignee else nobody,
                sla=_SLA.format(
                    css=escape(sla["css"]), title=escape(sla["title"]), text=escape(sla["text"])
                )
                if sla["text"]
                else "",
                **labels,
            )
        )
    return mark_safe("".join(printed))  # noqa: S308 (each value escaped above)


#: One ticket found by a search; the title and snippet come marked up and escaped by the
#: search (``<mark>`` around the words found), everything else is escaped here.
_HIT = (
    '    <li class="hit" data-hit="{ref}">\n'
    '      <p class="hit-head"><a class="ref" href="{href}">{ref}</a>\n'
    '        <a href="{href}">{title}</a>\n'
    "        {exact}</p>\n"
    '      <p class="hit-meta"><span class="badge status-{category}">{status}</span>\n'
    '        <span class="badge p{priority_value}">{priority}</span>\n'
    "        {desk} · {requester} · {assignee}\n"
    '        · <time datetime="{iso}">{when}</time></p>\n'
    "      {snippet}\n"
    "    </li>\n"
)


def hits_html(hits: Iterable[TicketHit]) -> SafeString:
    """The ``<li>`` of each ticket a search found (``search.selectors.TicketHit``), printed
    here for the reason ``rows_html`` is: through the template engine, each cost two URL
    reversals, two date formats and a dozen lookups."""
    link = ticket_link("workspace:ticket")
    exact = '<span class="badge">{}</span>'.format(escape(gettext("Exact match")))
    nobody = escape(gettext("Nobody"))
    words = Words()
    printed = []
    for hit in hits:
        ticket = hit.ticket
        updated = timezone.localtime(ticket.updated_at)
        printed.append(
            _HIT.format(
                ref=escape(ticket.ref),
                href=escape(link(ticket.ref)),
                title=hit.title or escape(ticket.title),
                exact=exact if hit.exact else "",
                category=escape(ticket.status_category),
                status=escape(words.status(ticket)),
                priority_value=ticket.priority,
                priority=escape(words.priority(ticket)),
                desk=escape(ticket.desk.name),
                requester=escape(ticket.requester.name),
                assignee=escape(ticket.assignee.name) if ticket.assignee else nobody,
                iso=escape(date_format(updated, "c")),
                when=escape(date_format(updated, "SHORT_DATETIME_FORMAT")),
                snippet=f'<p class="hit-snippet">{hit.snippet}</p>' if hit.snippet else "",
            )
        )
    return mark_safe("".join(printed))  # noqa: S308 (each value escaped above or by the search)
