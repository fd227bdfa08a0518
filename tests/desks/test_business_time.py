"""Business time on weekly calendars, as pure functions (no database).

The worked examples were computed by hand; each says how in a comment. Offsets used:
Paris CET +01:00 / CEST +02:00 (2026 changes: 29 March, 25 October), New York EST -05:00 /
EDT -04:00 (8 March, 1 November), Kolkata IST +05:30 all year, Lord Howe +10:30 / +11:00
(half an hour; 5 April, 4 October).
"""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comptoir.desks.business_time import (
    CalendarError,
    Opening,
    Schedule,
    add_business_time,
    business_time_between,
    weekly_open_seconds,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")

H = timedelta(hours=1)
MIN = timedelta(minutes=1)


def at(tz: ZoneInfo, *fields: int) -> datetime:
    return datetime(*fields, tzinfo=tz)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def every(weekdays, start: time, end: time) -> list[Opening]:
    return [Opening(day, start, end) for day in weekdays]


WORKDAYS = range(5)
ALL_WEEK = range(7)

#: Mon–Fri 09:00–12:00 and 13:00–17:00 (7 h a day), Easter Monday and two May Fridays off.
PARIS_OFFICE = Schedule.build(
    "Europe/Paris",
    every(WORKDAYS, time(9), time(12)) + every(WORKDAYS, time(13), time(17)),
    [date(2026, 4, 6), date(2026, 5, 1), date(2026, 5, 8)],
)
#: Saturday night 22:00–06:00 only.
PARIS_SATURDAY_NIGHT = Schedule.build("Europe/Paris", [Opening(5, time(22), time(6))])
#: Sunday 02:30–05:00: both DST changes fall inside it.
PARIS_SUNDAY_SMALL_HOURS = Schedule.build("Europe/Paris", [Opening(6, time(2, 30), time(5))])
#: Mon–Fri 09:00–17:00, Thanksgiving off.
NEW_YORK_OFFICE = Schedule.build(
    "America/New_York", every(WORKDAYS, time(9), time(17)), [date(2026, 11, 26)]
)
#: Every night 22:00–06:00, Thanksgiving off.
NEW_YORK_NIGHTS = Schedule.build(
    "America/New_York", every(ALL_WEEK, time(22), time(6)), [date(2026, 11, 26)]
)
#: Every night 22:00–06:00, Republic Day (Monday 26 January 2026) off.
KOLKATA_NIGHTS = Schedule.build(
    "Asia/Kolkata", every(ALL_WEEK, time(22), time(6)), [date(2026, 1, 26)]
)
#: Mon–Sat 10:00–18:00, Republic Day off.
KOLKATA_OFFICE = Schedule.build(
    "Asia/Kolkata", every(range(6), time(10), time(18)), [date(2026, 1, 26)]
)


# --- Paris: an office across DST changes and holidays ----------------------------------------


def test_friday_afternoon_ticket_runs_over_the_spring_change_and_ends_at_monday_noon():
    # Fri 27 March 16:00 CET: 16–17 is 1 h, 3 h left. Sunday is the change. Mon 30 March
    # 09–12 CEST gives the 3 h: it ends exactly at the 12:00 closing, 10:00 UTC.
    start = at(PARIS, 2026, 3, 27, 16)
    due = add_business_time(PARIS_OFFICE, start, 4 * H)
    assert due == utc(2026, 3, 30, 10)
    assert due.tzinfo is UTC
    assert business_time_between(PARIS_OFFICE, start, due) == 4 * H


def test_half_an_hour_more_continues_after_lunch():
    # As above, 30 min are left at 12:00; lunch is closed; 13:00–13:30 CEST = 11:30 UTC.
    due = add_business_time(PARIS_OFFICE, at(PARIS, 2026, 3, 27, 16), 4 * H + 30 * MIN)
    assert due == utc(2026, 3, 30, 11, 30)


def test_friday_ticket_over_the_autumn_change():
    # Fri 23 October 16:00 CEST: 1 h that day, 1 h left; Mon 26 October 09:00–10:00 CET
    # = 09:00 UTC.
    due = add_business_time(PARIS_OFFICE, at(PARIS, 2026, 10, 23, 16), 2 * H)
    assert due == utc(2026, 10, 26, 9)


def test_a_holiday_is_skipped_and_the_deadline_is_the_closing_time():
    # Thu 30 April 15:00 CEST: 15–17 is 2 h (7 left); Fri 1 May is off; Mon 4 May 09–12 is
    # 3 h (4 left) and 13–17 the last 4 h: 17:00 CEST = 15:00 UTC, not Tuesday 09:00.
    start = at(PARIS, 2026, 4, 30, 15)
    due = add_business_time(PARIS_OFFICE, start, 9 * H)
    assert due == utc(2026, 5, 4, 15)
    assert business_time_between(PARIS_OFFICE, start, due) == 9 * H


def test_a_ticket_opened_on_a_holiday_starts_counting_on_the_next_working_day():
    # Fri 1 May is off, then the weekend: the clock starts Mon 4 May 09:00 CEST.
    due = add_business_time(PARIS_OFFICE, at(PARIS, 2026, 5, 1, 10), H)
    assert due == at(PARIS, 2026, 5, 4, 10)


def test_easter_monday_and_the_weekend_are_skipped():
    # Fri 3 April 16:30: 30 min; Sat, Sun, Easter Monday closed; Tue 7 April 09–12 (3 h,
    # 3 h 30 in all) and 13:00–16:30 for the last 3 h 30: 16:30 CEST = 14:30 UTC.
    due = add_business_time(PARIS_OFFICE, at(PARIS, 2026, 4, 3, 16, 30), 7 * H)
    assert due == utc(2026, 4, 7, 14, 30)
    # Fri 3 to Fri 10 April: Fri, Tue, Wed, Thu are open, 7 h each.
    week = business_time_between(PARIS_OFFICE, at(PARIS, 2026, 4, 3), at(PARIS, 2026, 4, 10))
    assert week == 28 * H


def test_start_before_opening_counts_from_the_opening():
    # Tue 2 June 07:00: closed until 09:00; 2 h later is 11:00 CEST = 09:00 UTC.
    assert add_business_time(PARIS_OFFICE, at(PARIS, 2026, 6, 2, 7), 2 * H) == utc(2026, 6, 2, 9)


def test_lunch_break_is_not_counted():
    # 11:30–12:00 is 30 min, then 13:00–13:30.
    due = add_business_time(PARIS_OFFICE, at(PARIS, 2026, 6, 2, 11, 30), H)
    assert due == at(PARIS, 2026, 6, 2, 13, 30)
    # Starting in the lunch break: from 13:00.
    due = add_business_time(PARIS_OFFICE, at(PARIS, 2026, 6, 2, 12, 30), 30 * MIN)
    assert due == at(PARIS, 2026, 6, 2, 13, 30)


def test_a_ticket_opened_at_closing_time_starts_the_next_morning():
    # 17:00 is closed ([09:00, 17:00) is the afternoon's interval): Wed 09:00–10:00.
    due = add_business_time(PARIS_OFFICE, at(PARIS, 2026, 6, 2, 17), H)
    assert due == at(PARIS, 2026, 6, 3, 10)
    # 12:00 is closed too: 13:00 + 3 h = 16:00.
    due = add_business_time(PARIS_OFFICE, at(PARIS, 2026, 6, 2, 12), 3 * H)
    assert due == at(PARIS, 2026, 6, 2, 16)


def test_a_whole_working_day_from_the_opening_ends_at_the_closing():
    # 09:00 + 7 h of business time = 17:00 the same day, not 09:00 the next morning.
    due = add_business_time(PARIS_OFFICE, at(PARIS, 2026, 6, 2, 9), 7 * H)
    assert due == at(PARIS, 2026, 6, 2, 17)


def test_zero_duration_is_the_start_itself_even_when_closed():
    start = at(PARIS, 2026, 6, 6, 3, 15)  # a Saturday night
    due = add_business_time(PARIS_OFFICE, start, timedelta(0))
    assert due == start
    assert due.tzinfo is UTC


def test_microseconds_are_kept():
    start = at(PARIS, 2026, 6, 2, 16, 59) + timedelta(seconds=59, microseconds=250_000)
    # 0.75 s left today, the remaining 0.25 s tomorrow at 09:00.
    due = add_business_time(PARIS_OFFICE, start, timedelta(seconds=1))
    assert due == at(PARIS, 2026, 6, 3, 9) + timedelta(microseconds=250_000)
    assert business_time_between(PARIS_OFFICE, start, due) == timedelta(seconds=1)


def test_is_open_and_next_opening_in_the_office():
    assert PARIS_OFFICE.is_open(at(PARIS, 2026, 3, 30, 9))
    assert not PARIS_OFFICE.is_open(at(PARIS, 2026, 3, 30, 9) - timedelta(microseconds=1))
    assert PARIS_OFFICE.is_open(at(PARIS, 2026, 3, 30, 11, 59, 59))
    assert not PARIS_OFFICE.is_open(at(PARIS, 2026, 3, 30, 12))
    assert not PARIS_OFFICE.is_open(at(PARIS, 2026, 3, 30, 17))
    assert not PARIS_OFFICE.is_open(at(PARIS, 2026, 5, 1, 10))  # a holiday
    # Friday 3 April after closing: the next opening is Tuesday (Easter Monday is off).
    assert PARIS_OFFICE.next_opening(at(PARIS, 2026, 4, 3, 17)) == utc(2026, 4, 7, 7)
    # When open, the moment itself, in UTC.
    moment = at(PARIS, 2026, 4, 7, 10, 15)
    assert PARIS_OFFICE.next_opening(moment) == moment
    assert PARIS_OFFICE.next_opening(moment).tzinfo is UTC


def test_open_intervals_are_clipped_and_in_utc():
    # Mon 30 March, 10:00 to 14:00 CEST: 10–12 and 13–14, i.e. 08–10 and 11–12 UTC.
    intervals = PARIS_OFFICE.open_intervals(at(PARIS, 2026, 3, 30, 10), at(PARIS, 2026, 3, 30, 14))
    assert intervals == [
        (utc(2026, 3, 30, 8), utc(2026, 3, 30, 10)),
        (utc(2026, 3, 30, 11), utc(2026, 3, 30, 12)),
    ]
    assert PARIS_OFFICE.open_intervals(at(PARIS, 2026, 3, 30, 14), at(PARIS, 2026, 3, 30, 10)) == []


def test_weekly_open_seconds_is_nominal():
    assert weekly_open_seconds(PARIS_OFFICE.openings) == 35 * 3600
    # An overnight shift counts 8 h; 09:00–00:00 is 15 h; 00:00–00:00 is the whole day.
    assert weekly_open_seconds([(5, time(22), time(6))]) == 8 * 3600
    assert weekly_open_seconds([Opening(0, time(9), time(0))]) == 15 * 3600
    assert weekly_open_seconds([Opening(0, time(0), time(0))]) == 24 * 3600


# --- Paris: a night shift across DST changes, boundaries in a gap and an overlap -------------


def test_night_shift_lasts_seven_real_hours_over_the_spring_change():
    # Sat 28 March 22:00 CET = 21:00 UTC; Sun 29 March 06:00 CEST = 04:00 UTC: 7 h, not 8.
    saturday, sunday = at(PARIS, 2026, 3, 28, 12), at(PARIS, 2026, 3, 29, 12)
    assert PARIS_SATURDAY_NIGHT.open_intervals(saturday, sunday) == [
        (utc(2026, 3, 28, 21), utc(2026, 3, 29, 4))
    ]
    assert business_time_between(PARIS_SATURDAY_NIGHT, saturday, sunday) == 7 * H
    start = at(PARIS, 2026, 3, 28, 22)
    # 6 h of work end at 03:00 UTC, which the wall clock shows as 05:00 CEST.
    assert add_business_time(PARIS_SATURDAY_NIGHT, start, 6 * H) == at(PARIS, 2026, 3, 29, 5)
    # 7 h end exactly at the 06:00 closing.
    assert add_business_time(PARIS_SATURDAY_NIGHT, start, 7 * H) == at(PARIS, 2026, 3, 29, 6)


def test_night_shift_lasts_nine_real_hours_over_the_autumn_change():
    # Sat 24 October 22:00 CEST = 20:00 UTC; Sun 25 October 06:00 CET = 05:00 UTC: 9 h.
    saturday, sunday = at(PARIS, 2026, 10, 24, 12), at(PARIS, 2026, 10, 25, 12)
    assert business_time_between(PARIS_SATURDAY_NIGHT, saturday, sunday) == 9 * H
    # 8 h after 22:00 CEST is 04:00 UTC = 05:00 CET.
    due = add_business_time(PARIS_SATURDAY_NIGHT, at(PARIS, 2026, 10, 24, 22), 8 * H)
    assert due == utc(2026, 10, 25, 4)
    # An ordinary Saturday night is 8 h.
    ordinary = business_time_between(
        PARIS_SATURDAY_NIGHT, at(PARIS, 2026, 3, 21, 12), at(PARIS, 2026, 3, 22, 12)
    )
    assert ordinary == 8 * H


def test_a_boundary_in_the_spring_gap_moves_forward_by_the_gap():
    # 02:30 does not exist on 29 March: it becomes 03:30 CEST = 01:30 UTC. 05:00 CEST =
    # 03:00 UTC. Open 1 h 30 that Sunday instead of 2 h 30.
    sunday = at(PARIS, 2026, 3, 29), at(PARIS, 2026, 3, 30)
    assert PARIS_SUNDAY_SMALL_HOURS.open_intervals(*sunday) == [
        (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 3))
    ]
    assert business_time_between(PARIS_SUNDAY_SMALL_HOURS, *sunday) == 90 * MIN
    # 03:00 CEST (01:00 UTC) is before the moved opening.
    assert not PARIS_SUNDAY_SMALL_HOURS.is_open(utc(2026, 3, 29, 1))
    assert PARIS_SUNDAY_SMALL_HOURS.next_opening(utc(2026, 3, 29, 1)) == utc(2026, 3, 29, 1, 30)
    # The Sunday before: 02:30 CET = 01:30 UTC to 05:00 CET = 04:00 UTC, 2 h 30.
    before = at(PARIS, 2026, 3, 22), at(PARIS, 2026, 3, 23)
    assert business_time_between(PARIS_SUNDAY_SMALL_HOURS, *before) == 150 * MIN


def test_a_boundary_in_the_autumn_overlap_is_its_first_occurrence():
    # 02:30 happens twice on 25 October: the first, 02:30 CEST, is 00:30 UTC. 05:00 CET is
    # 04:00 UTC: open 3 h 30 of real time.
    sunday = at(PARIS, 2026, 10, 25), at(PARIS, 2026, 10, 26)
    assert PARIS_SUNDAY_SMALL_HOURS.open_intervals(*sunday) == [
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 4))
    ]
    assert business_time_between(PARIS_SUNDAY_SMALL_HOURS, *sunday) == 210 * MIN
    # The second 02:30 (CET, 01:30 UTC) is already an hour into the opening.
    second = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=1)
    assert PARIS_SUNDAY_SMALL_HOURS.is_open(second)
    assert add_business_time(PARIS_SUNDAY_SMALL_HOURS, second, H) == utc(2026, 10, 25, 2, 30)


def test_an_interval_moved_past_its_end_by_the_gap_is_empty_that_day():
    # Sunday 02:30–03:15: 02:30 becomes 03:30 CEST on 29 March, after 03:15: nothing that day.
    schedule = Schedule.build("Europe/Paris", [Opening(6, time(2, 30), time(3, 15))])
    assert schedule.open_intervals(at(PARIS, 2026, 3, 29), at(PARIS, 2026, 3, 30)) == []
    # The next Sunday is 45 min as usual: 02:30 CEST = 00:30 UTC.
    assert add_business_time(schedule, at(PARIS, 2026, 3, 29), 45 * MIN) == utc(2026, 4, 5, 1, 15)


# --- New York ---------------------------------------------------------------------------------


def test_new_york_office_over_the_spring_change():
    # Fri 6 March 15:00 EST = 20:00 UTC: 2 h that day; Mon 9 March 09–17 EDT gives the 8 h
    # left, ending at the 17:00 closing = 21:00 UTC.
    start = at(NEW_YORK, 2026, 3, 6, 15)
    due = add_business_time(NEW_YORK_OFFICE, start, 10 * H)
    assert due == utc(2026, 3, 9, 21)
    assert business_time_between(NEW_YORK_OFFICE, start, due) == 10 * H


def test_new_york_office_over_the_autumn_change():
    # Fri 30 October 16:00 EDT: 1 h; Mon 2 November 09:00–10:00 EST = 15:00 UTC.
    due = add_business_time(NEW_YORK_OFFICE, at(NEW_YORK, 2026, 10, 30, 16), 2 * H)
    assert due == utc(2026, 11, 2, 15)


def test_new_york_office_skips_thanksgiving():
    # Wed 25 November 16:00 EST: 1 h; Thursday is off; Fri 27 09:00–11:00 EST = 16:00 UTC.
    due = add_business_time(NEW_YORK_OFFICE, at(NEW_YORK, 2026, 11, 25, 16), 3 * H)
    assert due == utc(2026, 11, 27, 16)


def test_new_york_night_shift_over_both_changes():
    # Sat 7 March 22:00 EST (03:00 UTC on the 8th) to Sun 8 March 06:00 EDT (10:00 UTC): 7 h.
    spring = at(NEW_YORK, 2026, 3, 7, 12), at(NEW_YORK, 2026, 3, 8, 12)
    assert business_time_between(NEW_YORK_NIGHTS, *spring) == 7 * H
    # Sat 31 October 22:00 EDT (02:00 UTC) to Sun 1 November 06:00 EST (11:00 UTC): 9 h.
    autumn = at(NEW_YORK, 2026, 10, 31, 12), at(NEW_YORK, 2026, 11, 1, 12)
    assert business_time_between(NEW_YORK_NIGHTS, *autumn) == 9 * H


def test_new_york_night_shifts_around_thanksgiving():
    # Wednesday's shift stops at midnight (Thursday is off): 22–24, 2 h. Thursday's shift
    # starts on the holiday, so it only runs from Friday 00:00 to 06:00: 6 h.
    days = at(NEW_YORK, 2026, 11, 25, 12), at(NEW_YORK, 2026, 11, 27, 12)
    assert business_time_between(NEW_YORK_NIGHTS, *days) == 8 * H
    # Wed 23:00 + 2 h: 23–24 is 1 h, the other hour is Fri 00:00–01:00 EST = 06:00 UTC.
    due = add_business_time(NEW_YORK_NIGHTS, at(NEW_YORK, 2026, 11, 25, 23), 2 * H)
    assert due == utc(2026, 11, 27, 6)


# --- Kolkata: no DST; a holiday cuts night shifts -------------------------------------------


def test_kolkata_night_shift_stops_at_the_holiday_and_resumes_after_it():
    # Sun 25 January 22:00 IST = 16:30 UTC: 22–24 is 2 h (1 h left). Mon 26 is Republic Day:
    # the Sunday shift's 00–06 tail and Monday's 22–24 are closed. Tue 27 00:00–01:00 IST
    # gives the last hour: 01:00 IST = Mon 19:30 UTC.
    start = at(KOLKATA, 2026, 1, 25, 22)
    due = add_business_time(KOLKATA_NIGHTS, start, 3 * H)
    assert due == utc(2026, 1, 26, 19, 30)
    assert due == at(KOLKATA, 2026, 1, 27, 1)


def test_kolkata_night_shift_time_around_the_holiday():
    # Sun 20:00 to Tue 12:00 IST: Sun 22–24 (2 h) + nothing on Monday + Tue 00–06 (6 h).
    span = at(KOLKATA, 2026, 1, 25, 20), at(KOLKATA, 2026, 1, 27, 12)
    assert business_time_between(KOLKATA_NIGHTS, *span) == 8 * H
    # Sun 22:00 IST = 16:30 UTC, Mon 00:00 IST = Sun 18:30 UTC; Tue 00:00 IST = Mon 18:30
    # UTC, Tue 06:00 IST = Tue 00:30 UTC.
    assert KOLKATA_NIGHTS.open_intervals(*span) == [
        (utc(2026, 1, 25, 16, 30), utc(2026, 1, 25, 18, 30)),
        (utc(2026, 1, 26, 18, 30), utc(2026, 1, 27, 0, 30)),
    ]
    # An ordinary night: Saturday noon to Sunday noon holds 22–06, 8 h.
    saturday = at(KOLKATA, 2026, 1, 24, 12), at(KOLKATA, 2026, 1, 25, 12)
    assert business_time_between(KOLKATA_NIGHTS, *saturday) == 8 * H


def test_kolkata_night_shift_runs_through_midnight_as_one_interval():
    # Tue 22:00 to Wed 06:00: one interval, open at midnight; 3 h from 22:00 is 01:00.
    assert KOLKATA_NIGHTS.is_open(at(KOLKATA, 2026, 1, 28))
    tuesday = at(KOLKATA, 2026, 1, 27, 22)
    assert add_business_time(KOLKATA_NIGHTS, tuesday, 3 * H) == at(KOLKATA, 2026, 1, 28, 1)
    assert add_business_time(KOLKATA_NIGHTS, tuesday, 2 * H) == at(KOLKATA, 2026, 1, 28)


def test_kolkata_office_over_the_holiday():
    # Fri 23 January 17:00 IST: 1 h (11 left); Saturday is worked, 10–18 (3 left); Sunday is
    # closed and Mon 26 is off; Tue 27 10:00–13:00 for the last 3 h: 13:00 IST = 07:30 UTC.
    due = add_business_time(KOLKATA_OFFICE, at(KOLKATA, 2026, 1, 23, 17), 12 * H)
    assert due == utc(2026, 1, 27, 7, 30)


# --- Lord Howe: a half-hour change ------------------------------------------------------------


def test_lord_howe_half_hour_changes():
    schedule = Schedule.build("Australia/Lord_Howe", [Opening(6, time(1), time(4))])
    # Sun 4 October: 01:00 +10:30 = 14:30 UTC, 04:00 +11:00 = 17:00 UTC: 2 h 30.
    spring = at(LORD_HOWE, 2026, 10, 4), at(LORD_HOWE, 2026, 10, 5)
    assert business_time_between(schedule, *spring) == 150 * MIN
    # Sun 5 April: 01:00 +11:00 = 14:00 UTC, 04:00 +10:30 = 17:30 UTC: 3 h 30.
    autumn = at(LORD_HOWE, 2026, 4, 5), at(LORD_HOWE, 2026, 4, 6)
    assert business_time_between(schedule, *autumn) == 210 * MIN


def test_santiago_changes_at_midnight():
    santiago = ZoneInfo("America/Santiago")
    schedule = Schedule.build("America/Santiago", [Opening(5, time(22), time(6))])
    # Sat 5 September 2026 24:00 -04:00 becomes Sun 01:00 -03:00: Sunday's midnight does not
    # exist and moves forward to 01:00 -03:00 (04:00 UTC). The shift runs Sat 22:00 -04:00
    # (Sun 02:00 UTC) to Sun 06:00 -03:00 (09:00 UTC): 7 h, still one interval.
    spring = at(santiago, 2026, 9, 5, 12), at(santiago, 2026, 9, 6, 12)
    assert schedule.open_intervals(*spring) == [(utc(2026, 9, 6, 2), utc(2026, 9, 6, 9))]
    # Sat 4 April 2026 24:00 -03:00 becomes Sat 23:00 -04:00: the shift runs Sat 22:00 -03:00
    # (Sun 01:00 UTC) through the repeated hour to Sun 06:00 -04:00 (10:00 UTC): 9 h.
    autumn = at(santiago, 2026, 4, 4, 12), at(santiago, 2026, 4, 5, 12)
    assert business_time_between(schedule, *autumn) == 9 * H
    # Saturday's part ends at Sunday's midnight, 04:00 UTC, after both 23:30s.
    assert schedule.is_open(datetime(2026, 4, 4, 23, 30, tzinfo=santiago, fold=1))
    # With Sunday off, only Saturday's part runs: 22:00 -03:00 to 00:00 -04:00 is 3 h.
    holiday = Schedule.build(
        "America/Santiago", [Opening(5, time(22), time(6))], [date(2026, 4, 5)]
    )
    assert business_time_between(holiday, *autumn) == 3 * H


# --- merging, 24×7, whole days ----------------------------------------------------------------


def test_adjacent_intervals_behave_as_one():
    # Mon 22:00–00:00 and Tue 00:00–06:00 are one 8 h interval.
    schedule = Schedule.build(
        "Asia/Kolkata", [Opening(0, time(22), time(0)), Opening(1, time(0), time(6))]
    )
    night = at(KOLKATA, 2026, 2, 2, 12), at(KOLKATA, 2026, 2, 3, 12)
    assert schedule.open_intervals(*night) == [(utc(2026, 2, 2, 16, 30), utc(2026, 2, 3, 0, 30))]
    assert schedule.is_open(at(KOLKATA, 2026, 2, 3))
    # 2 h from 22:00 end at midnight, which is the same moment whichever side of it we say.
    assert add_business_time(schedule, at(KOLKATA, 2026, 2, 2, 22), 2 * H) == at(
        KOLKATA, 2026, 2, 3
    )
    # Same weekday, adjacent: 09–12 and 12–17 is 09–17.
    office = Schedule.build(
        "Europe/Paris", [Opening(0, time(9), time(12)), Opening(0, time(12), time(17))]
    )
    monday = at(PARIS, 2026, 6, 1), at(PARIS, 2026, 6, 2)
    assert office.open_intervals(*monday) == [(utc(2026, 6, 1, 7), utc(2026, 6, 1, 15))]


def test_twenty_four_seven_counts_real_time_and_ignores_holidays():
    schedule = Schedule.build("Europe/Paris", holidays=[date(2026, 3, 29)], always_open=True)
    # Sat 28 March 23:00 CET = 22:00 UTC, + 5 h = 03:00 UTC (05:00 CEST on the wall).
    assert add_business_time(schedule, at(PARIS, 2026, 3, 28, 23), 5 * H) == utc(2026, 3, 29, 3)
    # Saturday and the 23-hour Sunday: 47 h.
    weekend = at(PARIS, 2026, 3, 28), at(PARIS, 2026, 3, 30)
    assert business_time_between(schedule, *weekend) == 47 * H
    assert schedule.is_open(at(PARIS, 2026, 3, 29, 12))
    assert schedule.next_opening(at(PARIS, 2026, 3, 29, 12)) == utc(2026, 3, 29, 10)
    assert schedule.open_intervals(*weekend) == [(utc(2026, 3, 27, 23), utc(2026, 3, 29, 22))]
    assert Schedule.twenty_four_seven().always_open
    assert Schedule.twenty_four_seven().tz == ZoneInfo("UTC")


def test_a_whole_day_opening_follows_the_clock_and_the_holidays():
    # 00:00–00:00 every day: 23 h on the spring Sunday, nothing on a holiday.
    schedule = Schedule.build(
        "Europe/Paris", every(ALL_WEEK, time(0), time(0)), [date(2026, 3, 31)]
    )
    assert business_time_between(schedule, at(PARIS, 2026, 3, 29), at(PARIS, 2026, 3, 30)) == 23 * H
    assert business_time_between(
        schedule, at(PARIS, 2026, 3, 31), at(PARIS, 2026, 4, 1)
    ) == timedelta(0)
    # Monday 23:00 CEST + 2 h: 1 h on Monday, Tuesday is off, 1 h on Wednesday.
    due = add_business_time(schedule, at(PARIS, 2026, 3, 30, 23), 2 * H)
    assert due == at(PARIS, 2026, 4, 1, 1)


def test_a_long_duration_crosses_many_weeks_exactly():
    # 35 h a week: 350 h from Monday 2 February 09:00 is ten weeks later, Friday 10 April
    # 17:00 CEST, less the Easter Monday holiday (7 h), which moves it to Monday 13 April
    # 17:00 CEST = 15:00 UTC.
    start = at(PARIS, 2026, 2, 2, 9)
    due = add_business_time(PARIS_OFFICE, start, 350 * H)
    assert due == utc(2026, 4, 13, 15)
    assert business_time_between(PARIS_OFFICE, start, due) == 350 * H


def test_between_is_zero_when_the_end_is_not_after_the_start():
    moment = at(PARIS, 2026, 6, 2, 10)
    assert business_time_between(PARIS_OFFICE, moment, moment) == timedelta(0)
    assert business_time_between(PARIS_OFFICE, moment, moment - H) == timedelta(0)


# --- the value ----------------------------------------------------------------------------------


def test_schedules_with_the_same_definition_are_equal_and_hash_alike():
    openings = every(WORKDAYS, time(9), time(17))
    one = Schedule.build("Europe/Paris", openings, [date(2026, 5, 1)])
    two = Schedule.build(ZoneInfo("Europe/Paris"), reversed(openings), {date(2026, 5, 1)})
    assert one == two
    assert hash(one) == hash(two)
    assert {one: "cached"}[two] == "cached"
    assert one != Schedule.build("Europe/Paris", openings)
    assert one != Schedule.build("Europe/Berlin", openings, [date(2026, 5, 1)])
    assert pickle.loads(pickle.dumps(one)) == one  # noqa: S301 - bytes made just above


def test_a_schedule_cannot_be_changed():
    with pytest.raises(AttributeError):
        PARIS_OFFICE.always_open = True
    with pytest.raises(AttributeError):
        PARIS_OFFICE.openings = ()


def test_openings_may_be_given_as_tuples():
    schedule = Schedule.build("UTC", [(0, time(9), time(17))])
    assert schedule.openings == (Opening(0, time(9), time(17)),)


# --- bad input ----------------------------------------------------------------------------------


def test_unknown_time_zone():
    with pytest.raises(CalendarError, match=r"^Unknown time zone 'Mars/Olympus_Mons'\.$"):
        Schedule.build("Mars/Olympus_Mons", every(WORKDAYS, time(9), time(17)))
    with pytest.raises(CalendarError, match="Unknown time zone"):
        Schedule.build("", every(WORKDAYS, time(9), time(17)))


@pytest.mark.parametrize("weekday", [-1, 7, True])
def test_weekday_out_of_range(weekday):
    with pytest.raises(CalendarError, match=r"Weekday must be 0 \(Monday\) to 6 \(Sunday\)"):
        Schedule.build("UTC", [Opening(weekday, time(9), time(17))])


def test_empty_interval():
    with pytest.raises(CalendarError, match="Monday 09:00–09:00 is empty"):
        Schedule.build("UTC", [Opening(0, time(9), time(9))])


@pytest.mark.parametrize(
    ("openings", "first", "second"),
    [
        (
            [Opening(0, time(9), time(12)), Opening(0, time(11), time(13))],
            "Monday 09:00–12:00",
            "Monday 11:00–13:00",
        ),
        (
            [Opening(0, time(22), time(6)), Opening(1, time(5), time(9))],
            "Monday 22:00–06:00",
            "Tuesday 05:00–09:00",
        ),
        (
            [Opening(6, time(22), time(2)), Opening(0, time(1), time(3))],
            "Sunday 22:00–02:00",
            "Monday 01:00–03:00",
        ),
        (
            [Opening(2, time(8), time(12)), Opening(2, time(8), time(12))],
            "Wednesday 08:00–12:00",
            "Wednesday 08:00–12:00",
        ),
    ],
    ids=["same-day", "overnight-into-next-day", "sunday-night-into-monday", "twice"],
)
def test_overlapping_openings_are_named(openings, first, second):
    with pytest.raises(CalendarError) as raised:
        Schedule.build("UTC", openings)
    assert str(raised.value) == f"{first} overlaps {second}."


def test_no_opening_at_all():
    with pytest.raises(CalendarError, match=r"^The calendar has no opening time\.$"):
        Schedule.build("Europe/Paris", [], [date(2026, 1, 1)])


def test_malformed_openings_and_holidays():
    with pytest.raises(CalendarError, match="not a time of day"):
        Schedule.build("UTC", [Opening(0, "09:00", time(17))])
    with pytest.raises(CalendarError, match="without a time zone"):
        Schedule.build("UTC", [Opening(0, time(9, tzinfo=UTC), time(17))])
    with pytest.raises(CalendarError, match="An opening is a weekday"):
        Schedule.build("UTC", [(0, time(9))])
    with pytest.raises(CalendarError, match="A holiday is a date"):
        Schedule.build("UTC", [Opening(0, time(9), time(17))], [datetime(2026, 5, 1)])
    assert issubclass(CalendarError, ValueError)


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 6, 2, 10)
    aware = at(PARIS, 2026, 6, 2, 10)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        add_business_time(PARIS_OFFICE, naive, H)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        business_time_between(PARIS_OFFICE, naive, aware)
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        business_time_between(PARIS_OFFICE, aware, naive)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        PARIS_OFFICE.is_open(naive)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        PARIS_OFFICE.next_opening(naive)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        PARIS_OFFICE.open_intervals(naive, aware)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        add_business_time(Schedule.twenty_four_seven(), naive, H)


def test_negative_duration_is_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        add_business_time(PARIS_OFFICE, at(PARIS, 2026, 6, 2, 10), -H)


def mondays(first: date, last: date) -> list[date]:
    day = first + timedelta(days=-first.weekday() % 7)
    days = []
    while day <= last:
        days.append(day)
        day += timedelta(days=7)
    return days


def test_a_calendar_closed_for_more_than_three_years_stops_the_search():
    # Open on Mondays only, and every Monday from 2026 to 2030 is a holiday.
    schedule = Schedule.build(
        "Europe/Paris",
        [Opening(0, time(9), time(17))],
        mondays(date(2026, 1, 1), date(2030, 12, 31)),
    )
    start = at(PARIS, 2026, 1, 2, 10)
    with pytest.raises(CalendarError, match=r"^No business time in the next three years\.$"):
        add_business_time(schedule, start, H)
    with pytest.raises(CalendarError, match=r"^No business time in the next three years\.$"):
        schedule.next_opening(start)
    # Counting back is bounded by the dates asked for, so it still answers.
    assert business_time_between(schedule, start, at(PARIS, 2031, 1, 1)) == timedelta(0)


def test_a_calendar_closed_for_two_years_still_answers():
    schedule = Schedule.build(
        "Europe/Paris",
        [Opening(0, time(9), time(17))],
        mondays(date(2026, 1, 1), date(2027, 12, 31)),
    )
    # The first Monday of 2028 is 3 January: 09:00 CET + 1 h = 09:00 UTC.
    assert add_business_time(schedule, at(PARIS, 2026, 1, 2, 10), H) == utc(2028, 1, 3, 9)


# --- properties ---------------------------------------------------------------------------------

ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Santiago",  # changes at midnight
]
WEEK_MINUTES = 7 * 1440


def offset_changes(zone: str) -> list[date]:
    """The dates of 2025–2028 on which ``zone`` changes its offset."""
    tz, day, found = ZoneInfo(zone), date(2025, 1, 1), []
    while day < date(2029, 1, 1):
        following = day + timedelta(days=1)
        if tz.utcoffset(datetime.combine(day, time())) != tz.utcoffset(
            datetime.combine(following, time())
        ):
            found.append(day)
        day = following
    return found


#: So that examples often cross a change.
CHANGES = sorted({day for zone in ZONES for day in offset_changes(zone)})


def clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@st.composite
def schedules(draw) -> Schedule:
    """A valid schedule: openings laid end to end around the week with gaps (or none)."""
    zone = draw(st.sampled_from(ZONES))
    first = draw(st.integers(0, WEEK_MINUTES // 15 - 1)) * 15  # minutes after Monday 00:00
    cursor = first
    openings = []
    for _ in range(draw(st.integers(1, 10))):
        length = draw(st.integers(1, 96)) * 15  # 15 min to 24 h, on quarter hours
        if openings and cursor + length > first + WEEK_MINUTES:
            break
        weekday, start = divmod(cursor % WEEK_MINUTES, 1440)
        if length == 1440 and start:
            length -= 15  # only 00:00–00:00 is a whole day
        openings.append(Opening(weekday, clock(start), clock((start + length) % 1440)))
        cursor += length + draw(st.integers(0, 3 * 96)) * 15  # 0: the next one is adjacent
        if cursor >= first + WEEK_MINUTES:
            break
    # Holidays: single days and runs of up to three weeks, from December 2024 to 2029.
    holidays = set()
    for offset, days in draw(
        st.lists(st.tuples(st.integers(-31, 4 * 366), st.integers(1, 21)), max_size=6)
    ):
        first_day = date(2025, 1, 1) + timedelta(days=offset)
        holidays.update(first_day + timedelta(days=n) for n in range(days))
    return Schedule.build(zone, openings, holidays)


AWARE_ZONES = st.sampled_from([UTC, *(ZoneInfo(zone) for zone in ZONES)])
anywhere = st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=AWARE_ZONES)
near_a_change = st.builds(
    lambda day, offset, tz: datetime.combine(day, time(), tzinfo=tz) + offset,
    st.sampled_from(CHANGES),
    st.timedeltas(timedelta(days=-3), timedelta(days=3)),
    AWARE_ZONES,
)
#: Some fall in a gap or an overlap. Such a datetime never equals one of another zone (PEP 495),
#: so the assertions compare moments in UTC.
moments = st.one_of(anywhere, near_a_change)
durations = st.timedeltas(timedelta(0), timedelta(days=30))
short_durations = st.timedeltas(timedelta(0), timedelta(days=3))

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_intervals(
    schedule: Schedule, low: datetime, high: datetime
) -> list[tuple[datetime, datetime]]:
    """The open intervals in [low, high) straight from the definition, one date at a time.

    Slow and plain on purpose: each opening of each date is turned into aware datetimes with
    ``datetime.combine`` (fold=0), a night shift is cut at midnight for the holidays, and the
    pieces are merged. Right for these zones, whose changes are not at midnight.
    """
    tz = schedule.tz
    low, high = low.astimezone(UTC), high.astimezone(UTC)
    pieces = []
    day = low.astimezone(tz).date() - timedelta(days=2)
    while day <= high.astimezone(tz).date() + timedelta(days=1):
        following = day + timedelta(days=1)
        midnight = datetime.combine(following, time(), tzinfo=tz)
        for opening in schedule.openings:
            if opening.weekday != day.weekday():
                continue
            opens = datetime.combine(day, opening.start, tzinfo=tz)
            if opening.end > opening.start:
                if day not in schedule.holidays:
                    pieces.append((opens, datetime.combine(day, opening.end, tzinfo=tz)))
                continue
            if day not in schedule.holidays:
                pieces.append((opens, midnight))
            if opening.end != time() and following not in schedule.holidays:
                pieces.append((midnight, datetime.combine(following, opening.end, tzinfo=tz)))
        day = following
    merged: list[list[datetime]] = []
    for opens, closes in sorted((a.astimezone(UTC), b.astimezone(UTC)) for a, b in pieces):
        opens, closes = max(opens, low), min(closes, high)
        if closes <= opens:
            continue
        if merged and opens <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], closes)
        else:
            merged.append([opens, closes])
    return [(a, b) for a, b in merged]


@PROPERTIES
@given(schedules(), moments, st.timedeltas(timedelta(0), timedelta(days=12)))
def test_open_intervals_match_the_definition(schedule, start, span):
    assert schedule.open_intervals(start, start + span) == reference_intervals(
        schedule, start, start + span
    )


@PROPERTIES
@given(schedules(), moments, durations)
def test_the_business_time_to_a_deadline_is_its_duration(schedule, start, duration):
    due = add_business_time(schedule, start, duration)
    assert due.tzinfo is UTC
    assert due >= start
    assert business_time_between(schedule, start, due) == duration


@PROPERTIES
@given(schedules(), moments, short_durations)
def test_the_deadline_is_where_the_definition_says(schedule, start, duration):
    due = add_business_time(schedule, start, duration)
    if not duration:
        assert due == start.astimezone(UTC)
        return
    left = duration
    for opens, closes in reference_intervals(schedule, start, due + timedelta(days=1)):
        if closes - opens >= left:
            assert due == opens + left
            return
        left -= closes - opens
    raise AssertionError("the deadline is beyond the intervals of the definition")


@PROPERTIES
@given(schedules(), moments, durations, durations)
def test_a_longer_duration_never_gives_an_earlier_deadline(schedule, start, one, two):
    shorter, longer = sorted([one, two])
    assert add_business_time(schedule, start, shorter) <= add_business_time(schedule, start, longer)


@PROPERTIES
@given(schedules(), moments, durations, durations)
def test_adding_in_two_steps_is_adding_once(schedule, start, first, second):
    # The case that needs care: the first step ends exactly at a closing time. That moment is
    # closed ([start, end) intervals), so the second step counts from the next opening, and
    # the two steps lose or double nothing. A zero first step returns the start itself (even
    # when closed), so the identity holds for it too.
    halfway = add_business_time(schedule, start, first)
    assert add_business_time(schedule, halfway, second) == add_business_time(
        schedule, start, first + second
    )


@PROPERTIES
@given(schedules(), moments, st.timedeltas(timedelta(0), timedelta(days=20)), durations)
def test_business_time_adds_up_over_consecutive_spans(schedule, start, one, two):
    middle, end = start + one, start + one + two
    assert business_time_between(schedule, start, end) == business_time_between(
        schedule, start, middle
    ) + business_time_between(schedule, middle, end)


@PROPERTIES
@given(schedules(), moments)
def test_is_open_and_next_opening_agree_with_the_intervals(schedule, moment):
    intervals = schedule.open_intervals(moment - timedelta(days=2), moment + timedelta(days=9))
    for (_, closes), (opens, _) in zip(intervals, intervals[1:], strict=False):
        assert closes < opens  # merged: a gap between any two
    inside = any(opens <= moment < closes for opens, closes in intervals)
    assert schedule.is_open(moment) == inside
    later = [opens for opens, _ in intervals if opens > moment]
    if inside:
        assert schedule.next_opening(moment) == moment.astimezone(UTC)
    elif later:
        assert schedule.next_opening(moment) == later[0]
