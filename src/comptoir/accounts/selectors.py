from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from comptoir.accounts.models import Membership, Organisation, User
from comptoir.core.lookups import slug_or_id
from comptoir.core.memo import RowCache

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from comptoir.accounts.models import ApiToken


#: Each user's roles by desk (see ``core.memo``).
roles_cache = RowCache("roles")


def roles_by_desk(user: User) -> dict[int, frozenset[str]]:
    """Desk id → the roles ``user`` holds there (one query, then cached a few seconds)."""
    if not user.is_active:
        return {}
    return dict(roles_cache.get(user.pk, lambda: _load_roles(user.pk)) or {})


def _load_roles(user_id: int) -> dict[int, frozenset[str]]:
    roles: dict[int, set[str]] = defaultdict(set)
    for desk_id, role in Membership.objects.filter(user_id=user_id).values_list("desk_id", "role"):
        roles[desk_id].add(role)
    return {desk_id: frozenset(r) for desk_id, r in roles.items()}


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return user.api_tokens.all()


def find_people(query: str, limit: int = 20) -> QuerySet[User]:
    """People matching a name, an email or a phone number (for an agent logging a call)."""
    from django.db.models import Q

    query = query.strip()
    return User.objects.filter(
        Q(email__icontains=query) | Q(display_name__icontains=query) | Q(phone__icontains=query),
        is_active=True,
    ).select_related("organisation")[:limit]


def resolve_person(value: str | int) -> User | None:
    """An active person by email (any case) or id."""
    text = str(value).strip()
    people = User.objects.filter(is_active=True).select_related("organisation")
    if text.isdigit():
        return people.filter(pk=int(text)).first()
    return people.filter(email__iexact=text).first()


def resolve_organisation(value: str | int) -> Organisation | None:
    """An organisation by slug or id."""
    return Organisation.objects.filter(slug_or_id(value)).order_by("pk").first()
