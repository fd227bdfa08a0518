"""Every read of tickets that depends on who asks goes through here (rule 2)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import cast

from django.db import connection
from django.db.models import (
    Exists,
    ForeignKey,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    prefetch_related_objects,
)

from comptoir.accounts.models import Organisation, Team, User
from comptoir.accounts.permissions import is_staff_on, staff_desk_ids
from comptoir.core.actor import Actor
from comptoir.core.errors import NotFound
from comptoir.core.sql import column, columns, instances, table
from comptoir.desks.models import Category
from comptoir.desks.selectors import desks_by_id
from comptoir.tickets.models import Attachment, Comment, Rating, Ticket, TicketEvent


def tickets_visible_to(actor: Actor) -> QuerySet[Ticket]:
    """The tickets ``actor`` may see.

    Staff see every ticket of their desks; a person sees the tickets they asked for, the ones
    they watch, and their organisation's when the organisation shares them.
    """
    tickets = Ticket.objects.all()
    if actor.is_system or actor.is_superuser:
        return tickets
    user = actor.user
    if user is None or not user.is_active:
        return tickets.none()
    rule = Q(requester=user)
    desks = staff_desk_ids(actor)
    if desks:
        rule |= Q(desk_id__in=desks)
    if user.organisation is not None and user.organisation.members_see_all_tickets:
        rule |= Q(organisation_id=user.organisation_id)
    watched = Ticket.watchers.through.objects.filter(ticket_id=OuterRef("pk"), user_id=user.pk)
    rule |= Q(Exists(watched))
    return tickets.filter(rule)


def can_see_ticket(actor: Actor, ticket: Ticket) -> bool:
    """The rule of ``tickets_visible_to`` for one ticket already in hand.

    Reading one ticket by its reference then checking it costs a fraction of compiling and
    running the whole visibility filter; a test holds the two to the same answers.
    """
    return ticket.pk in visible_among(actor, [ticket])


def visible_among(actor: Actor, tickets: Iterable[Ticket]) -> set[int]:
    """The ids of ``tickets`` (read with their desk, requester and organisation) that ``actor``
    may see, by the rule of ``tickets_visible_to``; one query at most, for the watched ones."""
    tickets = list(tickets)
    if actor.is_system or actor.is_superuser:
        return {ticket.pk for ticket in tickets}
    user = actor.user
    if user is None or not user.is_active:
        return set()
    seen: set[int] = set()
    others: list[int] = []
    for ticket in tickets:
        if (
            ticket.requester_id == user.pk
            or is_staff_on(actor, ticket.desk_id)
            or (
                user.organisation_id is not None
                and ticket.organisation_id == user.organisation_id
                and user.organisation is not None  # read once, then kept on the user
                and user.organisation.members_see_all_tickets
            )
        ):
            seen.add(ticket.pk)
        else:
            others.append(ticket.pk)
    if others:
        watched = Ticket.watchers.through.objects.filter(user_id=user.pk, ticket_id__in=others)
        seen.update(watched.values_list("ticket_id", flat=True))
    return seen


def tickets_of_desk_for(actor: Actor, desk_id: int) -> QuerySet[Ticket]:
    """A desk's tickets as ``actor`` sees them; for staff a plain desk filter the index serves."""
    if is_staff_on(actor, desk_id):
        return Ticket.objects.filter(desk_id=desk_id)
    return tickets_visible_to(actor).filter(desk_id=desk_id)


def last_desk_of(user_id: int) -> int | None:
    """The desk of the newest request this person opened, or None: where a new one most
    likely goes. Read through the requester's index, as their list of requests is."""
    return (
        Ticket.objects.filter(requester_id=user_id)
        .order_by("-created_at", "-id")
        .values_list("desk_id", flat=True)
        .first()
    )


def normalise_ref(ref: str) -> str:
    return (ref or "").strip().upper()


def get_ticket_for(actor: Actor, ref: str, *, for_update: bool = False) -> Ticket:
    """The ticket ``ref`` if ``actor`` may see it; missing and forbidden raise the same NotFound.

    ``for_update`` locks its row for a change, and reads its other relations only when the
    change uses them: on SQLite the whole write lock is held from here, and a reply or an
    action needs few of what its answer would show.
    """
    if for_update:
        tickets = Ticket.objects.select_related(*_JOINED).select_for_update(of=("self",))
        found = list(tickets.filter(ref=normalise_ref(ref)).order_by()[:1])  # unique
        ticket = found[0] if found else None
    else:
        ticket = _shown_ticket(normalise_ref(ref))
    if ticket is None or not can_see_ticket(actor, ticket):
        raise NotFound("ticket", {"ref": ref})
    if not for_update:
        add_list_relations([ticket], ("desk", "parent", "merged_into"))
    return ticket


#: The relations a ticket's page shows that ``_shown_ticket`` reads with it, by join.
_PAGE_JOINED: tuple[tuple[str, type[Model]], ...] = (
    ("requester", User),
    ("assignee", User),
    ("organisation", Organisation),
    ("category", Category),
    ("team", Team),
)


@cache
def _page_relation(name: str) -> ForeignKey:
    return cast(ForeignKey, Ticket._meta.get_field(name))


@cache
def _shown_sql(vendor: str) -> str:
    t = Ticket
    select = ", ".join(
        [columns(t, "t"), *(columns(model, f"j{n}") for n, (_, model) in enumerate(_PAGE_JOINED))]
    )
    joins = " ".join(
        f"{'LEFT JOIN' if _page_relation(name).null else 'JOIN'} {table(model)} j{n} "
        f"ON j{n}.{column(model, 'id')} = t.{column(t, name)}"
        for n, (name, model) in enumerate(_PAGE_JOINED)
    )
    return f"SELECT {select} FROM {table(t)} t {joins} WHERE t.{column(t, 'ref')} = %s"  # noqa: S608


def _shown_ticket(ref: str) -> Ticket | None:
    """The ticket ``ref`` with its requester, assignee, organisation, category and team: one
    statement written out (``core.sql``), as every ticket page and the API's ticket read it.
    Through the ORM the same join took 1.6 ms in-process, most of it building the statement;
    written out, 0.56 ms. ``ref`` is unique."""
    with connection.cursor() as cursor:
        cursor.execute(_shown_sql(connection.vendor), [ref])
        row = cursor.fetchone()
    if row is None:
        return None
    ticket, *related = instances((Ticket, *(model for _, model in _PAGE_JOINED)), row)
    for (name, _), value in zip(_PAGE_JOINED, related, strict=True):
        relation = _page_relation(name)
        # A row gone since (a LEFT JOIN's NULL under a set key) is left for the ORM to report.
        if value is not None or getattr(ticket, relation.attname) is None:
            relation.set_cached_value(ticket, value)
    return ticket


#: The relations a list row (and a ticket locked for a change) reads. Two are joined; the rest
#: come in one small query each: a nine-table join costs PostgreSQL more to plan than to run,
#: on every request. A ticket's page joins five (``_PAGE_JOINED``: 0.39 ms to plan).
_JOINED = ("requester", "assignee")
_PREFETCHED: tuple[str | Prefetch, ...] = (
    "desk",
    "organisation",
    "category",
    "team",
    Prefetch("parent", queryset=Ticket.objects.only("id", "ref")),
    Prefetch("merged_into", queryset=Ticket.objects.only("id", "ref")),
)
#: The names of ``_PREFETCHED``: what a list row shows besides the requester and assignee.
LIST_RELATIONS = tuple(p.prefetch_to if isinstance(p, Prefetch) else p for p in _PREFETCHED)


def with_requester(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What a person's list of requests shows of each ticket: its requester; neither its
    description nor its other relations."""
    return tickets.select_related("requester").defer("description", "description_html")


def with_list_relations(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What a list row shows, fetched in a fixed number of queries whatever the page size.

    Tags are read separately with ``tag_names_of`` (one query, no model per tag).
    """
    return tickets.select_related(*_JOINED).prefetch_related(*_PREFETCHED)


def list_relations_of(
    tickets: QuerySet[Ticket], relations: tuple[str, ...] = LIST_RELATIONS
) -> list[Ticket]:
    """``with_list_relations``, read now, for tickets chosen by id (a search's candidates), in
    no order; of the other relations, only ``relations`` (``add_list_relations``). The
    requesters and assignees come in one query by id: joined, a few dozen tickets made
    PostgreSQL scan and hash the whole user table, twice."""
    rows = list(tickets.order_by())
    users = User.objects.order_by().in_bulk(
        {t.requester_id for t in rows} | {t.assignee_id for t in rows if t.assignee_id}
    )
    for ticket in rows:
        ticket.requester = users[ticket.requester_id]  # protected: never deleted under a ticket
        if ticket.assignee_id:  # one deleted since the ticket was read: unassigned, as it now is
            ticket.assignee = users.get(ticket.assignee_id)
    add_list_relations(rows, relations)
    return rows


def add_list_relations(rows: list[Ticket], relations: tuple[str, ...] = LIST_RELATIONS) -> None:
    """The ``relations`` of what a list row shows that ``rows`` were read without: one query
    per relation some row has and none has yet (a query built and compiled for nothing
    otherwise), the desk from the desks' cache (``desks_by_id``)."""
    if "desk" in relations:
        unread = [t for t in rows if not Ticket.desk.is_cached(t)]
        desks = desks_by_id(t.desk_id for t in unread)
        for ticket in unread:
            if ticket.desk_id in desks:  # else deleted meanwhile: read as the ORM would
                ticket.desk = desks[ticket.desk_id]
    wanted = [
        p
        for p, name in zip(_PREFETCHED, LIST_RELATIONS, strict=True)
        if name in relations and name != "desk" and any(getattr(t, f"{name}_id") for t in rows)
    ]
    prefetch_related_objects(rows, *wanted)


def visible_by_id(
    actor: Actor, ids: Iterable[int], relations: tuple[str, ...] = LIST_RELATIONS
) -> list[Ticket]:
    """The tickets of ``ids`` that ``actor`` may see, in no order, read with what a list row
    shows (``list_relations_of``: of the other relations, only ``relations``) and checked on
    the rows read (``visible_among``): for a few dozen ids, no statement compiles and plans
    the visibility rule around them."""
    rows = list_relations_of(Ticket.objects.filter(pk__in=list(ids)), relations)
    seen = visible_among(actor, rows)
    return [ticket for ticket in rows if ticket.pk in seen]


def tag_names_of(ticket_ids: list[int]) -> dict[int, list[str]]:
    """Ticket id → its tag names, sorted, for a page of tickets in one query."""
    names: dict[int, list[str]] = {ticket_id: [] for ticket_id in ticket_ids}
    rows = Ticket.tags.through.objects.filter(ticket_id__in=ticket_ids).values_list(
        "ticket_id", "tag__name"
    )
    for ticket_id, name in rows:
        names[ticket_id].append(name)
    return {ticket_id: sorted(tags) for ticket_id, tags in names.items()}


def comments_visible_to(actor: Actor, ticket: Ticket) -> QuerySet[Comment]:
    comments = ticket.comments.select_related("author").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
    )
    if not is_staff_on(actor, ticket.desk_id):
        comments = comments.filter(public=True)
    return comments


def attachments_visible_to(actor: Actor, ticket: Ticket) -> QuerySet[Attachment]:
    attachments = ticket.attachments.all()
    if not is_staff_on(actor, ticket.desk_id):
        attachments = attachments.filter(public=True)
    return attachments


def get_attachment_for(actor: Actor, ticket: Ticket, attachment_id: int) -> Attachment:
    attachment = attachments_visible_to(actor, ticket).filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound("attachment", {"id": attachment_id})
    return attachment


def events_visible_to(actor: Actor, ticket: Ticket) -> QuerySet[TicketEvent]:
    events = ticket.events.select_related("actor_user").order_by("created_at", "id")
    if not is_staff_on(actor, ticket.desk_id):
        events = events.filter(public=True)
    return events


SORT_KEYS = {
    "created": ("created_at", False, True),
    "-created": ("created_at", True, True),
    "updated": ("updated_at", False, True),
    "-updated": ("updated_at", True, True),
    "priority": ("priority", False, False),
    "-priority": ("priority", True, False),
    # Only tickets with a running SLA clock have a due time: sorting by it lists those.
    "due": ("sla_due_at", False, True),
}


def filter_tickets(
    actor: Actor, *, desk_ids: list[int] | None = None, **filters
) -> QuerySet[Ticket]:
    """Tickets visible to ``actor`` narrowed by list filters (already resolved to ids)."""
    if desk_ids and len(desk_ids) == 1:
        tickets = tickets_of_desk_for(actor, desk_ids[0])
    else:
        tickets = tickets_visible_to(actor)
        if desk_ids:
            tickets = tickets.filter(desk_id__in=desk_ids)
    lookups = {
        "kind": "kind__in",
        "status": "status__in",
        "status_category": "status_category__in",
        "priority": "priority__in",
        "requester_id": "requester_id",
        "organisation_id": "organisation_id",
        "created_after": "created_at__gte",
        "created_before": "created_at__lt",
        "updated_after": "updated_at__gte",
        "updated_before": "updated_at__lt",
        "breached": "sla_breached",
        "due_before": "sla_due_at__lt",
    }
    for name, lookup in lookups.items():
        value = filters.get(name)
        if value not in (None, [], ""):
            tickets = tickets.filter(**{lookup: value})
    team = filters.get("team_id")
    if isinstance(team, list):
        tickets = tickets.filter(team_id__in=team)
    elif team is not None:
        tickets = tickets.filter(team_id=team)
    if "assignee_id" in filters:
        assignee = filters["assignee_id"]
        tickets = (
            tickets.filter(assignee__isnull=True)
            if assignee is None
            else tickets.filter(assignee_id=assignee)
        )
    if filters.get("tag"):
        tickets = tickets.filter(tags__name=filters["tag"].strip().lower())
    if filters.get("sort") == "due":
        tickets = tickets.filter(sla_due_at__isnull=False)
    return tickets


def rating_of(ticket: Ticket) -> Rating | None:
    """The ticket's latest satisfaction rating (the one that counts), if it has one.

    Whoever may see the ticket may read it; the caller has fetched the ticket through
    ``get_ticket_for``.
    """
    return ticket.ratings.select_related("rater").order_by("-created_at", "-id").first()


def current_rating_of(ticket: Ticket) -> Rating | None:
    """The rating of the ticket's current resolution, or ``None`` when it awaits one."""
    if ticket.resolved_at is None:
        return None
    return ticket.ratings.filter(resolved_at=ticket.resolved_at).first()


def _last_event(ticket: int | OuterRef) -> QuerySet[TicketEvent, int]:
    """The id of the ticket's last timeline event, by the (ticket, id) index."""
    return (
        TicketEvent.objects.filter(ticket_id=ticket)
        .order_by("-id")
        .values_list("id", flat=True)[:1]
    )


def last_event_id(ticket: Ticket) -> int:
    """The id of the last event of a ticket already read and checked (0 for none)."""
    return next(iter(_last_event(ticket.pk)), 0)


def ticket_pulse_for(actor: Actor, ref: str) -> tuple[Ticket, int]:
    """The ticket ``ref`` (its identity and who may see it, nothing more) and the id of its last
    timeline event, in one query on the unique reference and the (ticket, id) index.

    A page that follows a ticket live asks this every few seconds; missing and forbidden raise
    the same NotFound as ``get_ticket_for``.
    """
    found = list(
        Ticket.objects.filter(ref=normalise_ref(ref))
        .only("id", "ref", "desk_id", "requester_id", "organisation_id")
        .annotate(last_event_id=Subquery(_last_event(OuterRef("pk"))))
        .order_by()[:1]
    )
    ticket = found[0] if found else None
    if ticket is None or not can_see_ticket(actor, ticket):
        raise NotFound("ticket", {"ref": ref})
    return ticket, int(ticket.last_event_id or 0)
