"""Reads of desks and their configuration, narrowed to what the actor may see."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from django.db.models import Q, QuerySet

from comptoir.accounts.models import Team
from comptoir.accounts.permissions import staff_desk_ids
from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.core.lookups import slug_or_id
from comptoir.core.memo import Frozen, RowCache, freeze, thaw
from comptoir.desks.models import Category, Desk


def desks_visible_to(actor: Actor) -> QuerySet[Desk]:
    """Desks where the actor holds a role, or which serve the actor's site."""
    desks = Desk.objects.filter(is_active=True)
    if actor.is_system or actor.is_superuser:
        return desks
    if actor.user is None:
        return desks.none()
    user = actor.user
    rule = Q(pk__in=list(actor.roles())) | Q(serves_all_sites=True)
    if user.site_id:
        rule |= Q(served_sites=user.site_id)
    return desks.filter(rule).distinct()


def can_use_desk(actor: Actor, desk: Desk) -> bool:
    """The rule of ``desks_visible_to`` for one desk in hand."""
    if not desk.is_active:
        return False
    if actor.is_system or actor.is_superuser:
        return True
    if actor.user is None:
        return False
    if desk.pk in actor.roles() or desk.serves_all_sites:
        return True
    site_id = actor.user.site_id
    return site_id is not None and desk.served_sites.filter(pk=site_id).exists()


def resolve_desk(actor: Actor, value: str | int) -> Desk:
    """A desk the actor can see, by slug, prefix or id; unknown ones raise ``unknown_desk``."""
    text = str(value).strip()
    frozen = desks_cache.get(text, lambda: _load_desk(text))
    desk = thaw(frozen) if frozen is not None else None
    if desk is None or not can_use_desk(actor, desk):
        raise DomainError(ErrorCode.UNKNOWN_DESK, f"No desk {text!r}.", {"desk": text})
    return desk


#: Desks by the slug, prefix or id they were named by (see ``core.memo``).
desks_cache = RowCache("desks")


def desks_by_id(desk_ids: Iterable[int]) -> dict[int, Desk]:
    """Desks by id, from ``desks_cache`` (one query for each not cached, a few desks at most),
    for rows already read whose desk is shown: no permission is checked here. A desk deleted
    meanwhile is left out."""
    found = {}
    for desk_id in set(desk_ids):
        frozen = desks_cache.get(("id", desk_id), partial(_frozen, Q(pk=desk_id)))
        if frozen is not None:
            found[desk_id] = thaw(frozen)
    return found


def _load_desk(text: str) -> Frozen | None:
    return _frozen(slug_or_id(text) | Q(prefix=text.upper()))


def _frozen(query: Q) -> Frozen | None:
    desk = Desk.objects.select_related("default_team").filter(query).first()
    return freeze(desk, "default_team", skip=("last_number",)) if desk is not None else None


def category_lineage(desk_id: int, category_id: int | None) -> frozenset[int]:
    """A category and its ancestors (one query for the desk's tree; a cycle stops the walk).

    A condition on a category (an SLA policy's, a routing rule's) holds for its subcategories.
    """
    if category_id is None:
        return frozenset()
    parents = dict(Category.objects.filter(desk_id=desk_id).values_list("id", "parent_id"))
    seen: set[int] = set()
    node: int | None = category_id
    while node is not None and node not in seen:
        seen.add(node)
        node = parents.get(node)
    return frozenset(seen)


def categories_of(desk: Desk) -> QuerySet[Category]:
    return desk.categories.filter(is_active=True).order_by("path")


def resolve_category(desk: Desk, value: str | int) -> Category:
    text = str(value).strip()
    category = categories_of(desk).filter(slug_or_id(text)).first()
    if category is None:
        raise DomainError(
            ErrorCode.UNKNOWN_CATEGORY,
            f"No category {text!r} on desk {desk.slug}.",
            {"category": text},
        )
    return category


def teams_visible_to(actor: Actor) -> QuerySet[Team]:
    teams = Team.objects.select_related("desk")
    if actor.is_system or actor.is_superuser:
        return teams
    return teams.filter(desk_id__in=staff_desk_ids(actor))


def resolve_team(desk: Desk, value: str | int) -> Team:
    text = str(value).strip()
    team = Team.objects.filter(desk=desk).filter(slug_or_id(text)).first()
    if team is None:
        raise DomainError(
            ErrorCode.UNKNOWN_TEAM, f"No team {text!r} on desk {desk.slug}.", {"team": text}
        )
    return team


def team_ids_named(value: str | int) -> list[int]:
    """Every team a slug or id names, on any desk (a slug is unique per desk only)."""
    return list(Team.objects.filter(slug_or_id(value)).values_list("pk", flat=True))
