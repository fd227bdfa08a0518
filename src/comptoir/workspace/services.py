"""Every change to the workspace's own things (rule 1): saved filters and canned responses.

Each function takes the actor first, checks permission, validates, and writes in one
transaction; a canned response's changes go to the audit log (it speaks to requesters). Refusals are ``DomainError``s whose message is an English sentence of the
catalogue (``gettext_noop``): the pages show it in the reader's language
(``portal.shared.error_text``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext_noop

from comptoir.accounts.models import User
from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.errors import DomainError, ErrorCode, NotFound, PermissionDenied
from comptoir.desks.models import Desk
from comptoir.workspace import permissions as perms
from comptoir.workspace.models import FILTER_PARAMS, CannedResponse, SavedFilter

#: A saved filter's name: 1 to this many characters.
MAX_FILTER_NAME = 80
#: At most this many saved filters a person.
MAX_FILTERS = 50
#: A filter parameter's value longer than this is no value the queue knows: dropped.
MAX_PARAM = 100
#: A canned response's title: 1 to this many characters; its text: 1 to ``MAX_CANNED_BODY``.
MAX_CANNED_TITLE = 100
MAX_CANNED_BODY = 20_000


def _invalid(message: str, field: str, **details: Any) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, {"field": field, **details})


def clean_line(text: Any) -> str:
    """One line of plain text: control and format characters dropped, spaces collapsed."""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in str(text or "")
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    return " ".join(kept.split())


def filter_params(data: Mapping[str, Any]) -> dict[str, str]:
    """The known filter parameters of a query string (or a form), each a short printable
    value; anything else (a cursor, an unknown name, a long or odd value) is dropped."""
    kept: dict[str, str] = {}
    for name in FILTER_PARAMS:
        value = data.get(name)
        if not isinstance(value, str | int):
            continue
        text = str(value).strip()
        if text and len(text) <= MAX_PARAM and text.isprintable():
            kept[name] = text
    return kept


def _filter_name(name: Any) -> str:
    cleaned = clean_line(name)
    if not 1 <= len(cleaned) <= MAX_FILTER_NAME:
        raise _invalid(
            gettext_noop("A name is 1 to 80 characters."),
            "name",
            max_length=MAX_FILTER_NAME,
        )
    return cleaned


def _name_taken(owner_id: int, name: str, *, other_than: int | None = None) -> bool:
    same = SavedFilter.objects.filter(owner_id=owner_id).annotate(low=Lower("name"))
    same = same.filter(low=name.lower())
    if other_than is not None:
        same = same.exclude(pk=other_than)
    return same.exists()


@transaction.atomic
def save_filter(*, actor: Actor, name: str, params: Mapping[str, Any]) -> SavedFilter:
    """Keep the queue's current filters under ``name``, for ``actor`` alone."""
    if not perms.can_keep_saved_filters(actor) or actor.user is None:
        raise PermissionDenied("Saved filters are for the desks' agents.")
    cleaned = _filter_name(name)
    # The person's row, locked: two saves at once count one after the other.
    owner = User.objects.select_for_update().get(pk=actor.user.pk)
    if SavedFilter.objects.filter(owner=owner).count() >= MAX_FILTERS:
        raise _invalid(
            gettext_noop("You keep the most saved filters there may be: delete one first."),
            "name",
            limit=MAX_FILTERS,
        )
    if _name_taken(owner.pk, cleaned):
        raise _invalid(gettext_noop("You have a saved filter of that name already."), "name")
    return SavedFilter.objects.create(owner=owner, name=cleaned, params=filter_params(params))


@transaction.atomic
def rename_filter(*, actor: Actor, saved: SavedFilter, name: str) -> SavedFilter:
    if not perms.can_change_saved_filter(actor, saved):
        raise NotFound("saved filter", {"id": saved.pk})
    cleaned = _filter_name(name)
    User.objects.select_for_update().filter(pk=saved.owner_id).first()  # as ``save_filter``
    if _name_taken(saved.owner_id, cleaned, other_than=saved.pk):
        raise _invalid(gettext_noop("You have a saved filter of that name already."), "name")
    saved.name = cleaned
    saved.save(update_fields=["name", "updated_at"])
    return saved


@transaction.atomic
def delete_filter(*, actor: Actor, saved: SavedFilter) -> None:
    if not perms.can_change_saved_filter(actor, saved):
        raise NotFound("saved filter", {"id": saved.pk})
    saved.delete()


# --- canned responses ------------------------------------------------------------------------


def _canned_fields(title: Any, body: Any) -> tuple[str, str]:
    cleaned = clean_line(title)
    if not 1 <= len(cleaned) <= MAX_CANNED_TITLE:
        raise _invalid(
            gettext_noop("A title is 1 to 100 characters."),
            "title",
            max_length=MAX_CANNED_TITLE,
        )
    # The text keeps its lines; other control characters (and a NUL) are dropped.
    text = "".join(
        ch
        for ch in str(body or "").replace("\r\n", "\n")
        if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
    ).strip()
    if not 1 <= len(text) <= MAX_CANNED_BODY:
        raise _invalid(
            gettext_noop("The text is 1 to 20,000 characters."),
            "body",
            max_length=MAX_CANNED_BODY,
        )
    return cleaned, text


def _title_taken(
    title: str, *, desk_id: int | None, owner_id: int | None, other_than: int | None = None
) -> bool:
    same = CannedResponse.objects.annotate(low=Lower("title")).filter(low=title.lower())
    same = same.filter(desk_id=desk_id) if desk_id is not None else same.filter(owner_id=owner_id)
    if other_than is not None:
        same = same.exclude(pk=other_than)
    return same.exists()


def _lock_scope(desk_id: int | None, owner_id: int | None) -> None:
    """The desk's (or the owner's) row, locked: titles are checked one change at a time."""
    if desk_id is not None:
        Desk.objects.select_for_update().filter(pk=desk_id).first()
    elif owner_id is not None:
        User.objects.select_for_update().filter(pk=owner_id).first()


def _title_refused() -> DomainError:
    return _invalid(gettext_noop("There is a canned response of that title already."), "title")


@transaction.atomic
def create_canned_response(
    *, actor: Actor, title: str, body: str, desk: Desk | None = None
) -> CannedResponse:
    """A response shared by ``desk`` (its managers only), or the agent's own (no desk)."""
    if desk is not None:
        if not perms.can_share_responses(actor, desk):
            raise PermissionDenied("Only the desk's managers keep its shared responses.")
        owner_id = None
    elif not perms.is_agent(actor) or actor.user is None:
        raise PermissionDenied("Canned responses are for the desks' agents.")
    else:
        owner_id = actor.user.pk
    title, body = _canned_fields(title, body)
    _lock_scope(desk.pk if desk is not None else None, owner_id)
    if _title_taken(title, desk_id=desk.pk if desk else None, owner_id=owner_id):
        raise _title_refused()
    response = CannedResponse.objects.create(
        desk=desk, owner_id=owner_id, title=title, body=body, created_by=actor.user
    )
    record_audit(
        actor=actor, action="canned_response_created", obj=response, after=snapshot(response)
    )
    return response


@transaction.atomic
def update_canned_response(
    *, actor: Actor, response: CannedResponse, title: str, body: str
) -> CannedResponse:
    if not perms.can_manage_canned_response(actor, response):
        raise PermissionDenied("Only the desk's managers change its shared responses.")
    before = snapshot(response)
    title, body = _canned_fields(title, body)
    _lock_scope(response.desk_id, response.owner_id)
    if _title_taken(
        title, desk_id=response.desk_id, owner_id=response.owner_id, other_than=response.pk
    ):
        raise _title_refused()
    response.title, response.body = title, body
    response.save(update_fields=["title", "body", "updated_at"])
    record_audit(
        actor=actor,
        action="canned_response_changed",
        obj=response,
        before=before,
        after=snapshot(response),
    )
    return response


@transaction.atomic
def delete_canned_response(*, actor: Actor, response: CannedResponse) -> None:
    if not perms.can_manage_canned_response(actor, response):
        raise PermissionDenied("Only the desk's managers delete its shared responses.")
    record_audit(
        actor=actor, action="canned_response_deleted", obj=response, before=snapshot(response)
    )
    response.delete()
