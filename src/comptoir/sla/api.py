"""``/api/v1/sla/policies`` and ``/api/v1/tickets/{ref}/sla``."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import BaseModel, Field

from comptoir.accounts.permissions import is_staff_on
from comptoir.core.api import ErrorOut, actor_of
from comptoir.core.errors import DomainError, ErrorCode, NotFound
from comptoir.desks.selectors import resolve_desk
from comptoir.sla import policies as policy_services
from comptoir.sla.models import Scope, SlaPolicy
from comptoir.sla.selectors import clocks_of, policies_of
from comptoir.tickets.selectors import get_ticket_for

router = Router(tags=["sla"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class TargetIn(Schema):
    metric: str = Field(description="first_response, next_response or resolution.")
    minutes: int = Field(description="Business minutes.")
    priority: int | None = Field(None, description="Only for this priority (1-5).")


class PolicyIn(Schema):
    desk: str = Field(description="Desk slug, prefix or id.")
    name: str
    scope: str = Field("sla", description="sla (to the requester) or ola (to the team).")
    position: int = 100
    is_active: bool = True
    kinds: list[str] = []
    priorities: list[int] = []
    channels: list[str] = []
    categories: list[int | str] = []
    organisations: list[int | str] = []
    teams: list[int | str] = []
    vip_only: bool = False
    calendar_source: str = Field(
        "desk", description="desk, team, organisation, fixed (with calendar) or always (24×7)."
    )
    calendar: int | str | None = None
    pause_states: list[str] = Field(
        default_factory=lambda: ["waiting_customer", "waiting_vendor", "waiting"]
    )
    targets: list[TargetIn]
    warn_at: list[int] = [75, 90]
    warn_notify: list[str] = ["assignee", "team_lead"]
    breach_notify: list[str] = ["assignee", "team_lead", "desk_manager"]
    breach_reassign_team: int | str | None = None
    breach_raise_priority: bool = False


class PolicyPatch(Schema):
    name: str | None = None
    position: int | None = None
    is_active: bool | None = None
    kinds: list[str] | None = None
    priorities: list[int] | None = None
    channels: list[str] | None = None
    categories: list[int | str] | None = None
    organisations: list[int | str] | None = None
    teams: list[int | str] | None = None
    vip_only: bool | None = None
    calendar_source: str | None = None
    calendar: int | str | None = None
    pause_states: list[str] | None = None
    targets: list[TargetIn] | None = None
    warn_at: list[int] | None = None
    warn_notify: list[str] | None = None
    breach_notify: list[str] | None = None
    breach_reassign_team: int | str | None = None
    breach_raise_priority: bool | None = None


class PolicyOut(BaseModel):
    id: int
    desk: str
    name: str
    scope: str
    position: int
    is_active: bool
    kinds: list[str]
    priorities: list[int]
    channels: list[str]
    categories: list[int]
    organisations: list[str]
    teams: list[str]
    vip_only: bool
    calendar_source: str
    calendar: str | None
    pause_states: list[str]
    targets: list[dict[str, Any]]
    warn_at: list[int]
    warn_notify: list[str]
    breach_notify: list[str]
    breach_reassign_team: str | None
    breach_raise_priority: bool


class ClockOut(BaseModel):
    metric: str
    scope: str
    policy: str | None
    team: str | None
    status: str = Field(
        description="running, paused, met, breached, or stopped (the target no longer applies: "
        "the ticket left the team, or another policy matches it now)."
    )
    cycle: int
    target_minutes: int
    started_at: datetime
    due_at: datetime | None = Field(description="UTC; for a stopped or paused clock, the breach.")
    due_local: datetime | None = Field(description="The same moment in the viewer's time zone.")
    business_seconds_left: int | None = Field(description="Negative once breached.")
    elapsed_seconds: int
    calendar: str | None
    time_zone: str
    breached_at: datetime | None
    stopped_at: datetime | None


def policy_out(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "id": policy.pk,
        "desk": policy.desk.slug,
        "name": policy.name,
        "scope": policy.scope,
        "position": policy.position,
        "is_active": policy.is_active,
        "kinds": policy.kinds,
        "priorities": policy.priorities,
        "channels": policy.channels,
        "categories": [c.pk for c in policy.categories.all()],
        "organisations": [o.slug for o in policy.organisations.all()],
        "teams": [t.slug for t in policy.teams.all()],
        "vip_only": policy.vip_only,
        "calendar_source": policy.calendar_source,
        "calendar": policy.calendar.name if policy.calendar else None,
        "pause_states": policy.pause_states,
        "targets": policy.targets,
        "warn_at": policy.warn_at,
        "warn_notify": policy.warn_notify,
        "breach_notify": policy.breach_notify,
        "breach_reassign_team": (
            policy.breach_reassign_team.slug if policy.breach_reassign_team else None
        ),
        "breach_raise_priority": policy.breach_raise_priority,
    }


def _policy(request: HttpRequest, policy_id: int) -> SlaPolicy:
    """A policy of a desk the caller works on; any other is missing, as elsewhere in the API."""
    actor = actor_of(request)
    policy = SlaPolicy.objects.select_related("desk").filter(pk=policy_id).first()
    found = policies_of(actor, policy.desk).filter(pk=policy_id).first() if policy else None
    if found is None:
        raise NotFound("policy", {"id": policy_id})
    return found


@router.get("/sla/policies", response={200: list[PolicyOut], **ERRORS}, summary="SLA policies")
def list_policies(request: HttpRequest, desk: str):
    actor = actor_of(request)
    return [policy_out(p) for p in policies_of(actor, resolve_desk(actor, desk))]


@router.post(
    "/sla/policies", response={201: PolicyOut, **ERRORS}, summary="Define an SLA or OLA policy"
)
def create_policy(request: HttpRequest, payload: PolicyIn):
    actor = actor_of(request)
    values = payload.model_dump()
    desk = resolve_desk(actor, values.pop("desk"))
    policy = policy_services.create_policy(actor=actor, desk=desk, **values)
    return Status(201, policy_out(policies_of(actor, desk).get(pk=policy.pk)))


@router.get("/sla/policies/{policy_id}", response={200: PolicyOut, **ERRORS}, summary="One policy")
def get_policy(request: HttpRequest, policy_id: int):
    return policy_out(_policy(request, policy_id))


@router.patch(
    "/sla/policies/{policy_id}", response={200: PolicyOut, **ERRORS}, summary="Change a policy"
)
def update_policy(request: HttpRequest, policy_id: int, payload: PolicyPatch):
    actor = actor_of(request)
    policy = _policy(request, policy_id)
    values = payload.model_dump(exclude_unset=True)
    policy_services.update_policy(actor=actor, policy=policy, **values)
    return policy_out(_policy(request, policy_id))


@router.delete(
    "/sla/policies/{policy_id}", response={204: None, **ERRORS}, summary="Delete a policy"
)
def delete_policy(request: HttpRequest, policy_id: int):
    policy_services.delete_policy(actor=actor_of(request), policy=_policy(request, policy_id))
    return Status(204, None)


@router.get(
    "/tickets/{ref}/sla",
    response={200: list[ClockOut], **ERRORS},
    summary="A ticket's SLA targets: due time, time left, state",
)
def ticket_sla(request: HttpRequest, ref: str, tz: str | None = None):
    actor = actor_of(request)
    ticket = get_ticket_for(actor, ref)
    zone = tz or (actor.user.time_zone if actor.user else "UTC")
    if zone not in zoneinfo.available_timezones():
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, f"Unknown time zone {zone!r}.", {"field": "tz"}
        )
    staff = is_staff_on(actor, ticket.desk_id)
    return [
        {
            "metric": v.clock.metric,
            "scope": v.clock.scope,
            "policy": v.clock.policy.name if v.clock.policy else None,
            "team": v.clock.team.name if v.clock.team else None,
            "status": v.status,
            "cycle": v.clock.cycle,
            "target_minutes": v.clock.target_seconds // 60,
            "started_at": v.clock.started_at,
            "due_at": v.due_at,
            "due_local": v.due_local,
            "business_seconds_left": v.business_seconds_left,
            "elapsed_seconds": v.elapsed_seconds,
            "calendar": v.clock.calendar.name if v.clock.calendar else None,
            "time_zone": v.clock.time_zone,
            "breached_at": v.clock.breached_at,
            "stopped_at": v.clock.stopped_at,
        }
        for v in clocks_of(ticket, viewer_zone=zone)
        if staff or v.clock.scope == Scope.SLA  # a team's own targets are internal
    ]
