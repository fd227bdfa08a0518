"""``/api/v1/calendars``: business calendars, their holidays, and questions about them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import BaseModel, Field

from comptoir.accounts.permissions import staff_desk_ids
from comptoir.core.api import ErrorOut, actor_of
from comptoir.core.errors import DomainError, ErrorCode, NotFound
from comptoir.desks import calendars as services
from comptoir.desks.business_time import (
    CalendarError,
    add_business_time,
    business_time_between,
)
from comptoir.desks.models import BusinessCalendar

router = Router(tags=["calendars"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 413: ErrorOut, 422: ErrorOut}


class OpeningIO(Schema):
    weekday: int = Field(description="0 = Monday … 6 = Sunday.")
    start: str = Field(description="HH:MM, local time.")
    end: str = Field(description="HH:MM; at or before start: runs past midnight.")


class CalendarIn(Schema):
    name: str
    time_zone: str = "UTC"
    always_open: bool = False
    openings: list[OpeningIO] = []
    holiday_country: str = Field("", description="ISO country code: generates public holidays.")
    holiday_subdivision: str = ""
    ical_url: str = ""
    holidays: list[dt.date] = []


class CalendarPatch(Schema):
    name: str | None = None
    time_zone: str | None = None
    always_open: bool | None = None
    openings: list[OpeningIO] | None = None
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    ical_url: str | None = None


class HolidayIO(Schema):
    date: dt.date
    name: str = ""


class HolidaysIn(Schema):
    holidays: list[HolidayIO]


class GenerateIn(Schema):
    years: list[int] | None = Field(None, description="Default: last year and the next four.")


class ImportUrlIn(Schema):
    url: str | None = Field(None, description="Default: the calendar's own iCalendar URL.")


class HolidayOut(BaseModel):
    date: dt.date
    name: str
    source: str


class CalendarOut(BaseModel):
    id: int
    name: str
    time_zone: str
    always_open: bool
    openings: list[dict[str, Any]]
    holiday_country: str
    holiday_subdivision: str
    ical_url: str
    holidays: list[HolidayOut]
    updated_at: dt.datetime


class CountOut(BaseModel):
    added: int


class ComputeOut(BaseModel):
    start: dt.datetime
    minutes: int | None
    due_at: dt.datetime | None
    end: dt.datetime | None
    business_minutes: float | None
    open_now: bool


def calendar_out(calendar: BusinessCalendar) -> dict[str, Any]:
    return {
        "id": calendar.pk,
        "name": calendar.name,
        "time_zone": calendar.time_zone,
        "always_open": calendar.always_open,
        "openings": calendar.openings,
        "holiday_country": calendar.holiday_country,
        "holiday_subdivision": calendar.holiday_subdivision,
        "ical_url": calendar.ical_url,
        "holidays": [
            {"date": h.date, "name": h.name, "source": h.source} for h in calendar.holidays.all()
        ],
        "updated_at": calendar.updated_at,
    }


def _may_read(request: HttpRequest) -> None:
    actor = actor_of(request)
    if not (actor.is_system or actor.is_superuser or staff_desk_ids(actor)):
        raise NotFound("calendar")


def _calendar(request: HttpRequest, calendar_id: int) -> BusinessCalendar:
    _may_read(request)
    found = BusinessCalendar.objects.prefetch_related("holidays").filter(pk=calendar_id).first()
    if found is None:
        raise NotFound("calendar", {"id": calendar_id})
    return found


def _values(payload: Schema, *, partial: bool) -> dict[str, Any]:
    values = payload.model_dump(exclude_unset=partial)
    values.pop("holidays", None)
    return values


@router.get("", response={200: list[CalendarOut], **ERRORS}, summary="Business calendars")
def list_calendars(request: HttpRequest):
    _may_read(request)
    return [
        calendar_out(c)
        for c in BusinessCalendar.objects.prefetch_related("holidays").order_by("name")
    ]


@router.post("", response={201: CalendarOut, **ERRORS}, summary="Create a business calendar")
def create_calendar(request: HttpRequest, payload: CalendarIn):
    calendar = services.create_calendar(
        actor=actor_of(request), holidays=payload.holidays, **_values(payload, partial=False)
    )
    return Status(201, calendar_out(_calendar(request, calendar.pk)))


@router.get("/{calendar_id}", response={200: CalendarOut, **ERRORS}, summary="One calendar")
def get_calendar(request: HttpRequest, calendar_id: int):
    return calendar_out(_calendar(request, calendar_id))


@router.patch("/{calendar_id}", response={200: CalendarOut, **ERRORS}, summary="Change a calendar")
def update_calendar(request: HttpRequest, calendar_id: int, payload: CalendarPatch):
    calendar = _calendar(request, calendar_id)
    services.update_calendar(
        actor=actor_of(request), calendar=calendar, **_values(payload, partial=True)
    )
    return calendar_out(_calendar(request, calendar_id))


@router.delete("/{calendar_id}", response={204: None, **ERRORS}, summary="Delete a calendar")
def delete_calendar(request: HttpRequest, calendar_id: int):
    services.delete_calendar(actor=actor_of(request), calendar=_calendar(request, calendar_id))
    return Status(204, None)


@router.post(
    "/{calendar_id}/holidays", response={200: CountOut, **ERRORS}, summary="Add holidays by hand"
)
def add_holidays(request: HttpRequest, calendar_id: int, payload: HolidaysIn):
    added = services.set_holidays(
        actor=actor_of(request),
        calendar=_calendar(request, calendar_id),
        days=[h.model_dump() for h in payload.holidays],
    )
    return {"added": added}


@router.post(
    "/{calendar_id}/holidays/generate",
    response={200: CountOut, **ERRORS},
    summary="Add the public holidays of the calendar's country",
)
def generate_holidays(request: HttpRequest, calendar_id: int, payload: GenerateIn):
    years = payload.years
    if years is not None and any(not 1900 < y < 2200 for y in years):
        raise DomainError(ErrorCode.VALIDATION_ERROR, "Years are 1901 to 2199.", {"field": "years"})
    added = services.generate_holidays(
        actor=actor_of(request), calendar=_calendar(request, calendar_id), years=years
    )
    return {"added": added}


@router.post(
    "/{calendar_id}/holidays/import",
    response={200: CountOut, **ERRORS},
    summary="Import holidays from an iCalendar file (multipart 'file')",
)
def import_holidays(request: HttpRequest, calendar_id: int, file: File[UploadedFile]):
    calendar = _calendar(request, calendar_id)
    if file.size is not None and file.size > services.MAX_ICAL_BYTES:
        raise DomainError(
            ErrorCode.ATTACHMENT_TOO_LARGE, "The holiday file is too large (2 MB at most)."
        )
    data = file.read(services.MAX_ICAL_BYTES + 1)
    added = services.import_ical(actor=actor_of(request), calendar=calendar, data=data)
    return {"added": added}


@router.post(
    "/{calendar_id}/holidays/import-url",
    response={200: CountOut, **ERRORS},
    summary="Import holidays from an iCalendar URL",
)
def import_holidays_url(request: HttpRequest, calendar_id: int, payload: ImportUrlIn):
    calendar = _calendar(request, calendar_id)
    if not (payload.url or calendar.ical_url):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "Give a URL, or set the calendar's.", {"field": "url"}
        )
    added = services.import_ical_url(actor=actor_of(request), calendar=calendar, url=payload.url)
    return {"added": added}


# Declared after the fixed paths under /holidays/, which {day} would take otherwise.
@router.delete(
    "/{calendar_id}/holidays/{day}", response={204: None, **ERRORS}, summary="Remove a holiday"
)
def remove_holiday(request: HttpRequest, calendar_id: int, day: dt.date):
    services.remove_holiday(
        actor=actor_of(request), calendar=_calendar(request, calendar_id), day=day
    )
    return Status(204, None)


@router.get(
    "/{calendar_id}/compute",
    response={200: ComputeOut, **ERRORS},
    summary="When is a target due, or how much business time between two moments",
)
def compute(
    request: HttpRequest,
    calendar_id: int,
    start: dt.datetime,
    minutes: int | None = None,
    end: dt.datetime | None = None,
):
    schedule = _calendar(request, calendar_id).schedule()
    start = start if start.tzinfo else start.replace(tzinfo=dt.UTC)
    if (minutes is None) == (end is None):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "Give either minutes or end.", {"field": "minutes"}
        )
    due = between = None
    try:
        due, between = _compute(schedule, start, minutes, end)
    except CalendarError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, str(exc), {"field": "calendar"}) from exc
    return {
        "start": start,
        "minutes": minutes,
        "due_at": due,
        "end": end if end is None or end.tzinfo else end.replace(tzinfo=dt.UTC),
        "business_minutes": between,
        "open_now": schedule.is_open(dt.datetime.now(dt.UTC)),
    }


def _compute(schedule, start, minutes, end):
    due = between = None
    if minutes is not None:
        if not 0 <= minutes <= 366 * 24 * 60:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, "Minutes are 0 to a year.", {"field": "minutes"}
            )
        due = add_business_time(schedule, start, dt.timedelta(minutes=minutes))
    if end is not None:
        end = end if end.tzinfo else end.replace(tzinfo=dt.UTC)
        between = business_time_between(schedule, start, end).total_seconds() / 60
    return due, between
