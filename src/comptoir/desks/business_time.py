"""Business time on weekly calendars: the arithmetic behind SLA deadlines.

Pure functions on an immutable :class:`Schedule` (standard library only, no database). Every
datetime taken must be timezone-aware (a naive one raises ``ValueError``); every datetime given
back is in UTC. Results are exact to the microsecond.

Conventions (``docs/subsystems/sla-business-time.md`` works through examples of each):

* **Wall-clock openings, real seconds.** An :class:`Opening` is a weekday and two local
  wall-clock times in the schedule's zone; a day's interval is ``[start, end)``. An end at or
  before the start runs past midnight into the next day (a ``22:00–06:00`` night shift);
  ``end == 00:00`` is the midnight that ends the day (``09:00–00:00``), and ``00:00–00:00`` is
  the whole day. Business time is counted in real elapsed seconds: a 22:00–06:00 shift lasts
  7 hours across the spring change and 9 hours across the autumn one.
* **Daylight-saving changes.** A local time that does not exist (02:30 on the spring-forward
  night in Paris) is moved forward by the gap: 03:30. A local time that happens twice (02:30 on
  the fall-back night) is its first occurrence. This is what ``zoneinfo`` gives with
  ``fold=0``. An interval whose start is moved past its end is empty that day. A date runs
  from its midnight to the next, both read the same way (where a change is at midnight, the
  date starts when its first hour exists).
* **Holidays** close their whole local date, 00:00 to 24:00, including the part of a night
  shift that runs into it: the shift that starts the evening before a holiday stops at
  midnight, and the one that starts on the holiday evening only runs from midnight on.
* **Adding.** ``add_business_time(s, start, 0)`` is ``start`` (in UTC), even when closed.
  Otherwise time counts from ``start`` when the schedule is open then, else from the next
  opening; a duration that runs out exactly at a closing time ends at that closing time
  (17:00), not at the next opening. Adjacent intervals (Monday 22:00–00:00 and Tuesday
  00:00–06:00) are one interval.
* **No opening for too long.** Once the search has found more than 1,100 days in a row closed
  (every working day a holiday), it stops with ``CalendarError("No business time in the next
  three years.")`` instead of looping.
* **24×7** (``always_open``): adding is plain addition of real time, the time between two
  moments is their difference; holidays and openings are kept but not used.

How it is fast: a schedule keeps, per block of 64 local dates and built on first use, its open
intervals as UTC epoch microseconds (ints) with their running total. Adding is then two binary
searches and a subtraction per block crossed; the time between two moments is two lookups and a
sum of block totals. Building a block asks ``zoneinfo`` for the offset at each local midnight and
converts boundary by boundary only the dates on which the offset changes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "WEEKDAYS",
    "CalendarError",
    "Opening",
    "Schedule",
    "add_business_time",
    "business_time_between",
    "weekly_open_seconds",
]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_US = 1_000_000  # microseconds in a second
_DAY_US = 86_400 * _US
_ONE_US = timedelta(microseconds=1)
_ZERO = timedelta(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
_MAX_ORDINAL = date.max.toordinal()
_BLOCK_DAYS = 64  # local dates per cached block
_SEARCH_DAYS = 1_100
_SEARCH_US = _SEARCH_DAYS * _DAY_US
_NOTHING_AHEAD = "No business time in the next three years."


class CalendarError(ValueError):
    """A calendar that cannot be used; the message can be shown to the person who wrote it."""


@dataclass(frozen=True, order=True, slots=True)
class Opening:
    """One weekly opening: ``weekday`` (0 Monday … 6 Sunday), local ``start`` and ``end``.

    ``end <= start`` runs past midnight into the next day (22:00–06:00); ``end == 00:00`` is the
    midnight that ends the day; 00:00–00:00 is the whole day. Checked by :class:`Schedule`.
    """

    weekday: int
    start: time
    end: time

    def __str__(self) -> str:
        day = WEEKDAYS[self.weekday] if 0 <= self.weekday <= 6 else f"Day {self.weekday}"
        return f"{day} {_clock(self.start)}–{_clock(self.end)}"


# A block of local dates: (lo, hi, starts, ends, before, through, total). ``lo``/``hi`` are the
# UTC microseconds of the first date's midnight and of the next block's; interval n is
# [starts[n], ends[n]); ``before[n]`` is the open time of the block before it, ``through[n]``
# that time plus its own length, ``total`` the block's open time.
_Block = tuple[int, int, tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...], int]


class Schedule:
    """A business calendar: a zone, weekly openings and holidays (or 24×7). Immutable.

    Two schedules with the same definition are equal and hash alike, so they can key a cache.
    Each instance fills its own cache of open intervals as it is used; it never goes stale.
    """

    __slots__ = (
        "tz",
        "openings",
        "holidays",
        "always_open",
        "_key",
        "_hash",
        "_segments",
        "_closed_ordinals",
        "_blocks",
    )

    tz: ZoneInfo
    openings: tuple[Opening, ...]
    holidays: frozenset[date]
    always_open: bool
    _key: tuple[object, ...]
    _hash: int
    _segments: tuple[tuple[tuple[int, int], ...], ...]
    _closed_ordinals: frozenset[int]
    _blocks: dict[int, _Block]

    def __init__(
        self,
        tz: str | ZoneInfo,
        openings: Iterable[Opening | tuple[int, time, time]] = (),
        holidays: Iterable[date] = (),
        *,
        always_open: bool = False,
    ) -> None:
        zone = _zone(tz)
        checked = tuple(sorted(_opening(item) for item in openings))
        segments = _weekday_segments(checked)
        days_off = frozenset(_holiday(day) for day in holidays)
        if not checked and not always_open:
            raise CalendarError("The calendar has no opening time.")
        always_open = bool(always_open)
        key = (zone.key if zone.key is not None else zone, checked, days_off, always_open)
        init = object.__setattr__
        init(self, "tz", zone)
        init(self, "openings", checked)
        init(self, "holidays", days_off)
        init(self, "always_open", always_open)
        init(self, "_key", key)
        init(self, "_hash", hash(key))
        init(self, "_segments", segments)
        init(self, "_closed_ordinals", frozenset(day.toordinal() for day in days_off))
        init(self, "_blocks", {})

    @classmethod
    def build(
        cls,
        tz: str | ZoneInfo,
        openings: Iterable[Opening | tuple[int, time, time]] = (),
        holidays: Iterable[date] = (),
        *,
        always_open: bool = False,
    ) -> Schedule:
        """A checked schedule; raises :class:`CalendarError` on a bad definition."""
        return cls(tz, openings, holidays, always_open=always_open)

    @classmethod
    def twenty_four_seven(cls, tz: str | ZoneInfo = "UTC") -> Schedule:
        return cls(tz, always_open=True)

    # --- value semantics ----------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("A Schedule cannot be changed; build another one.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("A Schedule cannot be changed; build another one.")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.tz, self.openings, self.holidays, self.always_open))

    def __repr__(self) -> str:
        if self.always_open:
            return f"Schedule.twenty_four_seven({self.tz.key!r})"
        return (
            f"Schedule({self.tz.key!r}, {len(self.openings)} openings, "
            f"{len(self.holidays)} holidays)"
        )

    # --- questions ----------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        moment = _utc_us(at, "at")
        if self.always_open:
            return True
        _, block = self._locate(moment)
        ends = block[3]
        n = bisect_right(ends, moment)
        return n < len(ends) and block[2][n] <= moment

    def next_opening(self, at: datetime) -> datetime:
        """``at`` (in UTC) when open, else the start of the next opening."""
        moment = _utc_us(at, "at")
        if self.always_open:
            return _datetime(moment)
        k, block = self._locate(moment)
        n = bisect_right(block[3], moment)
        while n == len(block[3]):
            k += 1
            block = self._block(k)
            if not block[6] and block[1] - moment > _SEARCH_US:
                raise CalendarError(_NOTHING_AHEAD)
            n = 0
        return _datetime(max(moment, block[2][n]))

    def open_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The open intervals within ``[start, end)``, clipped to it and merged, in UTC."""
        low = _utc_us(start, "start")
        high = _utc_us(end, "end")
        if high <= low:
            return []
        if self.always_open:
            return [(_datetime(low), _datetime(high))]
        pairs: list[list[int]] = []
        k, block = self._locate(low)
        while True:
            starts, ends = block[2], block[3]
            for n in range(bisect_right(ends, low), len(ends)):
                opens, closes = starts[n], ends[n]
                if opens >= high:
                    break
                opens, closes = max(opens, low), min(closes, high)
                if pairs and pairs[-1][1] == opens:
                    pairs[-1][1] = closes
                else:
                    pairs.append([opens, closes])
            if block[1] >= high:
                break
            k += 1
            block = self._block(k)
        return [(_datetime(opens), _datetime(closes)) for opens, closes in pairs]

    # --- the cache ----------------------------------------------------------------------

    def _block(self, k: int) -> _Block:
        block = self._blocks.get(k)
        if block is None:
            block = self._blocks[k] = self._build_block(k)
        return block

    def _locate(self, moment: int) -> tuple[int, _Block]:
        """The block whose local dates hold ``moment`` (UTC microseconds)."""
        k = (moment // _DAY_US + _EPOCH_ORDINAL) // _BLOCK_DAYS  # from the UTC date: ±1 day
        block = self._blocks.get(k) or self._block(k)
        while moment < block[0]:
            k -= 1
            block = self._block(k)
        while moment >= block[1]:
            k += 1
            block = self._block(k)
        return k, block

    def _build_block(self, k: int) -> _Block:
        first = k * _BLOCK_DAYS
        if first < 1 or first + _BLOCK_DAYS >= _MAX_ORDINAL:
            raise OverflowError("Business time can only be computed between the years 1 and 9999.")
        utcoffset = self.tz.utcoffset
        # The UTC offset at each local midnight (fold=0), and at the one after the block.
        offsets = [
            _offset_us(utcoffset(datetime.fromordinal(ordinal)))
            for ordinal in range(first, first + _BLOCK_DAYS + 1)
        ]
        first_midnight = (first - _EPOCH_ORDINAL) * _DAY_US  # local, as if it were UTC
        lows = [first_midnight + n * _DAY_US - offsets[n] for n in range(_BLOCK_DAYS + 1)]
        starts: list[int] = []
        ends: list[int] = []
        for n in range(_BLOCK_DAYS):
            ordinal = first + n
            segments = self._segments[(ordinal - 1) % 7]
            if not segments or ordinal in self._closed_ordinals:
                continue
            if offsets[n] == offsets[n + 1]:
                # Same offset at both midnights: no change that day (the tz database has no
                # two changes of a zone within three days of each other).
                shift = lows[n]
                day = [(shift + opens, shift + closes) for opens, closes in segments]
            else:
                day = self._changing_day(ordinal, segments, lows[n], lows[n + 1])
            for a, b in day:
                if ends and a <= ends[-1]:
                    if b > ends[-1]:
                        ends[-1] = b
                else:
                    starts.append(a)
                    ends.append(b)
        before: list[int] = []
        through: list[int] = []
        total = 0
        for a, b in zip(starts, ends, strict=True):
            before.append(total)
            total += b - a
            through.append(total)
        return (
            lows[0],
            lows[-1],
            tuple(starts),
            tuple(ends),
            tuple(before),
            tuple(through),
            total,
        )

    def _changing_day(
        self, ordinal: int, segments: tuple[tuple[int, int], ...], low: int, high: int
    ) -> list[tuple[int, int]]:
        """The UTC intervals of a date on which the offset changes, boundary by boundary.

        Each local boundary takes the offset ``zoneinfo`` gives it with fold=0 (a time in a gap
        moves forward by the gap, a repeated time is its first occurrence). The date's own
        midnights bound its intervals, an interval moved past its end is dropped, and
        intervals brought together by the change are merged.
        """
        utcoffset = self.tz.utcoffset
        midnight = datetime.fromordinal(ordinal)
        local = (ordinal - _EPOCH_ORDINAL) * _DAY_US

        def utc(wall: int) -> int:
            if wall == 0:
                return low
            if wall == _DAY_US:
                return high
            return local + wall - _offset_us(utcoffset(midnight + timedelta(0, 0, wall)))

        day = []
        for opens, closes in segments:
            a, b = max(low, utc(opens)), min(high, utc(closes))
            if b > a:
                day.append((a, b))
        day.sort()
        merged: list[tuple[int, int]] = []
        for a, b in day:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return merged


def add_business_time(schedule: Schedule, start: datetime, duration: timedelta) -> datetime:
    """The moment (UTC) when ``duration`` of business time has passed since ``start``."""
    moment = _utc_us(start, "start")
    remaining = duration // _ONE_US
    if remaining < 0:
        raise ValueError("duration must not be negative")
    if remaining == 0 or schedule.always_open:
        return _EPOCH + timedelta(0, 0, moment + remaining)
    k, block = schedule._locate(moment)
    _, high, starts, ends, before, through, total = block
    n = bisect_right(ends, moment)
    if n < len(ends):
        opens = starts[n]
        target = before[n] + (moment - opens if moment > opens else 0) + remaining
    else:
        target = total + remaining
    closed_since = moment
    while target > total:
        # Not in this block: carry what is left into the next one.
        target -= total
        if total and ends[-1] > closed_since:
            closed_since = ends[-1]
        k += 1
        _, high, starts, ends, before, through, total = schedule._block(k)
        if not total and high - closed_since > _SEARCH_US:
            raise CalendarError(_NOTHING_AHEAD)
    # The first interval whose running total reaches the target; exactly at its end when the
    # duration runs out at a closing time.
    n = bisect_left(through, target)
    return _EPOCH + timedelta(0, 0, starts[n] + target - before[n])


def business_time_between(schedule: Schedule, start: datetime, end: datetime) -> timedelta:
    """The business time in ``[start, end)``; zero when ``end`` is not after ``start``."""
    low = _utc_us(start, "start")
    high = _utc_us(end, "end")
    if high <= low:
        return _ZERO
    if schedule.always_open:
        return timedelta(0, 0, high - low)
    k_low, block_low = schedule._locate(low)
    k_high, block_high = schedule._locate(high)
    open_time = _position(block_high, high) - _position(block_low, low)
    for k in range(k_low, k_high):
        open_time += schedule._block(k)[6]
    return timedelta(0, 0, open_time)


def weekly_open_seconds(openings: Iterable[Opening | tuple[int, time, time]]) -> int:
    """The nominal open seconds of a week (no zone, no holidays): for display and checks."""
    total = 0
    for item in openings:
        opening = item if isinstance(item, Opening) else Opening(*item)
        total += _span_us(opening)
    return total // _US


# --- helpers ----------------------------------------------------------------------------------


def _utc_us(moment: datetime, name: str) -> int:
    """UTC microseconds since the epoch of an aware datetime."""
    try:
        delta = moment - _EPOCH
    except TypeError:
        raise ValueError(f"{name} must be timezone-aware") from None
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _offset_us(offset: timedelta | None) -> int:
    if offset is None:  # pragma: no cover - a ZoneInfo always has an offset
        return 0
    return (offset.days * 86_400 + offset.seconds) * _US + offset.microseconds


def _datetime(moment: int) -> datetime:
    return _EPOCH + timedelta(0, 0, moment)


def _position(block: _Block, moment: int) -> int:
    """The open time of ``block`` before ``moment``."""
    ends = block[3]
    n = bisect_right(ends, moment)
    if n == len(ends):
        return block[6]
    opens = block[2][n]
    return block[4][n] + (moment - opens if moment > opens else 0)


def _restore(
    tz: ZoneInfo, openings: tuple[Opening, ...], holidays: frozenset[date], always_open: bool
) -> Schedule:
    return Schedule(tz, openings, holidays, always_open=always_open)


def _zone(tz: object) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    if isinstance(tz, str) and tz:
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise CalendarError(f"Unknown time zone {tz!r}.")


def _opening(item: object) -> Opening:
    if isinstance(item, Opening):
        opening = item
    else:
        try:
            opening = Opening(*item)  # type: ignore[misc]
        except TypeError:
            raise CalendarError(
                f"An opening is a weekday, a start time and an end time, not {item!r}."
            ) from None
    weekday = opening.weekday
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
        raise CalendarError(f"Weekday must be 0 (Monday) to 6 (Sunday), not {weekday!r}.")
    for value in (opening.start, opening.end):
        if not isinstance(value, time):
            raise CalendarError(f"{WEEKDAYS[weekday]}: {value!r} is not a time of day.")
        if value.tzinfo is not None:
            raise CalendarError(
                f"{opening}: opening times are local wall-clock times, without a time zone."
            )
    if not _span_us(opening):
        raise CalendarError(f"{opening} is empty: it starts and ends at the same time.")
    return opening


def _holiday(day: object) -> date:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise CalendarError(f"A holiday is a date, not {day!r}.")
    return day


def _clock(value: time) -> str:
    if value.second or value.microsecond:
        return value.isoformat()
    return f"{value.hour:02d}:{value.minute:02d}"


def _time_us(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * _US + value.microsecond


def _span_us(opening: Opening) -> int:
    """The nominal length of an opening; 00:00–00:00 is a whole day, another start == end is 0."""
    start, end = _time_us(opening.start), _time_us(opening.end)
    if end == start:
        return _DAY_US if start == 0 else 0
    return end - start if end > start else end + _DAY_US - start


def _weekday_segments(
    openings: tuple[Opening, ...],
) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Per weekday, the local open segments within that date (microseconds after midnight).

    A night shift is split at midnight: its tail belongs to the next date, so that a holiday on
    either date closes its own part. Adjacent segments are merged; overlapping ones raise.
    """
    pieces: list[list[tuple[int, int, Opening]]] = [[] for _ in WEEKDAYS]
    for opening in openings:
        start = _time_us(opening.start)
        end = start + _span_us(opening)
        pieces[opening.weekday].append((start, min(end, _DAY_US), opening))
        if end > _DAY_US:
            pieces[(opening.weekday + 1) % 7].append((0, end - _DAY_US, opening))
    segments = []
    for day in pieces:
        day.sort(key=lambda piece: (piece[0], piece[1]))
        merged: list[tuple[int, int]] = []
        previous: tuple[int, int, Opening] | None = None
        for piece in day:
            start, end, opening = piece
            if previous is not None and start < previous[1]:
                raise CalendarError(f"{previous[2]} overlaps {opening}.")
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
            previous = piece
        segments.append(tuple(merged))
    return tuple(segments)
