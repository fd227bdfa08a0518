"""What the desk tells people by mail, written with the change itself (in its transaction).

To the requester's side:

- a public reply from the desk's staff goes to the requester and the watchers (never back to its
  author);
- a change of status they must hear about goes to the requester (``STATUS_MAILS``): the desk
  waits on their answer, the ticket is resolved, reopened, cancelled, rejected or merged into
  another. Work moving inside the desk (started, resumed, waiting on a vendor) and closing a
  resolved ticket (they were told of the resolution) send nothing, nor does a change the
  requester made themself. The agent's words given with the change go in the same mail, not in a
  second one.

To the agents: each notice (SLA warnings and breaches, a ticket assigned to them…) is also sent
by mail, unless they turned that off (``User.mail_notifications``).

Acknowledgements of mail that opened a ticket are written by the intake pipeline, which knows
whether the mail was automatic.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection

from comptoir.accounts.models import User
from comptoir.core.events import subscribe
from comptoir.core.sql import column, columns, instance, instances, table
from comptoir.desks.models import Desk
from comptoir.mail.models import MailKind, OutboundMessage, OutboundStatus
from comptoir.mail.outbound import compose, queue_mail, queue_notice
from comptoir.notifications.events import NotificationCreated
from comptoir.tickets import events as ev
from comptoir.tickets.lifecycle import lifecycle_for
from comptoir.tickets.models import Comment, EventKind, Ticket, TicketEvent

#: Lifecycle actions the requester hears about, and the mail each one sends.
STATUS_MAILS: dict[str, str] = {
    "resolve": MailKind.RESOLVED,
    "reopen": MailKind.REOPENED,
    "cancel": MailKind.CANCELLED,
    "reject": MailKind.REJECTED,
    "merge": MailKind.MERGED,
}
_CHANGES = (EventKind.STATUS_CHANGED, EventKind.MERGED_INTO)


def status_mail_kind(ticket: Ticket, event: ev.TicketStatusChanged) -> str | None:
    """The mail a change of status sends to the requester, or None."""
    if event.action in STATUS_MAILS:
        return STATUS_MAILS[event.action]
    waiting = lifecycle_for(ticket.kind).waiting_on_requester
    if event.after in waiting and event.before not in waiting:
        return MailKind.WAITING
    return None


def _status_values(ticket: Ticket, change: TicketEvent, message: str = "") -> dict[str, Any]:
    into = ticket.merged_into
    return {
        "reason": change.after.get("reason", ""),
        "resolution": ticket.resolution,
        "message": message,
        "into_ref": into.ref if into else "",
        "into_title": into.title if into else "",
    }


@subscribe(ev.TicketStatusChanged, in_transaction=True)
def mail_status_change(event: ev.TicketStatusChanged) -> None:
    ticket = Ticket.objects.select_related("desk", "requester", "merged_into").get(
        pk=event.ticket_id
    )
    kind = status_mail_kind(ticket, event)
    if kind is None or not ticket.requester.is_active:
        return
    change = TicketEvent.objects.filter(ticket=ticket, kind__in=_CHANGES).order_by("-id").first()
    if change is None or change.actor_user_id == ticket.requester_id:
        return  # they did it: they know
    queue_mail(
        ticket=ticket,
        kind=kind,
        recipients=[ticket.requester],
        key=f"status:{change.pk}",
        values=_status_values(ticket, change),
        automatic="auto-generated",
    )


@subscribe(ev.TicketCommented, in_transaction=True)
def mail_public_reply(event: ev.TicketCommented) -> None:
    if not (event.public and event.by_staff):
        return
    found = _reply_of(event.comment_id)
    if found is None:
        return
    comment, people = found
    ticket = comment.ticket
    if comment.author_id == ticket.requester_id:
        return
    recipients = [p for p in people if p.pk != comment.author_id and p.is_active]
    folded = _fold_into_status_mail(ticket, comment, recipients) if event.with_change else set()
    queue_mail(
        ticket=ticket,
        kind=MailKind.REPLY,
        recipients=[p for p in recipients if p.pk not in folded],
        key=f"comment:{comment.pk}",
        values={
            "message": comment.body,
            "author": comment.author.name if comment.author else comment.author_label,
        },
    )


@cache
def _reply_sql(vendor: str) -> tuple[str, str]:
    c, t, d, u = Comment, Ticket, Desk, User
    reply = (
        f"SELECT {columns(c, 'c')}, {columns(t, 't')}, {columns(d, 'd')}, "  # noqa: S608
        f"{columns(u, 'r')}, {columns(u, 'a')} FROM {table(c)} c "
        f"JOIN {table(t)} t ON t.{column(t, 'id')} = c.{column(c, 'ticket')} "
        f"JOIN {table(d)} d ON d.{column(d, 'id')} = t.{column(t, 'desk')} "
        f"JOIN {table(u)} r ON r.{column(u, 'id')} = t.{column(t, 'requester')} "
        f"JOIN {table(u)} a ON a.{column(u, 'id')} = c.{column(c, 'author')} "
        f"WHERE c.{column(c, 'id')} = %s"
    )
    through = Ticket.watchers.through
    watchers = (
        f"SELECT {columns(u, 'u')} FROM {table(u)} u "  # noqa: S608
        f"JOIN {table(through)} w ON w.{column(through, 'user')} = u.{column(u, 'id')} "
        f"WHERE w.{column(through, 'ticket')} = %s AND u.{column(u, 'is_active')} "
        f"ORDER BY u.{column(u, 'id')}"
    )
    return reply, watchers


def _reply_of(comment_id: int) -> tuple[Comment, list[User]] | None:
    """The reply with its author and its ticket (desk, requester), and the ticket's requester
    and active watchers: two statements written out (``core.sql``), as every reply the desk
    sends runs them inside its transaction, which on SQLite holds the write lock. Not
    ``merged_into``: a merged ticket takes no reply (``add_comment``). None for a reply
    without an author (the system's)."""
    reply, watchers = _reply_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(reply, [comment_id])
        row = cursor.fetchone()
        if row is None:
            return None
        comment, ticket, desk, requester, author = instances(
            (Comment, Ticket, Desk, User, User), row
        )
        cursor.execute(watchers, [ticket.pk])
        watching = [instance(User, values) for values in cursor.fetchall()]
    Ticket._meta.get_field("desk").set_cached_value(ticket, desk)
    Ticket._meta.get_field("requester").set_cached_value(ticket, requester)
    Comment._meta.get_field("ticket").set_cached_value(comment, ticket)
    Comment._meta.get_field("author").set_cached_value(comment, author)
    return comment, [requester, *watching]


def _fold_into_status_mail(ticket: Ticket, comment: Comment, recipients: list) -> set[int]:
    """Put the reply into the mail of the change it came with (``resolve`` with a comment…).

    That is the change just before the reply in the ticket's timeline, by the same person,
    whose mail is not sent yet. Returns the ids of the people whose mail now holds the reply.
    """
    latest = list(TicketEvent.objects.filter(ticket=ticket).order_by("-id")[:2])
    if len(latest) < 2 or latest[0].comment_id != comment.pk:
        return set()
    change = latest[1]
    if change.kind not in _CHANGES or change.actor_user_id != comment.author_id:
        return set()
    by_email = {(p.email or "").lower(): p for p in recipients}
    pending = OutboundMessage.objects.filter(
        key__in=[f"status:{change.pk}:{email}" for email in by_email],
        status=OutboundStatus.PENDING,
        attempts=0,
    )
    folded: set[int] = set()
    values = _status_values(ticket, change, message=comment.body)
    for row in pending:
        person = by_email.get(row.to[0] if row.to else "")
        if person is None:
            continue
        subject, body = compose(ticket=ticket, kind=row.kind, user=person, values=values)
        # Only while no worker has taken it: otherwise the reply goes in a mail of its own.
        taken = OutboundMessage.objects.filter(
            pk=row.pk, status=OutboundStatus.PENDING, attempts=0
        ).update(subject=subject, body=body)
        if taken:
            folded.add(person.pk)
    return folded


@subscribe(NotificationCreated, in_transaction=True)
def mail_notification(event: NotificationCreated) -> None:
    queue_notice(event.notification_id)
