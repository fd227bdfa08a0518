"""Business calendars: validation, the cached pure schedule, holidays generated or imported.

Every change goes through the services here (the API and the admin call them), which check the
calendar by building its :class:`~comptoir.desks.business_time.Schedule`, so a calendar that
cannot be computed on (no opening time, overlapping intervals, unknown time zone) is refused
before it is saved.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import urllib.parse
import urllib.request
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction

from comptoir.accounts.permissions import is_manager_on
from comptoir.core.actor import Actor
from comptoir.core.audit import record_audit, snapshot
from comptoir.core.errors import DomainError, ErrorCode, PermissionDenied
from comptoir.desks.business_time import CalendarError, Opening, Schedule
from comptoir.desks.models import BusinessCalendar, Holiday, HolidaySource

MAX_ICAL_BYTES = 2 * 1024 * 1024
ICAL_TIMEOUT_SECONDS = 15
HOLIDAY_YEARS_AHEAD = 3
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# (pk, updated_at) -> Schedule. A calendar's row carries its own version (updated_at, which a
# holiday's change bumps), so a process never computes on a stale copy and needs no signal.
_schedules: dict[tuple[int, dt.datetime], Schedule] = {}


def _invalid(message: str, **details: Any) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, details)


def parse_openings(raw: Any) -> list[Opening]:
    """``[{"weekday": 0, "start": "09:00", "end": "17:00"}, …]`` → openings, or a clear error."""
    if not isinstance(raw, list):
        raise CalendarError("Opening hours must be a list of {weekday, start, end}.")
    openings = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise CalendarError(f"Opening {index + 1} must be an object with weekday, start, end.")
        weekday = item.get("weekday")
        if isinstance(weekday, str) and weekday.lower()[:3] in WEEKDAYS:
            weekday = WEEKDAYS.index(weekday.lower()[:3])
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise CalendarError(f"Opening {index + 1}: weekday must be 0 (Monday) to 6 (Sunday).")
        times = []
        for key in ("start", "end"):
            value = item.get(key)
            match = _HHMM.match(value) if isinstance(value, str) else None
            if match is None:
                raise CalendarError(f"Opening {index + 1}: {key} must be a time such as 09:00.")
            times.append(dt.time(int(match[1]), int(match[2])))
        openings.append(Opening(weekday, times[0], times[1]))
    return openings


def format_openings(openings: Iterable[Opening]) -> list[dict[str, Any]]:
    return [
        {"weekday": o.weekday, "start": o.start.strftime("%H:%M"), "end": o.end.strftime("%H:%M")}
        for o in openings
    ]


def _build(calendar: BusinessCalendar, holidays: Iterable[dt.date]) -> Schedule:
    return Schedule.build(
        calendar.time_zone,
        parse_openings(calendar.openings),
        holidays,
        always_open=calendar.always_open,
    )


def schedule_problems(calendar: BusinessCalendar) -> list[str]:
    """Why a calendar cannot be saved as it is (empty when it can)."""
    try:
        _build(calendar, ())
    except CalendarError as exc:
        return [str(exc)]
    return []


def schedule_of(calendar: BusinessCalendar) -> Schedule:
    """The pure schedule of a saved calendar, holidays included, built once per version."""
    key = (calendar.pk, calendar.updated_at)
    found = _schedules.get(key)
    if found is None:
        dates = Holiday.objects.filter(calendar_id=calendar.pk).values_list("date", flat=True)
        found = _build(calendar, list(dates))
        if len(_schedules) > 256:
            _schedules.clear()
        _schedules[key] = found
    return found


# --- who may change calendars -----------------------------------------------------------------


def can_edit_calendars(actor: Actor) -> bool:
    """Calendars are shared by desks: a manager (of any desk) or a superuser edits them."""
    if actor.is_system or actor.is_superuser:
        return True
    return any(is_manager_on(actor, desk_id) for desk_id in actor.roles())


def _require_editor(actor: Actor) -> None:
    if not can_edit_calendars(actor):
        raise PermissionDenied("Only a desk manager may change business calendars.")


# --- services ---------------------------------------------------------------------------------

_FIELDS = (
    "name",
    "time_zone",
    "always_open",
    "openings",
    "holiday_country",
    "holiday_subdivision",
    "ical_url",
)


def _apply(calendar: BusinessCalendar, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name not in _FIELDS:
            raise _invalid(f"Unknown field {name!r}.", field=name)
        if value is None and name != "openings":
            continue
        setattr(calendar, name, value)
    calendar.name = (calendar.name or "").strip()
    if not calendar.name:
        raise _invalid("A calendar needs a name.", field="name")
    if calendar.time_zone not in zoneinfo.available_timezones():
        raise _invalid(f"Unknown time zone {calendar.time_zone!r}.", field="time_zone")
    try:
        calendar.openings = format_openings(parse_openings(calendar.openings or []))
        _build(calendar, ())
    except CalendarError as exc:
        raise _invalid(str(exc), field="openings") from exc
    if calendar.holiday_country:
        calendar.holiday_country = calendar.holiday_country.upper()
        # Known country and subdivision? (Asking for one year is enough to tell.)
        _country_holidays(
            calendar.holiday_country, calendar.holiday_subdivision, [dt.date.today().year]
        )
    duplicate = BusinessCalendar.objects.filter(name__iexact=calendar.name)
    if calendar.pk:
        duplicate = duplicate.exclude(pk=calendar.pk)
    if duplicate.exists():
        raise _invalid("A calendar with this name exists already.", field="name")


@transaction.atomic
def create_calendar(*, actor: Actor, holidays: Iterable[dt.date] = (), **values: Any):
    _require_editor(actor)
    calendar = BusinessCalendar()
    _apply(calendar, values)
    calendar.save()
    set_holidays(actor=actor, calendar=calendar, days=holidays, audited=False)
    if calendar.holiday_country:
        generate_holidays(actor=actor, calendar=calendar, audited=False)
    record_audit(actor=actor, action="create", obj=calendar, after=snapshot(calendar))
    return calendar


@transaction.atomic
def update_calendar(*, actor: Actor, calendar: BusinessCalendar, **values: Any):
    _require_editor(actor)
    calendar = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
    before = snapshot(calendar)
    _apply(calendar, values)
    calendar.save()
    if "holiday_country" in values or "holiday_subdivision" in values:
        calendar.holidays.filter(source=HolidaySource.GENERATED).delete()
        if calendar.holiday_country:
            generate_holidays(actor=actor, calendar=calendar, audited=False)
    record_audit(
        actor=actor, action="update", obj=calendar, before=before, after=snapshot(calendar)
    )
    calendar.refresh_from_db()
    return calendar


@transaction.atomic
def delete_calendar(*, actor: Actor, calendar: BusinessCalendar) -> None:
    _require_editor(actor)
    if calendar.desks.exists() or calendar.teams.exists():
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "This calendar is in use by a desk or a team; give them another one first.",
        )
    record_audit(actor=actor, action="delete", obj=calendar, before=snapshot(calendar))
    calendar.delete()


def _clean_day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise _invalid(f"{value!r} is not a date (YYYY-MM-DD).", field="holidays") from exc


@transaction.atomic
def set_holidays(
    *,
    actor: Actor,
    calendar: BusinessCalendar,
    days: Iterable[Any],
    source: str = HolidaySource.MANUAL,
    audited: bool = True,
) -> int:
    """Add holidays (a date, or a ``{"date", "name"}`` mapping); known dates keep their name."""
    _require_editor(actor)
    rows = []
    for day in days:
        name = ""
        if isinstance(day, dict):
            name = str(day.get("name") or "")[:200]
            day = day.get("date")
        rows.append(Holiday(calendar=calendar, date=_clean_day(day), name=name, source=source))
    if not rows:
        return 0
    known = set(calendar.holidays.values_list("date", flat=True))
    fresh = {r.date: r for r in rows if r.date not in known}
    Holiday.objects.bulk_create(fresh.values())
    calendar.save(update_fields=["updated_at"])
    if audited and fresh:
        record_audit(
            actor=actor,
            action="add_holidays",
            obj=calendar,
            after={"holidays": sorted(d.isoformat() for d in fresh)},
        )
    return len(fresh)


@transaction.atomic
def remove_holiday(*, actor: Actor, calendar: BusinessCalendar, day: Any) -> None:
    _require_editor(actor)
    date = _clean_day(day)
    deleted, _ = calendar.holidays.filter(date=date).delete()
    if not deleted:
        raise _invalid(f"{date} is not a holiday of this calendar.", field="date")
    calendar.save(update_fields=["updated_at"])
    record_audit(
        actor=actor, action="remove_holiday", obj=calendar, before={"holiday": date.isoformat()}
    )


def _country_holidays(country: str, subdivision: str, years: Iterable[int]) -> dict[dt.date, str]:
    import holidays

    try:
        found = holidays.country_holidays(country, subdiv=subdivision or None, years=list(years))
    except (NotImplementedError, KeyError) as exc:
        raise _invalid(
            f"No public holidays are known for {country}"
            + (f" / {subdivision}" if subdivision else "")
            + ".",
            field="holiday_country",
        ) from exc
    return dict(found.items())


def generate_holidays(
    *,
    actor: Actor,
    calendar: BusinessCalendar,
    years: Iterable[int] | None = None,
    audited: bool = True,
) -> int:
    """Public holidays of the calendar's country (and subdivision), this year and the next three."""
    _require_editor(actor)
    if not calendar.holiday_country:
        raise _invalid("Set the calendar's holiday country first.", field="holiday_country")
    if years is None:
        first = dt.date.today().year - 1
        years = range(first, first + HOLIDAY_YEARS_AHEAD + 2)
    found = _country_holidays(calendar.holiday_country, calendar.holiday_subdivision, years)
    days = [{"date": day, "name": name} for day, name in sorted(found.items())]
    return set_holidays(
        actor=actor,
        calendar=calendar,
        days=days,
        source=HolidaySource.GENERATED,
        audited=audited,
    )


def parse_ical(data: bytes) -> list[dict[str, Any]]:
    """The all-day (or day-spanning) events of an iCalendar file as holidays, or a clear error."""
    import icalendar

    if len(data) > MAX_ICAL_BYTES:
        raise _invalid("The holiday file is too large (2 MB at most).", field="file")
    try:
        parsed = icalendar.Calendar.from_ical(data)
    except Exception as exc:  # icalendar raises ValueError and friends on malformed input
        raise _invalid(f"The holiday file is not valid iCalendar: {exc}", field="file") from exc
    days: list[dict[str, Any]] = []
    for event in parsed.walk("VEVENT"):
        start = event.get("DTSTART")
        if start is None:
            continue
        first = start.dt.date() if isinstance(start.dt, dt.datetime) else start.dt
        end = event.get("DTEND")
        last = first
        if end is not None:
            end_day = end.dt.date() if isinstance(end.dt, dt.datetime) else end.dt
            last = max(first, end_day - dt.timedelta(days=1))
        name = str(event.get("SUMMARY") or "")
        if (last - first).days > 366:
            raise _invalid(f"The event {name!r} lasts more than a year.", field="file")
        day = first
        while day <= last:
            days.append({"date": day, "name": name})
            day += dt.timedelta(days=1)
    if not days:
        raise _invalid("The holiday file holds no event.", field="file")
    return days


def import_ical(*, actor: Actor, calendar: BusinessCalendar, data: bytes) -> int:
    _require_editor(actor)
    return set_holidays(
        actor=actor, calendar=calendar, days=parse_ical(data), source=HolidaySource.IMPORTED
    )


def _public_host(url: str) -> None:
    """Refuse an address inside the network (loopback, private, link-local, metadata)."""
    host = urllib.parse.urlsplit(url).hostname
    if not host:
        raise _invalid("The address has no host.", field="url")
    if settings.COMPTOIR_FETCH_PRIVATE_URLS:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise _invalid(f"Unknown host {host!r}.", field="url") from exc
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
        if not ip.is_global:
            raise _invalid(
                f"{host} is a private address; Comptoir fetches only public ones "
                "(COMPTOIR_FETCH_PRIVATE_URLS=1 allows them).",
                field="url",
            )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead inside the network after the check: follow none."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise _invalid(f"The address redirects ({code}) to {newurl}; give that one.", field="url")


def fetch_ical(url: str) -> bytes:
    """Download an iCalendar file over HTTP(S), with a size limit, a timeout and no redirect."""
    if not re.match(r"^https?://", url, re.IGNORECASE):
        raise _invalid("Only http:// and https:// addresses can be imported.", field="url")
    _public_host(url)
    request = urllib.request.Request(url, headers={"User-Agent": "Comptoir holiday import"})  # noqa: S310
    try:
        opener = urllib.request.build_opener(_NoRedirect)
        with opener.open(request, timeout=ICAL_TIMEOUT_SECONDS) as response:
            data = response.read(MAX_ICAL_BYTES + 1)
    except OSError as exc:
        raise _invalid(f"Could not download the holiday file: {exc}", field="url") from exc
    return data


def import_ical_url(*, actor: Actor, calendar: BusinessCalendar, url: str | None = None) -> int:
    _require_editor(actor)  # before fetching anything on the caller's word
    return import_ical(actor=actor, calendar=calendar, data=fetch_ical(url or calendar.ical_url))
