"""Every read of the workspace that depends on who asks (rule 2).

A ticket's relations as its page shows them (built on ``tickets.selectors.tickets_visible_to``:
a ticket one may not see is never named), an agent's saved filters, and the canned responses
an agent may use or manage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from comptoir.accounts.permissions import is_staff_on, staff_desk_ids
from comptoir.core.actor import Actor
from comptoir.core.errors import NotFound
from comptoir.core.lookups import any_row
from comptoir.tickets import selectors as ticket_selectors
from comptoir.tickets.models import Ticket, TicketLink
from comptoir.tickets.selectors import visible_among
from comptoir.workspace import permissions as perms
from comptoir.workspace.models import CannedResponse, SavedFilter

#: At most this many children are listed on a ticket's page; the others are counted.
CHILDREN_SHOWN = 50
#: At most this many links are listed each way (a ticket with more is a problem of its own).
LINKS_SHOWN = 100
#: At most this many canned responses are offered at once by the composer's picker.
PICKER_SHOWN = 20
#: What every line about a ticket shows of it: its reference, title, kind and state.
_BRIEF_FIELDS = ("id", "ref", "title", "kind", "status", "status_category", "desk_id")
#: What a line about another ticket reads from it (with what its visibility is decided by).
_OTHER_FIELDS = (*_BRIEF_FIELDS, "requester_id", "organisation_id")
#: What a list's row reads of its ticket (the sort keys included: the next page's cursor holds
#: one) and of the two people it names; a ticket's description, often kilobytes, is not read.
_ROW_FIELDS = (
    *_BRIEF_FIELDS,
    "priority",
    "sla_due_at",
    "sla_breached",
    "created_at",
    "updated_at",
    "requester__display_name",
    "requester__email",
    "assignee__display_name",
    "assignee__email",
)


def row_query(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """``tickets`` read for a list's rows (``workspace.rows``): one query, whatever the page size."""
    return tickets.select_related("requester", "assignee").only(*_ROW_FIELDS)


@dataclass
class Related:
    """Another ticket linked to this one: the link's kind, and which way it points."""

    kind: str  # duplicate_of, caused_by or related
    outgoing: bool  # this ticket → the other ("duplicate of"), else the other → this one
    other: Ticket


@dataclass
class Relations:
    """A ticket's parent, children and typed links, as far as the reader may see them."""

    parent: Ticket | None = None
    #: The ticket has a parent the reader may not see (another desk's).
    hidden_parent: bool = False
    children: list[Ticket] = field(default_factory=list)
    more_children: int = 0
    links: list[Related] = field(default_factory=list)


def relations_of(actor: Actor, ticket: Ticket) -> Relations:
    """The parent, children and links of ``ticket`` that ``actor`` may see.

    Three statements written out ask whether it has children and links either way (most
    tickets have none); then one small query each for its parent, children and links, plus one
    for the watched tickets of another desk when there are any. The related tickets are read
    without the visibility filter, whose compiling cost more than the reads, and the rule is
    applied to them in hand (``visible_among``). Only past ``CHILDREN_SHOWN`` children or
    ``LINKS_SHOWN`` links does the filter go into the query, so that the page is filled with
    visible ones and the rest counted.
    """
    found = Relations()
    if ticket.parent_id is not None:
        parent = Ticket.objects.filter(pk=ticket.parent_id).only(*_OTHER_FIELDS).first()
        if parent is not None and parent.pk in visible_among(actor, [parent]):
            found.parent = parent
        found.hidden_parent = found.parent is None
    children = []
    if any_row(Ticket, parent=ticket.pk):
        children = list(
            Ticket.objects.filter(parent_id=ticket.pk)
            .only(*_OTHER_FIELDS)
            .order_by("id")[: CHILDREN_SHOWN + 1]
        )
    if len(children) > CHILDREN_SHOWN:  # many: let the query pick the visible ones and count
        visible = ticket_selectors.tickets_visible_to(actor).filter(parent_id=ticket.pk)
        children = list(visible.only(*_OTHER_FIELDS).order_by("id")[: CHILDREN_SHOWN + 1])
        if len(children) > CHILDREN_SHOWN:
            children = children[:CHILDREN_SHOWN]
            found.more_children = visible.count() - CHILDREN_SHOWN
    else:
        seen = visible_among(actor, children)
        children = [child for child in children if child.pk in seen]
    found.children = children
    links = []
    if any_row(TicketLink, source=ticket.pk) or any_row(TicketLink, target=ticket.pk):
        links = _links_of(ticket, None)
    if len(links) > 2 * LINKS_SHOWN:
        links = _links_of(ticket, ticket_selectors.tickets_visible_to(actor).values("pk"))
    else:
        seen = visible_among(actor, [related.other for related in links])
        links = [related for related in links if related.other.pk in seen]
    outgoing = [related for related in links if related.outgoing][:LINKS_SHOWN]
    incoming = [related for related in links if not related.outgoing][:LINKS_SHOWN]
    found.links = sorted(outgoing + incoming, key=lambda r: (r.kind, not r.outgoing, r.other.ref))
    return found


def _links_of(ticket: Ticket, visible: QuerySet[Ticket, Any] | None) -> list[Related]:
    """The ticket's links, oldest first: without ``visible``, both ways in one query
    (``2 * LINKS_SHOWN + 1`` at most); with it, ``LINKS_SHOWN`` each way to its tickets."""
    ways = [Q(source_id=ticket.pk) | Q(target_id=ticket.pk)]
    shown = 2 * LINKS_SHOWN + 1
    if visible is not None:
        ways = [
            Q(source_id=ticket.pk, target__in=visible),
            Q(target_id=ticket.pk, source__in=visible),
        ]
        shown = LINKS_SHOWN
    fields = (
        "kind",
        "source",
        "target",
        *(f"{end}__{name}" for end in ("source", "target") for name in _OTHER_FIELDS),
    )
    found = []
    for way in ways:
        rows = TicketLink.objects.filter(way).select_related("source", "target").only(*fields)
        found += [
            Related(link.kind, True, link.target)
            if link.source_id == ticket.pk
            else Related(link.kind, False, link.source)
            for link in rows.order_by("id")[:shown]
        ]
    return found


# --- saved filters ---------------------------------------------------------------------------


def saved_filters_of(actor: Actor) -> QuerySet[SavedFilter]:
    """The person's own saved filters, by name; nobody else's, ever."""
    if actor.user is None or not perms.can_keep_saved_filters(actor):
        return SavedFilter.objects.none()
    return SavedFilter.objects.filter(owner_id=actor.user.pk).order_by("name", "id")


def get_saved_filter_for(actor: Actor, saved_id: int) -> SavedFilter:
    """One of the person's saved filters; another's and a missing one both raise NotFound."""
    found = saved_filters_of(actor).filter(pk=saved_id).first()
    if found is None:
        raise NotFound("saved filter", {"id": saved_id})
    return found


# --- canned responses ------------------------------------------------------------------------


def canned_responses_visible_to(actor: Actor) -> QuerySet[CannedResponse]:
    """The shared responses of the desks one works, and one's own; nobody else's own."""
    if actor.user is None or not perms.is_agent(actor):
        return CannedResponse.objects.none()
    rule = Q(owner_id=actor.user.pk)
    if actor.is_superuser:
        rule |= Q(desk__isnull=False)
    else:
        rule |= Q(desk_id__in=sorted(staff_desk_ids(actor)))
    return CannedResponse.objects.filter(rule)


def canned_responses_for_ticket(
    actor: Actor, ticket: Ticket, query: str = ""
) -> list[CannedResponse]:
    """What the composer offers on ``ticket``: its desk's shared responses and one's own,
    by title, those whose title or text holds ``query``; ``PICKER_SHOWN`` at most."""
    if actor.user is None or not perms.is_agent(actor):
        return []
    rule = Q(owner_id=actor.user.pk)
    if is_staff_on(actor, ticket.desk_id):
        rule |= Q(desk_id=ticket.desk_id)
    found = CannedResponse.objects.filter(rule).select_related("desk")
    if query:
        found = found.filter(Q(title__icontains=query) | Q(body__icontains=query))
    return list(found.order_by("title", "id")[:PICKER_SHOWN])


def get_canned_response_for(actor: Actor, response_id: int) -> CannedResponse:
    """A response ``actor`` may use; missing and another's own both raise NotFound."""
    found = (
        canned_responses_visible_to(actor)
        .select_related("desk", "owner")
        .filter(pk=response_id)
        .first()
    )
    if found is None:
        raise NotFound("canned response", {"id": response_id})
    return found
