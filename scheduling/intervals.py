"""Interval arithmetic on UNIX seconds: wall-clock rules expanded in a zone, then subtracted in one sweep.

Everything here is pure (no database): the selectors fetch rows once and hand them over.
"""

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable

Interval = tuple[int, int]  # [start, end) in UNIX seconds
# (whose, start, end): held time as the database returns it, subtracted without repacking thousands of rows
Cut = tuple[object, int, int]
DAY = dt.timedelta(days=1)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping, adjacent ones joined."""
    out: list[Interval] = []
    current_start = current_end = None
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if current_end is not None and start <= current_end:
            if end > current_end:
                current_end = end
        else:
            if current_end is not None:
                out.append((current_start, current_end))
            current_start, current_end = start, end
    if current_end is not None:
        out.append((current_start, current_end))
    return out


def subtract(base: list[Interval], cuts: Iterable[Cut]) -> list[Interval]:
    """`base` (merged) minus the union of `cuts`, in one pass over each.

    `cuts` need only be sorted by start: they may overlap or touch (bookings back to back), so rows in the
    database's order go in as they are, without a merge pass. Empty cuts cut nothing.
    """
    out: list[Interval] = []
    n = len(base)
    if not n:
        return out
    i = 0
    start, end = base[0]
    for _, cut_start, cut_end in cuts:
        if cut_end <= start or cut_end <= cut_start:
            continue
        while end <= cut_start:  # the current piece ends before the cut: it stays whole
            out.append((start, end))
            i += 1
            if i == n:
                return out
            start, end = base[i]
        if cut_end <= start:  # the cut falls in the gap before this piece
            continue
        if cut_start > start:
            out.append((start, cut_start))
        while end <= cut_end:  # the cut covers the rest of this piece, and maybe further ones
            i += 1
            if i == n:
                return out
            start, end = base[i]
        if cut_end > start:
            start = cut_end
    out.append((start, end))
    out.extend(base[i + 1 :])
    return out


@functools.lru_cache(maxsize=16384)  # providers mostly share hours and zones: most windows repeat
def wall_clock_window(day: dt.date, start: dt.time, end: dt.time, zone: zoneinfo.ZoneInfo) -> Interval:
    """A local window on `day`; an end not after the start is on the next day (so 00:00-00:00 is 24 h).

    Local times are resolved in the zone on that date, so 09:00 stays 09:00 on both sides of a DST change.
    """
    end_day = day + DAY if end <= start else day
    return (
        int(dt.datetime.combine(day, start, tzinfo=zone).timestamp()),
        int(dt.datetime.combine(end_day, end, tzinfo=zone).timestamp()),
    )


def local_days(start: int, end: int, zone: zoneinfo.ZoneInfo) -> list[dt.date]:
    """Every local date touching [start, end), plus the day before (its overnight windows reach in)."""
    first = dt.datetime.fromtimestamp(start, zone).date() - DAY
    last = dt.datetime.fromtimestamp(end, zone).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def weekly_windows(
    rules: Iterable[tuple[int, dt.time, dt.time]], days: list[dt.date], zone: zoneinfo.ZoneInfo
) -> list[Interval]:
    by_weekday: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for weekday, start, end in rules:
        by_weekday.setdefault(weekday, []).append((start, end))
    return [
        wall_clock_window(day, start, end, zone)
        for day in days
        for start, end in by_weekday.get(day.weekday(), ())
    ]


def dated_windows(
    start_date: dt.date,
    end_date: dt.date,
    start: dt.time,
    end: dt.time,
    days: list[dt.date],
    zone: zoneinfo.ZoneInfo,
) -> list[Interval]:
    return [wall_clock_window(day, start, end, zone) for day in days if start_date <= day <= end_date]


@functools.lru_cache(maxsize=65536)  # shared by calls: each request touches a few hundred half hours
def half_hour_offset(zone: zoneinfo.ZoneInfo, bucket: int) -> int:
    """The zone's UTC offset in the half hour `bucket` (UNIX seconds // 1800): offsets change only on the
    hour or half hour."""
    return int(dt.datetime.fromtimestamp(bucket * 1800, zone).utcoffset().total_seconds())


class Grid:
    """Slot starts every `step` seconds on a zone's local clock (09:00, 09:15, ... local)."""

    def __init__(self, step: int, zone: zoneinfo.ZoneInfo):
        self.step, self.zone = step, zone
        self._offsets: dict[int, int] = {}

    def _offset(self, t: int) -> int:
        bucket = t // 1800
        offset = self._offsets.get(bucket)
        if offset is None:
            offset = self._offsets[bucket] = half_hour_offset(self.zone, bucket)
        return offset

    def up(self, t: int) -> int:
        offset = self._offset(t)
        return -((-(t + offset)) // self.step) * self.step - offset

    def first_start(self, free: list[Interval], length: int, earliest: int, latest_end: int) -> int | None:
        for start, end in free:
            if end <= earliest:
                continue
            t = self.up(max(start, earliest))
            if t + length <= min(end, latest_end):
                return t
        return None

    def starts(self, free: list[Interval], length: int, earliest: int, latest_end: int) -> list[int]:
        """Every grid time whose slot fits inside a free interval and inside [earliest, latest_end]."""
        out: list[int] = []
        step, offsets = self.step, self._offsets
        for start, end in free:  # the hot loop of availability: kept free of calls where it can be
            if start < earliest:
                start = earliest
            if end > latest_end:
                end = latest_end
            if end - start < length:
                continue
            offset = offsets.get(start // 1800)
            if offset is None:
                offset = self._offset(start)
            out.extend(range(-((-(start + offset)) // step) * step - offset, end - length + 1, step))
        return out
