"""The pieces of a web page about tickets that the portal and the workspace share.

The workspace builds on the portal (one layer above it): the actor of a request, the words for
a refusal, a ticket's timeline in plain words, file downloads, and the lifecycle's buttons.
Every read goes through ``tickets.selectors``; nothing here changes anything.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.http import FileResponse, HttpRequest
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from comptoir.accounts.permissions import staff_desk_ids
from comptoir.core.actor import Actor, Channel
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.core.files import download_response
from comptoir.desks.priority import Priority
from comptoir.tickets import selectors
from comptoir.tickets.lifecycle import Transition, lifecycle_for
from comptoir.tickets.models import Attachment, Comment, EventKind, Ticket, TicketEvent
from comptoir.tickets.permissions import can_take_transition


def actor_for(request: HttpRequest, channel: Channel = Channel.WEB) -> Actor:
    """The signed-in person as an actor; their roles are read once per request."""
    cached: Actor | None = getattr(request, "_comptoir_actor", None)
    if cached is None:
        cached = Actor.for_user(request.user, channel)  # type: ignore[arg-type]
        request._comptoir_actor = cached  # type: ignore[attr-defined]
    return cached if cached.channel == channel else cached.via(channel)


def is_agent(actor: Actor) -> bool:
    """Works tickets somewhere: holds a staff role on a desk, or is a superuser."""
    return actor.is_superuser or bool(staff_desk_ids(actor))


#: What a person reads when a service refuses, by error code: every code has its sentence
#: (a test holds it), so a page never shows a service's English words to a French reader.
_ERROR_TEXT = {
    ErrorCode.NOT_AUTHENTICATED: gettext_lazy("Sign in first."),
    ErrorCode.TOKEN_INVALID: gettext_lazy("This access key is not valid, or no longer."),
    ErrorCode.PERMISSION_DENIED: gettext_lazy("You may not do this."),
    ErrorCode.FIELD_NOT_ALLOWED: gettext_lazy("You may not change that."),
    ErrorCode.NOT_FOUND: gettext_lazy("This was not found."),
    ErrorCode.VALIDATION_ERROR: gettext_lazy(
        "Something typed is not valid: check it and try again."
    ),
    ErrorCode.UNKNOWN_DESK: gettext_lazy("No such desk, or it takes no requests now."),
    ErrorCode.UNKNOWN_CATEGORY: gettext_lazy("No such category on this desk."),
    ErrorCode.UNKNOWN_USER: gettext_lazy(
        "That person cannot be chosen here (not active, or not an agent of this desk)."
    ),
    ErrorCode.UNKNOWN_TEAM: gettext_lazy("No such team on this desk."),
    ErrorCode.UNKNOWN_TICKET: gettext_lazy("No such ticket."),
    ErrorCode.INVALID_TRANSITION: gettext_lazy(
        "This ticket's status changed meanwhile: that step is no longer possible."
    ),
    ErrorCode.REOPEN_WINDOW_EXPIRED: gettext_lazy(
        "This ticket was closed too long ago to reopen: open a new request."
    ),
    ErrorCode.OPEN_CHILDREN: gettext_lazy(
        "This ticket still has open children: resolve or close them first."
    ),
    ErrorCode.NOT_RESOLVED: gettext_lazy("A request is rated once it is resolved."),
    ErrorCode.ALREADY_RATED: gettext_lazy("This resolution is already rated."),
    ErrorCode.PRIORITY_REASON_REQUIRED: gettext_lazy("Overriding the priority needs a reason."),
    ErrorCode.CUSTOM_FIELD_INVALID: gettext_lazy("Some of the desk's own fields are not valid."),
    ErrorCode.LINK_INVALID: gettext_lazy(
        "That link is not possible (the ticket itself, a loop of parents, or a link that is "
        "not there)."
    ),
    ErrorCode.MERGE_INVALID: gettext_lazy(
        "These tickets cannot be merged (the same one, a closed one, another desk or kind): "
        "link them instead."
    ),
    ErrorCode.ATTACHMENT_TOO_LARGE: gettext_lazy("A file is larger than the limit."),
    ErrorCode.ATTACHMENT_EMPTY: gettext_lazy("A file is empty."),
    ErrorCode.ATTACHMENT_MISSING: gettext_lazy("A file is missing: choose it again."),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: gettext_lazy(
        "This request was already sent with other contents."
    ),
    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS: gettext_lazy(
        "The same request is still being handled: try again in a moment."
    ),
    ErrorCode.INVALID_CURSOR: gettext_lazy(
        "That page link no longer fits this list: back to its start."
    ),
    ErrorCode.METHOD_NOT_ALLOWED: gettext_lazy("This is not possible here."),
    ErrorCode.HTTP_ERROR: gettext_lazy("The request could not be handled."),
    ErrorCode.SERVER_ERROR: gettext_lazy(
        "Something went wrong on our side: try again in a moment."
    ),
    ErrorCode.SERVICE_UNAVAILABLE: gettext_lazy(
        "Comptoir cannot reach its database just now: try again in a moment."
    ),
}


#: Codes whose service message says more than the code's sentence (which field, which limit):
#: the message is shown when it reads in the reader's language — the services write English
#: sentences, and the catalogue translates those the pages meet.
_OWN_WORDS = frozenset({ErrorCode.VALIDATION_ERROR})


def _reads_english() -> bool:
    return (get_language() or "en").split("-")[0] == "en"


def error_text(exc: DomainError) -> str:
    """A refusal in the reader's language: the service's own words where the catalogue has
    them (or the reader reads English), else the sentence of its code."""
    if exc.code in _OWN_WORDS:
        words = _(exc.message)
        if words != exc.message or _reads_english():
            return words
    known = _ERROR_TEXT.get(exc.code)
    return str(known) if known is not None else exc.message


def download(attachment: Attachment) -> FileResponse:
    """A file as a download, never shown inline: its bytes came from outside."""
    return download_response(
        attachment.file.open("rb"),
        filename=attachment.filename,
        content_type=attachment.content_type,
    )


# --- the timeline ----------------------------------------------------------------------------


@dataclass
class Entry:
    """One line of a ticket's timeline as a page shows it: a message, or a change in words."""

    kind: str  # "message" or "change"
    event: TicketEvent
    comment: Comment | None = None
    files: list[Attachment] = field(default_factory=list)
    text: str = ""
    file: Attachment | None = None
    #: Words the person typed along with a change (a rating's comment), shown as plain text.
    quote: str = ""

    @property
    def is_note(self) -> bool:
        return self.comment is not None and not self.comment.public


def _status_label(kind: str, status: Any) -> str:
    try:
        return str(lifecycle_for(kind).state(str(status)).label)
    except KeyError:
        return str(status)


def _priority_label(value: Any) -> str:
    try:
        return str(Priority(int(value)).label)
    except (TypeError, ValueError):
        return str(value)


def describe(event: TicketEvent, ticket: Ticket) -> str:
    """A change of the timeline in plain words."""
    before, after = event.before or {}, event.after or {}
    kind = event.kind
    if kind == EventKind.CREATED:
        return _("opened the ticket")
    if kind == EventKind.STATUS_CHANGED:
        return _("changed the status from %(before)s to %(after)s") % {
            "before": _status_label(ticket.kind, before.get("status")),
            "after": _status_label(ticket.kind, after.get("status")),
        }
    if kind == EventKind.ASSIGNED:
        if after.get("assignee"):
            return _("assigned it to %(who)s") % {"who": after["assignee"]}
        if after.get("team"):
            return _("assigned it to a team")
        return _("unassigned it")
    if kind == EventKind.PRIORITY_CHANGED:
        return _("changed the priority from %(before)s to %(after)s") % {
            "before": _priority_label(before.get("priority")),
            "after": _priority_label(after.get("priority")),
        }
    if kind == EventKind.FIELD_CHANGED:
        return _("changed %(fields)s") % {"fields": ", ".join(sorted(after))}
    if kind == EventKind.LINKED:
        other = (
            after.get("target") or after.get("source") or after.get("parent") or after.get("child")
        )
        return _("linked it to %(ref)s") % {"ref": other or "?"}
    if kind == EventKind.UNLINKED:
        other = (
            before.get("target")
            or before.get("source")
            or before.get("parent")
            or before.get("child")
        )
        return _("removed the link to %(ref)s") % {"ref": other or "?"}
    if kind == EventKind.MERGED_INTO:
        return _("merged it into %(ref)s") % {
            "ref": after.get("into") or after.get("target") or "?"
        }
    if kind == EventKind.RATED:
        if after.get("satisfied"):
            return _("rated the resolution: satisfied")
        return _("rated the resolution: not satisfied")
    if kind == EventKind.WATCHER_ADDED:
        return _("added %(who)s as a watcher") % {"who": after.get("watcher", "?")}
    if kind == EventKind.WATCHER_REMOVED:
        return _("removed %(who)s from the watchers") % {"who": before.get("watcher", "?")}
    return str(EventKind(kind).label) if kind in EventKind.values else kind


#: Events a ticket's page shows at first: the newest. A ticket that an alert, a mail loop or a
#: long exchange has given thousands of events opens as fast as a short one; the whole
#: timeline is one click away (``?timeline=all``).
SHOWN = 100


@dataclass
class Timeline:
    entries: list[Entry]
    #: Events left out, the oldest (0: the timeline is whole).
    earlier: int = 0


def timeline_context(
    request: HttpRequest, actor: Actor, ticket: Ticket, *, internal: bool
) -> dict[str, Any]:
    """What ``portal/partials/_timeline.html`` shows: the whole timeline if the page asked for
    it (``?timeline=all``), or, for a part htmx redraws (the live strip, the links panel), if
    the page it redraws did (htmx's ``HX-Current-URL``, which a forged header may garble)."""
    whole = request.GET.get("timeline") == "all"
    if not whole and (current := request.headers.get("HX-Current-URL")):
        with contextlib.suppress(ValueError):
            whole = "all" in parse_qs(urlsplit(current).query).get("timeline", [])
    found = timeline(actor, ticket, internal=internal, whole=whole)
    return {"entries": found.entries, "earlier": found.earlier}


def timeline(actor: Actor, ticket: Ticket, *, internal: bool, whole: bool = False) -> Timeline:
    """The ticket's messages and changes in order, the newest ``SHOWN`` events unless
    ``whole``; public ones only unless ``internal``.

    Three queries at most whatever the length: the events, then the messages they name and
    the files of both if there are any; and a count of the events left out, for a ticket that
    has more than ``SHOWN``.
    """
    events = selectors.events_visible_to(actor, ticket)
    comments = selectors.comments_visible_to(actor, ticket)
    files = selectors.attachments_visible_to(actor, ticket)
    if not internal:  # the portal never shows notes, whoever reads it
        events, comments, files = (
            events.filter(public=True),
            comments.filter(public=True),
            files.filter(public=True),
        )
    earlier = 0
    if whole:
        listed = list(events)
    else:
        listed = list(events.reverse()[: SHOWN + 1])[::-1]
        if len(listed) > SHOWN:
            listed = listed[1:]
            earlier = events.count() - SHOWN
    messages = {
        event.comment_id
        for event in listed
        if event.kind in (EventKind.COMMENTED, EventKind.NOTE_ADDED) and event.comment_id
    }
    by_comment = {c.pk: c for c in comments.filter(pk__in=messages)} if messages else {}
    wanted = {a.pk for c in by_comment.values() for a in c.attachments.all()} | {
        int((event.after or {}).get("attachment") or 0)
        for event in listed
        if event.kind == EventKind.ATTACHMENT_ADDED
    }
    wanted.discard(0)
    by_id = {a.pk: a for a in files.filter(pk__in=wanted)} if wanted else {}
    entries: list[Entry] = []
    for event in listed:
        if event.kind in (EventKind.COMMENTED, EventKind.NOTE_ADDED):
            comment = by_comment.get(event.comment_id or 0)
            if comment is not None:
                shown = [a for a in comment.attachments.all() if a.pk in by_id]
                entries.append(Entry("message", event, comment=comment, files=shown))
            continue
        if event.kind == EventKind.ATTACHMENT_ADDED:
            if event.comment_id is not None and event.comment_id in by_comment:
                continue  # listed under its message
            attachment = by_id.get(int((event.after or {}).get("attachment") or 0))
            if attachment is None:
                continue
            entries.append(
                Entry(
                    "change",
                    event,
                    text=_("attached %(name)s") % {"name": attachment.filename},
                    file=attachment,
                )
            )
            continue
        quote = str((event.after or {}).get("comment") or "") if event.kind == "rated" else ""
        entries.append(Entry("change", event, text=describe(event, ticket), quote=quote))
    return Timeline(entries, earlier)


def actions_for(actor: Actor, ticket: Ticket, *, requester_only: bool = False) -> list[Transition]:
    """The lifecycle actions ``actor`` may take on ``ticket`` now, as the lifecycle lists them.

    Merging needs a second ticket and has its own door; it is not a button.
    """
    found = []
    for transition in lifecycle_for(ticket.kind).actions_from(ticket.status):
        if transition.action == "merge" or not can_take_transition(actor, ticket, transition):
            continue
        if requester_only and transition.who.value != "requester":
            continue
        found.append(transition)
    return found
