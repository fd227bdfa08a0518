"""What the desk tells people by mail, written with the change itself (in its transaction).

A public reply from the desk's staff goes to the requester and the watchers (never back to its
author); a resolution goes to the requester. Acknowledgements of mail that opened a ticket are
written by the intake pipeline, which knows whether the mail was automatic.
"""

from __future__ import annotations

from comptoir.core.events import subscribe
from comptoir.mail.outbound import queue_mail
from comptoir.tickets import events as ev
from comptoir.tickets.models import Comment, Ticket


@subscribe(ev.TicketCommented, in_transaction=True)
def mail_public_reply(event: ev.TicketCommented) -> None:
    if not (event.public and event.by_staff):
        return
    comment = Comment.objects.select_related("author").filter(pk=event.comment_id).first()
    if comment is None or comment.author_id is None:
        return
    ticket = Ticket.objects.select_related("desk", "requester").get(pk=event.ticket_id)
    if comment.author_id == ticket.requester_id:
        return
    people = [ticket.requester, *ticket.watchers.filter(is_active=True)]
    recipients = [p for p in people if p.pk != comment.author_id and p.is_active]
    queue_mail(
        ticket=ticket,
        kind="reply",
        recipients=recipients,
        key=f"comment:{comment.pk}",
        values={
            "body": comment.body,
            "author": comment.author.name if comment.author else comment.author_label,
        },
    )


@subscribe(ev.TicketStatusChanged, in_transaction=True)
def mail_resolution(event: ev.TicketStatusChanged) -> None:
    if event.after != "resolved":
        return
    ticket = Ticket.objects.select_related("desk", "requester").get(pk=event.ticket_id)
    if not ticket.requester.is_active:
        return
    queue_mail(
        ticket=ticket,
        kind="resolved",
        recipients=[ticket.requester],
        key=f"resolved:{ticket.pk}:{ticket.resolved_at.isoformat() if ticket.resolved_at else ''}",
        values={"body": ticket.resolution},
        automatic="auto-generated",
    )
