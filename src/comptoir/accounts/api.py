from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from comptoir.core.api import ErrorOut, actor_of

router = Router(tags=["accounts"])


class OrganisationRef(Schema):
    id: int
    slug: str
    name: str


class DeskRole(Schema):
    desk: str
    roles: list[str]


class MeOut(Schema):
    id: int
    email: str
    name: str
    locale: str
    time_zone: str
    organisation: OrganisationRef | None
    is_superuser: bool
    desks: list[DeskRole]
    auth: str


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="Who am I")
def me(request: HttpRequest):
    from comptoir.desks.models import Desk

    actor = actor_of(request)
    user = actor.user
    roles = actor.roles()
    slugs = dict(Desk.objects.filter(pk__in=list(roles)).values_list("pk", "slug"))
    org = user.organisation
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "locale": user.locale,
        "time_zone": user.time_zone,
        "organisation": {"id": org.pk, "slug": org.slug, "name": org.name} if org else None,
        "is_superuser": user.is_superuser,
        "desks": [{"desk": slugs[d], "roles": sorted(r)} for d, r in sorted(roles.items()) if d in slugs],
        "auth": str(actor.kind),
    }
