"""Who may do what in the knowledge base. Pure predicates over the actor's (cached) roles.

Staff of a desk (every role but ``requester``) write its articles; its managers and desk
administrators also decide what readers see (publish, archive, back to draft, delete) and vouch
that an article is still right (mark it reviewed). Superusers and the system may do everything.
Who may *read* an article is a question of its status and visibility, answered in
``selectors.articles_visible_to``.
"""

from __future__ import annotations

from typing import Any

from comptoir.accounts.permissions import is_manager_on, is_staff_on
from comptoir.core.actor import Actor


def _desk_id(obj: Any) -> int:
    """A desk id from a desk, an article (or anything with ``desk_id``) or an id."""
    if isinstance(obj, int):
        return obj
    desk_id = getattr(obj, "desk_id", None)
    return int(desk_id) if desk_id is not None else int(obj.pk)


def can_write_article(actor: Actor, desk_or_article: Any) -> bool:
    """Create and edit articles and their language versions, restore a version, attach files."""
    return is_staff_on(actor, _desk_id(desk_or_article))


def can_submit_article(actor: Actor, article: Any) -> bool:
    return is_staff_on(actor, _desk_id(article))


def can_publish_article(actor: Actor, article: Any) -> bool:
    """Publish, archive, return to draft: what readers see is the managers' decision."""
    return is_manager_on(actor, _desk_id(article))


def can_delete_article(actor: Actor, article: Any) -> bool:
    return is_manager_on(actor, _desk_id(article))


def can_mark_reviewed(actor: Actor, article: Any) -> bool:
    return is_manager_on(actor, _desk_id(article))


def can_see_history(actor: Actor, article: Any) -> bool:
    """Versions, diffs and the ticket an article was written from are for the desk's staff."""
    return is_staff_on(actor, _desk_id(article))


def can_link_to_ticket(actor: Actor, ticket: Any) -> bool:
    """Link an article to a ticket, or draft one from it: staff of the *ticket's* desk."""
    return is_staff_on(actor, _desk_id(ticket))


def can_see_figures(actor: Actor, desk: Any) -> bool:
    return is_manager_on(actor, _desk_id(desk))
