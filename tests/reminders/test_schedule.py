"""The reminders' times, as pure arithmetic (reminders/schedule.py)."""

import datetime as dt
import zoneinfo

from reminders.schedule import reminders_plan

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
QUIET = (dt.time(21), dt.time(8))


def la(*args):
    return dt.datetime(*args, tzinfo=LA)


def plan(start, told_at, offsets=(1440, 120), quiet=QUIET):
    planned = reminders_plan(start=start, offsets=list(offsets), zone=LA, quiet=quiet, told_at=told_at)
    return [(p.offset, p.send_at.astimezone(LA), p.not_after.astimezone(LA)) for p in planned]


def test_a_day_before_keeps_the_time_of_day_across_the_spring_change():
    # Sunday 14 March 2027, 10:00 PDT; clocks went forward that night at 02:00.
    start = la(2027, 3, 14, 10)
    assert plan(start, told_at=la(2027, 3, 8, 7)) == [
        (1440, la(2027, 3, 13, 10), la(2027, 3, 14, 8)),  # 10:00 PST the day before
        (120, la(2027, 3, 14, 8), start),
    ]
    assert start.astimezone(dt.UTC) - la(2027, 3, 13, 10).astimezone(dt.UTC) == dt.timedelta(hours=23)


def test_and_across_the_autumn_change():
    # Sunday 7 November 2027, 09:30 PST; clocks went back that night at 02:00.
    start = la(2027, 11, 7, 9, 30)
    [day_before, two_hours] = plan(start, told_at=la(2027, 11, 1, 7))
    assert day_before[1] == la(2027, 11, 6, 9, 30)  # 09:30 PDT the day before
    assert start.astimezone(dt.UTC) - day_before[1].astimezone(dt.UTC) == dt.timedelta(hours=25)
    # 07:30 is quiet: the two-hour reminder waits for 08:00, still before the appointment.
    assert two_hours[1] == la(2027, 11, 7, 8)


def test_quiet_hours_skip_a_reminder_that_would_come_too_late():
    # 2 h before 09:00 is 07:00, quiet until 09:30: past the start, so it is not sent.
    start = la(2027, 3, 9, 9)
    assert [p[0] for p in plan(start, la(2027, 3, 1), quiet=(dt.time(21), dt.time(9, 30)))] == [1440]
    # The day-before one, due at 09:00 in the quiet hours, waits for 09:30.
    assert plan(start, la(2027, 3, 1), quiet=(dt.time(21), dt.time(9, 30)))[0][1] == la(2027, 3, 8, 9, 30)


def test_an_evening_reminder_waits_for_the_morning_and_no_quiet_hours_means_none():
    start = la(2027, 3, 10, 22, 30)  # 22:30: the day before is in the quiet hours (21:00-08:00)
    assert plan(start, la(2027, 3, 1), offsets=[1440])[0][1] == la(2027, 3, 10, 8)
    assert plan(start, la(2027, 3, 1), offsets=[1440], quiet=None)[0][1] == la(2027, 3, 9, 22, 30)


def test_a_reminder_whose_time_passed_before_the_booking_is_not_sent():
    start = la(2027, 3, 9, 10)
    # Booked 20 hours before: the confirmation just told the patient; only the two-hour reminder is left.
    assert [p[0] for p in plan(start, told_at=la(2027, 3, 8, 14))] == [120]
    assert plan(start, told_at=la(2027, 3, 9, 9)) == []
