"""When reminders go: pure time arithmetic, no queries.

An offset of whole days keeps the time of day in the room's zone ("a day before" a 10:00 appointment is
10:00 the day before, whether a DST change lies between or not); the rest of an offset is exact minutes.
A reminder due in quiet hours waits for their end; one that would then arrive after the next reminder's
time or the appointment is not sent. A reminder whose time had passed when the appointment was booked or
moved is not sent either: the confirmation just told the patient.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

Quiet = tuple[dt.time, dt.time] | None


@dataclass(frozen=True)
class Planned:
    offset: int  # minutes
    send_at: dt.datetime
    not_after: dt.datetime


def due_before(start: dt.datetime, offset: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    days, minutes = divmod(offset, 24 * 60)
    local = start.astimezone(zone)
    # Aware arithmetic within one zone is wall-clock arithmetic: the same time of day, `days` earlier.
    day_before = (local - dt.timedelta(days=days)).replace(fold=0)
    return day_before.astimezone(dt.UTC) - dt.timedelta(minutes=minutes)


def quiet_end(at: dt.datetime, zone: zoneinfo.ZoneInfo, quiet: Quiet) -> dt.datetime:
    """`at`, or the end of the quiet hours it falls in (`quiet` may run past midnight: 21:00-08:00)."""
    if not quiet or quiet[0] == quiet[1]:
        return at
    begin, end = quiet
    local = at.astimezone(zone)
    now = local.time()
    if begin < end:
        inside, day = begin <= now < end, local.date()
    else:
        inside = now >= begin or now < end
        day = local.date() + dt.timedelta(days=1) if now >= begin else local.date()
    if not inside:
        return at
    return dt.datetime.combine(day, end, tzinfo=zone).astimezone(dt.UTC)


def reminders_plan(
    *,
    start: dt.datetime,
    offsets: list[int],
    zone: zoneinfo.ZoneInfo,
    quiet: Quiet,
    told_at: dt.datetime,
) -> list[Planned]:
    """The reminders of an appointment starting at `start` whose patient was told of it at `told_at`."""
    offsets = sorted({int(o) for o in offsets if int(o) > 0}, reverse=True)
    due = [due_before(start, offset, zone) for offset in offsets]
    planned = []
    for i, offset in enumerate(offsets):
        not_after = due[i + 1] if i + 1 < len(due) else start
        if due[i] < told_at:
            continue
        send_at = quiet_end(due[i], zone, quiet)
        if send_at < not_after:
            planned.append(Planned(offset=offset, send_at=send_at, not_after=not_after))
    return planned
