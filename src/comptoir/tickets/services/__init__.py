"""Every change to a ticket (rule 1).

Each function takes the actor first, checks permission, validates, saves, appends the timeline
events and publishes domain events, in one transaction. The web UI, the API, mail intake, the
CLI and background jobs call these and nothing else. One module per group of verbs; import them
from here.
"""

from comptoir.tickets.services._common import MAX_BODY, MAX_TAGS, MAX_TITLE, clean_tags, format_ref
from comptoir.tickets.services.conversation import (
    Upload,
    add_attachment,
    add_attachments,
    add_comment,
)
from comptoir.tickets.services.creation import create_ticket
from comptoir.tickets.services.fields import update_ticket
from comptoir.tickets.services.links import link_tickets, merge_tickets, unlink_tickets
from comptoir.tickets.services.maintenance import prune_orphan_files
from comptoir.tickets.services.rating import MAX_RATING_COMMENT, can_be_rated, rate_ticket
from comptoir.tickets.services.timeline import append_event, set_sla_summary
from comptoir.tickets.services.transitions import (
    assign_ticket,
    cancel_ticket,
    close_ticket,
    reopen_ticket,
    resolve_ticket,
    transition_ticket,
)

__all__ = [
    "MAX_BODY",
    "MAX_RATING_COMMENT",
    "MAX_TAGS",
    "MAX_TITLE",
    "Upload",
    "add_attachment",
    "add_attachments",
    "add_comment",
    "append_event",
    "can_be_rated",
    "assign_ticket",
    "cancel_ticket",
    "clean_tags",
    "close_ticket",
    "create_ticket",
    "format_ref",
    "link_tickets",
    "merge_tickets",
    "prune_orphan_files",
    "rate_ticket",
    "reopen_ticket",
    "resolve_ticket",
    "set_sla_summary",
    "transition_ticket",
    "unlink_tickets",
    "update_ticket",
]
