from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from comptoir.accounts.permissions import is_staff_on
from comptoir.core.api import ErrorOut, actor_of
from comptoir.core.errors import DomainError, NotFound
from comptoir.desks.selectors import categories_of, desks_visible_to, resolve_desk, teams_visible_to

router = Router(tags=["desks"])


class DeskOut(Schema):
    id: int
    slug: str
    name: str
    kind: str
    prefix: str
    description: str
    time_zone: str
    serves_all_sites: bool
    reopen_window_days: int
    priority_matrix: dict[str, dict[str, int]]
    custom_fields: list[dict[str, Any]]


class CategoryOut(Schema):
    id: int
    slug: str
    name: str
    path: str
    parent_id: int | None


class TeamOut(Schema):
    id: int
    slug: str
    name: str
    desk: str
    time_zone: str
    lead: str | None = None


def _desk_in_path(request: HttpRequest, desk: str):
    """A desk named in the URL: unknown or invisible is a 404, as for any other resource."""
    try:
        return resolve_desk(actor_of(request), desk)
    except DomainError as exc:
        raise NotFound("desk", {"desk": desk}) from exc


def _desk(desk) -> dict[str, Any]:
    return {
        "id": desk.pk,
        "slug": desk.slug,
        "name": desk.name,
        "kind": desk.kind,
        "prefix": desk.prefix,
        "description": desk.description,
        "time_zone": desk.time_zone,
        "serves_all_sites": desk.serves_all_sites,
        "reopen_window_days": desk.reopen_window_days,
        "priority_matrix": desk.priority_matrix,
        "custom_fields": desk.custom_fields,
    }


@router.get("/desks", response=list[DeskOut], summary="Desks I can use")
def list_desks(request: HttpRequest):
    return [_desk(d) for d in desks_visible_to(actor_of(request)).order_by("name")]


@router.get("/desks/{desk}", response={200: DeskOut, 404: ErrorOut}, summary="One desk")
def get_desk(request: HttpRequest, desk: str):
    return _desk(_desk_in_path(request, desk))


@router.get(
    "/desks/{desk}/categories",
    response={200: list[CategoryOut], 404: ErrorOut},
    summary="A desk's category tree",
)
def list_categories(request: HttpRequest, desk: str):
    found = _desk_in_path(request, desk)
    return list(categories_of(found).values("id", "slug", "name", "path", "parent_id"))


@router.get("/teams", response={200: list[TeamOut], 422: ErrorOut}, summary="Teams of my desks")
def list_teams(request: HttpRequest, desk: str | None = None):
    actor = actor_of(request)
    teams = teams_visible_to(actor).select_related("lead")
    if desk:
        found = resolve_desk(actor, desk)
        teams = teams.filter(desk=found) if is_staff_on(actor, found.pk) else teams.none()
    return [
        {
            "id": t.pk,
            "slug": t.slug,
            "name": t.name,
            "desk": t.desk.slug,
            "time_zone": t.time_zone,
            "lead": t.lead.email if t.lead else None,
        }
        for t in teams
    ]
