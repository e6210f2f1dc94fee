"""Reads of the scheduling app: free slots (a fixed number of queries whatever the span), day schedules."""

import bisect
import datetime as dt
import hashlib
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from operator import itemgetter

from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Length, Right
from django.utils import timezone

from clinic.errors import InvalidInput, NotFound
from clinic.models import Account, Consultation, Member, Provider, Room, User
from clinic.selectors import room_get
from scheduling import feeds, intervals
from scheduling.models import CalendarFeed, ScheduleException, SlotHold, WorkingHours
from visits.models import ACTIVE_STATUSES, Intake, Visit, VisitEvent, VisitGroup, VisitStatus, VisitType
from visits.selectors import intakes_visible_to

DEFAULT_SPAN = 4 * 24 * 3600
# How far ahead 'available' (the first free slot) is looked for when the caller gives neither start nor end.
SEARCH_HORIZON = 60 * 24 * 3600
MAX_SPAN = 62 * 24 * 3600


@dataclass(slots=True)
class Slot:
    start: int  # UNIX seconds
    end: int
    provider_ids: list[int]

    def local_start(self, zone: zoneinfo.ZoneInfo) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.start, zone)

    def local_end(self, zone: zoneinfo.ZoneInfo) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.end, zone)


def _ts(value: dt.datetime) -> int:
    return int(value.timestamp())


def time_range(
    *, start: dt.datetime | None, end: dt.datetime | None, duration: int | None
) -> tuple[int | None, int | None, int]:
    """The seed's 8-row table. Returns (start, end, span); start None means 'from the first free slot'."""
    if duration is not None and duration <= 0:
        raise InvalidInput.field("duration", "Must be a positive number of seconds.")
    span = duration or DEFAULT_SPAN
    if start and end:  # rows 3 and 8: duration ignored
        lo, hi = _ts(start), _ts(end)
    elif start:  # rows 2 and 4
        lo, hi = _ts(start), _ts(start) + span
    elif end:  # rows 5 and 6
        lo, hi = _ts(end) - span, _ts(end)
    else:  # rows 1 and 7: from 'available'
        lo, hi = None, None
    if lo is not None and hi <= lo:
        raise InvalidInput.field("end", "The end must be after the start.")
    if (hi - lo if lo is not None else span) > MAX_SPAN:
        raise InvalidInput(
            f"At most {MAX_SPAN // 86400} days of availability at a time.",
            errors={"end": [f"The range is longer than {MAX_SPAN // 86400} days."]},
        )
    return lo, hi, span


def default_slot_length(room: Room) -> int:
    """Without a consultation: the room's shortest one-to-one consultation, else its slot interval."""
    durations = [c.duration for c in room.consultations.all() if c.active and not c.is_group]
    return min(durations) if durations else room.slot_interval


WEEKLY, HELD = "week", "held"


@dataclass(slots=True)
class _Provider:
    zone: str
    rules: list = field(default_factory=list)  # (weekday, start, end), in the database's order
    exceptions: list = field(default_factory=list)  # (kind, start_date, end_date, start, end)
    held: list = field(default_factory=list)  # (provider, start, end) a new slot may not start in, by start


# Plain SQL, not the ORM: building and compiling the two UNIONs cost more than running them (about 3 ms a
# call), and rows straight from the cursor spare the ORM's per-row work on thousands of bookings. The same
# text runs on PostgreSQL and SQLite; only UNIX seconds are spelled per database (_epoch).
CHOSEN_SQL = """chosen AS (
    SELECT p.id, p.time_zone FROM clinic_provider p
    JOIN clinic_provider_rooms pr ON pr.provider_id = p.id
    WHERE p.account_id = %s AND pr.room_id = %s{some}{licensed})"""

# Weekly rules and dated exceptions of the chosen providers in this room; time off without a room counts
# in every room (sorted in Python, see _providers_of).
# With `held`, the held time of known providers comes in the same query, as 'held' rows (see _fetch_known).
HOURS_SQL = """WITH {chosen}
SELECT w.provider_id, c.time_zone, 'week', w.weekday, NULL, NULL, w.start_time, w.end_time{pad}
FROM scheduling_workinghours w JOIN chosen c ON c.id = w.provider_id
WHERE w.room_id = %s
UNION ALL
SELECT e.provider_id, c.time_zone, e.kind, -1, e.start_date, e.end_date, e.start_time, e.end_time{pad}
FROM scheduling_scheduleexception e JOIN chosen c ON c.id = e.provider_id
WHERE (e.room_id = %s OR (e.room_id IS NULL AND e.kind = %s))
    AND e.start_date <= %s AND e.end_date >= %s{held}"""
HELD_ROWS = """
UNION ALL
SELECT h.pid, NULL, 'held', NULL, NULL, NULL, NULL, NULL, h.s, h.e FROM ({held}) h"""

# Time the providers found with hours are held, in any room: active appointments, group visits and slots
# kept for a waitlist offer (scheduling.models.SlotHold), as
# the slot times they forbid (see _fetch). Unordered: sorting in Python is cheaper than an ORDER BY here.
# With TBD_SQL: this room's TBD appointments (no provider yet), as their busy ranges, with a NULL provider.
HELD_SQL = """SELECT v.provider_id AS pid, {busy_start} - %s AS s, {busy_end} + %s AS e
FROM visits_visit v
WHERE v.provider_id IN ({ids}) AND v.type = %s AND v.status IN ({statuses}) AND v.visit_group_id IS NULL
    AND v.busy_start < %s AND v.busy_end > %s{exclude}
UNION ALL
SELECT g.provider_id, {group_start} - %s, {group_end} + %s
FROM visits_visitgroup g
WHERE g.provider_id IN ({ids}) AND g.start < %s AND g."end" > %s
UNION ALL
SELECT h.provider_id, {hold_start} - %s, {hold_end} + %s
FROM scheduling_slothold h
WHERE h.provider_id IN ({ids}) AND h.released IS NULL AND h.busy_start < %s AND h.busy_end > %s"""
TBD_SQL = """SELECT NULL, {busy_start}, {busy_end}
FROM visits_visit v
WHERE v.room_id = %s AND v.provider_id IS NULL AND v.type = %s AND v.status IN ({statuses})
    AND v.visit_group_id IS NULL AND v.busy_start < %s AND v.busy_end > %s{exclude}"""


def _epoch(column: str) -> str:
    """UNIX seconds computed by the database: converting thousands of timestamps in Python is the cost."""
    if connection.vendor == "postgresql":
        # date_part is double precision; EXTRACT's numeric is measurably slower over 10,000 values.
        return f"CAST(date_part('epoch', {column}) AS bigint)"
    return f"CAST(strftime('%%s', {column}) AS integer)"


_START = itemgetter(1)  # of held rows (provider, start, end)


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _time(value) -> dt.time | None:
    return dt.time.fromisoformat(value) if isinstance(value, str) else value  # SQLite hands back text


def _date(value) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _chosen(*, room: Room, provider_ids: list | None, location: str) -> tuple[str, list]:
    sql = CHOSEN_SQL.format(
        some=f" AND p.id IN ({', '.join(['%s'] * len(provider_ids))})" if provider_ids else "",
        licensed=" AND p.id IN (SELECT provider_id FROM clinic_providerlicense WHERE state = %s)"
        if location
        else "",
    )
    return sql, [room.account_id, room.pk, *(provider_ids or ()), *([location] if location else ())]


def _statuses() -> str:
    return ", ".join(["%s"] * len(ACTIVE_STATUSES))


def _window(room: Room, lo: int, hi: int) -> list:
    """The held rows that can touch slot times in [lo, hi): buffers of both sides included."""
    before, after = room.buffer_before, room.buffer_after
    adapt = connection.ops.adapt_datetimefield_value
    return [
        adapt(dt.datetime.fromtimestamp(hi + before + after, dt.UTC)),
        adapt(dt.datetime.fromtimestamp(lo - before - after, dt.UTC)),
    ]


def _tbd_part(room: Room, window: list, exclude_visit_id) -> tuple[str, list]:
    sql = TBD_SQL.format(
        busy_start=_epoch("v.busy_start"),
        busy_end=_epoch("v.busy_end"),
        statuses=_statuses(),
        exclude=" AND v.id <> %s" if exclude_visit_id else "",
    )
    return sql, [
        room.pk,
        VisitType.SCHEDULED.value,
        *(status.value for status in ACTIVE_STATUSES),
        *window,
        *([exclude_visit_id] if exclude_visit_id else []),
    ]


def _hours_params(room: Room, lo: int, hi: int) -> list:
    # Dates are wall-clock in each provider's zone, so two days of margin cover every offset.
    first_day = dt.datetime.fromtimestamp(lo, dt.UTC).date() - dt.timedelta(days=2)
    last_day = dt.datetime.fromtimestamp(hi, dt.UTC).date() + dt.timedelta(days=2)
    ops = connection.ops
    return [
        room.pk,
        room.pk,
        ScheduleException.Kind.TIME_OFF.value,
        ops.adapt_datefield_value(last_day),
        ops.adapt_datefield_value(first_day),
    ]


def _held_part(room: Room, ids: list, lo: int, hi: int, exclude_visit_id) -> tuple[str, list]:
    """Held time of `ids` in any room. A new slot's busy range [t - before, t + length + after) must miss
    every held range: so each held range [s, e) forbids slot times in [s - after, e + before)."""
    before, after = room.buffer_before, room.buffer_after
    window = _window(room, lo, hi)
    sql = HELD_SQL.format(
        ids=", ".join(["%s"] * len(ids)),
        busy_start=_epoch("v.busy_start"),
        busy_end=_epoch("v.busy_end"),
        statuses=_statuses(),
        exclude=" AND v.id <> %s" if exclude_visit_id else "",
        group_start=_epoch("g.start"),
        group_end=_epoch('g."end"'),
        hold_start=_epoch("h.busy_start"),
        hold_end=_epoch("h.busy_end"),
    )
    return sql, [
        after,
        before,
        *ids,
        VisitType.SCHEDULED.value,
        *(status.value for status in ACTIVE_STATUSES),
        *window,
        *([exclude_visit_id] if exclude_visit_id else []),
        after,
        before,
        *ids,
        *window,
        after,
        before,
        *ids,
        *window,
    ]


# Hours rows by provider, weekday, start and end, so that providers with the same hours list them alike
# (sorted here: in SQL the sort took in the held rows of the same query).
_HOURS_ORDER = itemgetter(0, 3, 6, 7)


def _providers_of(rows: list[tuple]) -> dict[int, _Provider]:
    found: dict[int, _Provider] = {}
    hours = sorted((row for row in rows if row[2] != HELD), key=_HOURS_ORDER)
    for pid, zone, kind, weekday, start_date, end_date, start, end, *_ in hours:
        provider = found.get(pid) or found.setdefault(pid, _Provider(zone))
        if kind == WEEKLY:
            provider.rules.append((weekday, _time(start), _time(end)))
        else:
            provider.exceptions.append((kind, _date(start_date), _date(end_date), _time(start), _time(end)))
    return found


def _sort_held(found: dict[int, _Provider], rows, tbd: list) -> None:
    # Rows kept as they come, (provider, start, end), and sorted by start: building a tuple per row and
    # sorting by whole tuples cost three times as much.
    held_of = {pid: provider.held for pid, provider in found.items()}
    held_of[None] = tbd
    for row in rows:
        held_of[row[0]].append(row)
    for rows_of_one in held_of.values():
        rows_of_one.sort(key=_START)


def _fetch(
    *,
    room: Room,
    provider_ids: list | None,
    location: str,
    lo: int,
    hi: int,
    exclude_visit_id=None,
) -> tuple[dict[int, _Provider], list[tuple]]:
    """Two queries, whatever the span or the number of providers: their hours, and their held time with
    the room's TBD appointments (returned apart, as (None, busy start, busy end) rows)."""
    chosen, chosen_params = _chosen(room=room, provider_ids=provider_ids, location=location)
    hours = _rows(
        HOURS_SQL.format(chosen=chosen, pad="", held=""), chosen_params + _hours_params(room, lo, hi)
    )
    found = _providers_of(hours)
    if not found:
        return found, []
    sql, params = _held_part(room, list(found), lo, hi, exclude_visit_id)
    tbd_sql, tbd_params = _tbd_part(room, _window(room, lo, hi), exclude_visit_id)
    held = _rows(f"{sql}\nUNION ALL\n{tbd_sql}", params + tbd_params)
    tbd: list = []
    _sort_held(found, held, tbd)
    return found, tbd


def _fetch_known(*, room: Room, provider_ids: list[int], lo: int, hi: int) -> dict[int, _Provider]:
    """The hours and held time of these providers (TBD appointments aside), in one query: their ids are
    known, so the held time need not wait for the hours."""
    chosen, chosen_params = _chosen(room=room, provider_ids=provider_ids, location="")
    held_sql, held_params = _held_part(room, provider_ids, lo, hi, None)
    rows = _rows(
        HOURS_SQL.format(
            chosen=chosen,
            pad=", CAST(NULL AS bigint), CAST(NULL AS bigint)",
            held=HELD_ROWS.format(held=held_sql),
        ),
        chosen_params + _hours_params(room, lo, hi) + held_params,
    )
    found = _providers_of(rows)
    _sort_held(found, [(pid, r[8], r[9]) for r in rows if (pid := r[0]) in found and r[2] == HELD], [])
    return found


def _free_intervals(provider: _Provider, lo: int, hi: int, memo: dict) -> list[intervals.Interval]:
    """Hours plus extra hours, minus time off, minus held time."""
    return intervals.subtract(_working_intervals(provider, lo, hi, memo), provider.held)


def _working_intervals(provider: _Provider, lo: int, hi: int, memo: dict) -> list[intervals.Interval]:
    """Hours plus extra hours, minus time off.

    `memo` keeps, for one call, each zone's local days and each (zone, weekly rules) expanded: providers
    mostly share them.
    """
    zone, days = memo.get(provider.zone) or memo.setdefault(provider.zone, _zone_days(provider.zone, lo, hi))
    key = (provider.zone, tuple(provider.rules))
    working = memo.get(key)
    if working is None:
        working = memo[key] = intervals.merge(intervals.weekly_windows(provider.rules, days, zone))
    if provider.exceptions:
        extra, off = [], []
        for kind, start_date, end_date, start, end in provider.exceptions:
            windows = intervals.dated_windows(start_date, end_date, start, end, days, zone)
            (off if kind == ScheduleException.Kind.TIME_OFF else extra).extend(windows)
        if extra:
            working = intervals.merge(working + extra)
        if off:
            working = intervals.subtract(working, [(None, start, end) for start, end in sorted(off)])
    return working


def _zone_days(name: str, lo: int, hi: int) -> tuple[zoneinfo.ZoneInfo, list[dt.date]]:
    zone = zoneinfo.ZoneInfo(name)
    return zone, intervals.local_days(lo, hi, zone)


def _group(
    starts_of: dict[int, list[int]], *, room: Room, slot_length: int, tbd: list, only: int | None
) -> list[tuple[int, list[int]]]:
    """(start, providers free then) by start, providers by id; where TBD appointments overlapping a time
    hold as many providers as are free, it is not offered. `only`: keep that provider's times alone."""
    by_start: defaultdict[int, list[int]] = defaultdict(list)
    for pid in sorted(starts_of):
        for t in starts_of[pid]:
            by_start[t].append(pid)
    before, after = room.buffer_before, room.buffer_after
    out = []
    for t in sorted(by_start):
        pids = by_start[t]
        if tbd:
            busy_start, busy_end = t - before, t + slot_length + after
            if len(pids) <= sum(1 for _, s, e in tbd if s < busy_end and e > busy_start):
                continue
        if only is not None:
            if only not in pids:
                continue
            pids = [only]
        out.append((t, pids))
    return out


def free_slots(
    *,
    room: Room,
    slot_length: int,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    duration: int | None = None,
    provider_id=None,
    location: str = "",
    now: dt.datetime | None = None,
    exclude_visit_id=None,
    count_tbd: bool = True,
) -> list[Slot]:
    """Free slots of the room's providers, sorted by start; each lists the providers free for it. Read
    afresh from the database: the booking guard's reading (pages and the API use `available_slots`).

    Not offered: booked or group-held time (buffers included), the past and the room's minimum notice,
    anything outside a provider's hours in this room, time off, and times where the room's TBD
    appointments (no provider yet) hold every free provider: a slot needs more free providers than TBD
    appointments overlapping it, as the booking guard does. `count_tbd=False` is that guard's own raw
    reading. `exclude_visit_id` ignores one booking (the one being rescheduled).
    """
    if not room.appointments_enabled or not room.is_open:
        return []
    lo, hi, span = time_range(start=start, end=end, duration=duration)
    earliest = _ts(now or timezone.now()) + room.min_notice
    fetch_lo, fetch_hi = (lo, hi) if lo is not None else (earliest, earliest + SEARCH_HORIZON + span)
    if fetch_hi <= earliest:
        return []
    window = {
        "room": room,
        "location": location,
        "lo": max(fetch_lo, earliest),
        "hi": fetch_hi,
        "exclude_visit_id": exclude_visit_id,
    }
    providers, tbd = _fetch(provider_ids=[provider_id] if provider_id else None, **window)
    if not count_tbd:
        tbd = []
    only = None
    if tbd and provider_id:
        # A TBD appointment may take any of the providers: counting what is left needs all of them.
        only = int(provider_id)
        providers, tbd = _fetch(provider_ids=None, **window)
    grid = intervals.Grid(room.slot_interval or slot_length, room.zone)
    memo: dict = {}
    free = {pid: _free_intervals(providers[pid], window["lo"], fetch_hi, memo) for pid in providers}

    def slots_between(first: int, last_end: int) -> list[Slot]:
        starts_of = {pid: grid.starts(f, slot_length, first, last_end) for pid, f in free.items()}
        grouped = _group(starts_of, room=room, slot_length=slot_length, tbd=tbd, only=only)
        return [Slot(t, t + slot_length, pids) for t, pids in grouped]

    if lo is not None:
        return slots_between(max(lo, earliest), hi)
    # 'available': the span starts at the first free slot. Without TBD appointments in the way the first
    # provider's first start is it; with them, look on span by span.
    searched = [free[only]] if only is not None else list(free.values())
    cursor = earliest
    while True:
        firsts = [
            t for f in searched if (t := grid.first_start(f, slot_length, cursor, fetch_hi)) is not None
        ]
        if not firsts:
            return []
        first = min(firsts)
        slots = slots_between(first, first + span)
        if slots:
            return slots if slots[0].start == first else slots_between(slots[0].start, slots[0].start + span)
        cursor = first + span


# --- cached availability ---------------------------------------------------------------------------------
#
# An answer is cached under everything it was computed from, read first (the state columns below, in the
# same query as the room): the room's settings, the slot length and the span asked for, the room's chosen
# providers with their schedule version (`ProviderSchedule`, bumped by every write that changes their
# zone, hours, exceptions or held time, in that write's transaction), and the room's TBD appointments
# themselves. A change anywhere changes the key, so a cached answer never offers a time taken since. Each
# provider's slot starts are cached too, under their own version: after a booking only its provider is
# computed again. Entries hold no clock: the past and the minimum notice are cut off when serving.

CACHE_SECONDS = 3600

# Two text columns of the room `r`: its chosen providers as 'id version' ('-' when never bumped) and its
# TBD appointments overlapping the span as 'busy-start busy-end' (UNIX seconds). Read before anything they
# cover, so an answer computed meanwhile is cached under an old key. Only the room's own tables: the
# provider rows (their zone) are left to the version, which a provider's save bumps (scheduling/apps.py),
# because reading them cost more than the rest of a cached answer on a new connection.
STATE_COLUMNS = """,
    (SELECT {agg}(CAST(pr.provider_id AS text) || ' ' || COALESCE(CAST(s.version AS text), '-'), ',')
     FROM clinic_provider_rooms pr LEFT JOIN scheduling_providerschedule s ON s.provider_id = pr.provider_id
     WHERE pr.room_id = r.id{licensed}) AS schedule_state,
    (SELECT {agg}(CAST({busy_start} AS text) || ' ' || CAST({busy_end} AS text), ',')
     FROM visits_visit v
     WHERE v.room_id = r.id AND v.provider_id IS NULL AND v.type = %s AND v.status IN ({statuses})
        AND v.visit_group_id IS NULL AND {busy_start} < %s + r.buffer_before + r.buffer_after
        AND {busy_end} > %s - r.buffer_before - r.buffer_after) AS tbd_state"""


def _state_columns(*, location: str, lo: int, hi: int) -> tuple[str, list]:
    sql = STATE_COLUMNS.format(
        agg="string_agg" if connection.vendor == "postgresql" else "group_concat",
        licensed=" AND pr.provider_id IN (SELECT provider_id FROM clinic_providerlicense WHERE state = %s)"
        if location
        else "",
        busy_start=_epoch("v.busy_start"),
        busy_end=_epoch("v.busy_end"),
        statuses=_statuses(),
    )
    statuses = [status.value for status in ACTIVE_STATUSES]
    return sql, [*([location] if location else []), VisitType.SCHEDULED.value, *statuses, hi, lo]


def _room_with_state(*, where: str, params: list, location: str, lo: int | None, hi: int | None, extra=""):
    """Rooms matching `where`, each with its state columns when a span is given (else without)."""
    columns, column_params = _state_columns(location=location, lo=lo, hi=hi) if lo is not None else ("", [])
    sql = f"SELECT r.*{extra}{columns} FROM clinic_room r {where}"
    return list(Room.objects.raw(sql, column_params + params))


def _parse_state(room: Room) -> tuple[list[tuple], list[tuple]]:
    providers = []
    for item in (room.schedule_state or "").split(","):
        if item:
            pid, version = item.split(" ")
            providers.append((int(pid), None if version == "-" else int(version)))
    tbd = [(None, *map(int, item.split(" "))) for item in (room.tbd_state or "").split(",") if item]
    return sorted(providers), sorted(tbd)


def _key(kind: str, parts) -> str:
    return f"availability:{kind}:" + hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def _starts_computed(
    *, room: Room, provider_ids: list[int], slot_length: int, lo: int, hi: int
) -> dict[int, list[int]]:
    """Slot starts of these providers in [lo, hi), taken time and TBD appointments aside."""
    providers = _fetch_known(room=room, provider_ids=provider_ids, lo=lo, hi=hi)
    grid = intervals.Grid(room.slot_interval or slot_length, room.zone)
    memo: dict = {}
    starts = {pid: [] for pid in provider_ids}
    for pid, provider in providers.items():
        starts[pid] = grid.starts(_free_intervals(provider, lo, hi, memo), slot_length, lo, hi)
    return starts


def available_slots(
    *,
    room: Room,
    slot_length: int,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    duration: int | None = None,
    provider_id=None,
    location: str = "",
    now: dt.datetime | None = None,
) -> list[Slot]:
    """`free_slots`, from the cache when nothing it reads has changed (see above). 'available' (neither
    start nor end) depends on the clock and is computed afresh. A `room` read with its state columns
    for this span and location (as `availability_for` reads it) spares a query."""
    if not room.appointments_enabled or not room.is_open:
        return []
    lo, hi, _ = time_range(start=start, end=end, duration=duration)
    if lo is None:
        return free_slots(room=room, slot_length=slot_length, duration=duration, provider_id=provider_id,
                          location=location, now=now)  # fmt: skip
    earliest = _ts(now or timezone.now()) + room.min_notice
    if hi <= earliest:
        return []
    if not hasattr(room, "schedule_state"):
        (room,) = _room_with_state(where="WHERE r.id = %s", params=[room.pk], location=location, lo=lo, hi=hi)
    providers, tbd = _parse_state(room)
    setting = (room.pk, room.time_zone, room.slot_interval, room.buffer_before, room.buffer_after,
               slot_length, lo, hi)  # fmt: skip
    # A provider without a version (never bumped) is computed afresh, and so is any answer they are in.
    versioned = {pid for pid, version in providers if version is not None}
    cacheable = len(versioned) == len(providers)
    answer_key = _key("answer", (setting, provider_id and int(provider_id), providers, tbd))
    grouped = cache.get(answer_key) if cacheable else None
    if grouped is None:
        keys = {pid: _key("starts", (setting, pid, version)) for pid, version in providers}
        cached = cache.get_many([keys[pid] for pid in versioned])
        starts_of = {pid: cached[keys[pid]] for pid in keys if keys[pid] in cached}
        missing = [pid for pid in keys if pid not in starts_of]
        if missing:
            computed = _starts_computed(
                room=room, provider_ids=missing, slot_length=slot_length, lo=lo, hi=hi
            )
            starts_of.update(computed)
            cache.set_many({keys[pid]: computed[pid] for pid in missing if pid in versioned}, CACHE_SECONDS)
        only = int(provider_id) if provider_id else None
        grouped = _group(starts_of, room=room, slot_length=slot_length, tbd=tbd, only=only)
        if cacheable:
            cache.set(answer_key, grouped, CACHE_SECONDS)
    first = bisect.bisect_left(grouped, earliest, key=itemgetter(0))
    return [Slot(t, t + slot_length, pids) for t, pids in grouped[first:]]


def providers_free_for(
    *,
    room: Room,
    start: dt.datetime,
    end: dt.datetime,
    provider_id=None,
    location: str = "",
    exclude_visit_id=None,
) -> list[int]:
    """Who could take exactly [start, end): the booking guard, the same computation as availability."""
    slots = free_slots(
        room=room,
        slot_length=_ts(end) - _ts(start),
        start=start,
        end=end,
        provider_id=provider_id,
        location=location,
        exclude_visit_id=exclude_visit_id,
        count_tbd=False,
    )
    return next((s.provider_ids for s in slots if s.start == _ts(start)), [])


def consultation_of_room(*, room: Room, consultation_id) -> Consultation:
    consultation = room.consultations.filter(pk=consultation_id, active=True).first()
    if consultation is None:
        raise InvalidInput.field(
            "consultation_id", f"Room {room.code} has no consultation {consultation_id}."
        )
    return consultation


def local_day_bounds(day: dt.date, zone: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(day, dt.time(0), tzinfo=zone),
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
    )


def day_appointments(
    *, account: Account, room: Room, day: dt.date, provider: Provider | None = None
) -> QuerySet:
    """The room's appointments starting on `day` (room-local), by provider then time; not cancelled ones."""
    lo, hi = local_day_bounds(day, room.zone)
    visits = (
        Visit.objects.for_account(account)
        .appointments()
        .filter(room=room, start__gte=lo, start__lt=hi)
        .exclude(status=VisitStatus.CANCELLED)
    )
    if provider is not None:
        visits = visits.filter(provider=provider)
    return visits.with_related().order_by("provider__user__last_name", "provider_id", "start", "id")


def provider_hours(*, account: Account, provider: Provider) -> QuerySet[WorkingHours]:
    return WorkingHours.objects.for_account(account).filter(provider=provider).select_related("room")


def provider_exceptions(
    *, account: Account, provider: Provider, since: dt.date
) -> QuerySet[ScheduleException]:
    return (
        ScheduleException.objects.for_account(account)
        .filter(provider=provider, end_date__gte=since)
        .select_related("room")
    )


ROOM_CONSULTATION_WHERE = """JOIN clinic_consultation c ON c.room_id = r.id
WHERE r.account_id = %s AND r.code = %s AND c.id = %s AND c.active"""


def _room_and_length(
    *, account: Account, room_code, intake: Intake | None, consultation_id
) -> tuple[Room, int]:
    """The room and slot length of an availability call, step by step, each miss named."""
    if room_code:
        room = room_get(account=account, code=room_code)
    elif intake is not None:
        room = intake.room
    else:
        rooms = list(Room.objects.for_account(account)[:2])
        if len(rooms) != 1:
            raise InvalidInput.field("room_code", "This clinic has several rooms: say which.")
        room = rooms[0]
    consultation = None
    if consultation_id:
        consultation = consultation_of_room(room=room, consultation_id=consultation_id)
    elif intake and intake.consultation and intake.consultation.room_id == room.pk:
        consultation = intake.consultation
    if consultation is not None and consultation.is_group:
        raise InvalidInput.field(
            "consultation_id", "Group consultations are booked through their group visits."
        )
    return room, consultation.duration if consultation else default_slot_length(room)


def availability_for(
    *,
    account: Account,
    user,
    room_code: str | None = None,
    intake_id=None,
    consultation_id=None,
    provider_id=None,
    location: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    duration: int | None = None,
) -> list[Slot]:
    """GET /availability: resolve the room, slot length and licence state, then `available_slots`.

    `user` None is an API-key caller: it sees any intake of the account, as the account's own server.
    """
    intake = None
    if intake_id:
        intakes = (
            Intake.objects.for_account(account)
            if user is None
            else intakes_visible_to(account=account, user=user)
        )
        intake = intakes.select_related("room", "consultation").filter(pk=intake_id).first()
        if intake is None:
            raise NotFound(f"Intake {intake_id} not found.", errors={"intake_id": ["No such intake."]})
    room, slot_length = None, None
    if room_code and consultation_id:
        # The usual call names both: one query for the two. On a miss, the steps below say which is wrong.
        # Raw SQL, with the state the cached answer is keyed by (the ORM's join cost more than the whole
        # cached answer, about 1.5 ms).
        lo, hi, _ = time_range(start=start, end=end, duration=duration)
        found = _room_with_state(
            where=ROOM_CONSULTATION_WHERE,
            params=[account.pk, room_code, int(consultation_id)],
            location=location or (intake.location if intake is not None else ""),
            lo=lo,
            hi=hi,
            extra=", c.duration AS consultation_duration, c.capacity AS consultation_capacity",
        )
        if found:
            room, slot_length = found[0], found[0].consultation_duration
            if found[0].consultation_capacity > 1:
                raise InvalidInput.field(
                    "consultation_id", "Group consultations are booked through their group visits."
                )
    if slot_length is None:
        room, slot_length = _room_and_length(
            account=account, room_code=room_code, intake=intake, consultation_id=consultation_id
        )
    if not location and intake is not None:
        location = intake.location
    return available_slots(
        room=room,
        slot_length=slot_length,
        start=start,
        end=end,
        duration=duration,
        provider_id=provider_id,
        location=location,
    )


@dataclass(slots=True)
class CalendarData:
    """What the front desk's calendar shows of a room over some days (see scheduling/calendar.py)."""

    providers: list[Provider]
    working: dict[int, list[intervals.Interval]]  # hours minus time off, UNIX seconds
    free: dict[int, set[int]]  # slot starts each provider could be booked at
    appointments: list[Visit]  # with who cancelled (closed_by) and why (cancel_reason)
    slot_length: int
    # Slots held for the waitlist's offers: provider id -> [(start, end, expires)], UNIX seconds.
    held: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)


def calendar_data(*, account: Account, room: Room, lo: dt.datetime, hi: dt.datetime) -> CalendarData:
    """The room's providers (all of them), their working time, their free slots (cached availability, for
    the room's shortest one-to-one consultation) and every appointment starting in [lo, hi), cancelled
    ones included, and the slots held for the waitlist. Six queries, whatever the number of providers or
    days."""
    providers = list(Provider.objects.for_account(account).in_room(room).select_related("user")
                     .order_by("user__last_name", "user__first_name", "pk"))  # fmt: skip
    lo_ts, hi_ts = _ts(lo), _ts(hi)
    chosen, chosen_params = _chosen(room=room, provider_ids=None, location="")
    hours = _rows(
        HOURS_SQL.format(chosen=chosen, pad="", held=""), chosen_params + _hours_params(room, lo_ts, hi_ts)
    )
    memo: dict = {}
    working = {pid: _working_intervals(p, lo_ts, hi_ts, memo) for pid, p in _providers_of(hours).items()}
    slot_length = default_slot_length(room)
    free: dict[int, set[int]] = defaultdict(set)
    for slot in available_slots(room=room, slot_length=slot_length, start=lo, end=hi):
        for pid in slot.provider_ids:
            free[pid].add(slot.start)
    appointments = list(
        Visit.objects.for_account(account)
        .appointments()
        .filter(room=room, start__gte=lo, start__lt=hi)
        .select_related("member", "intake", "closed_by", "provider__user")
        .order_by("start", "id")
    )
    cancelled = [v.pk for v in appointments if v.status == VisitStatus.CANCELLED]
    events = (
        VisitEvent.objects.filter(visit_id__in=cancelled, to_status=VisitStatus.CANCELLED)
        .order_by("created", "id")
        .values_list("visit_id", "from_status", "reason", "created")
    )
    cancellations, undone = {}, set()
    for visit_id, from_status, reason, at in events if cancelled else []:
        if from_status == VisitStatus.CANCELLED:
            undone.add(visit_id)  # booked again: the new appointment is shown in its place
        else:
            cancellations[visit_id] = (reason, at)
    appointments = [v for v in appointments if v.pk not in undone]
    for visit in appointments:
        visit.cancel_reason, visit.cancelled_at = cancellations.get(visit.pk, ("", None))
    held: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    holds = (
        SlotHold.objects.for_account(account)
        .active()
        .filter(provider__in=providers, start__lt=hi, end__gt=lo)
        .order_by("start", "id")
        .values_list("provider_id", "start", "end", "expires")
    )
    for pid, start, end, expires in holds:
        held[pid].append((_ts(start), _ts(end), _ts(expires)))
    return CalendarData(providers, working, dict(free), appointments, slot_length, dict(held))


def nearest_free_slots(
    *, room: Room, slot_length: int, around: dt.datetime, provider_id=None, count: int = 3
) -> list[tuple[int, int | None]]:
    """The free slots nearest to `around` (within a day before and two after), as (start, provider id):
    up to `count` with `provider_id` first, then up to `count` with the others. Without a provider, the
    nearest times for a provider to be decided (None)."""
    slots = available_slots(
        room=room,
        slot_length=slot_length,
        start=around - dt.timedelta(days=1),
        end=around + dt.timedelta(days=2),
    )
    wanted = _ts(around)
    by_distance = sorted(slots, key=lambda slot: (abs(slot.start - wanted), slot.start))
    if not provider_id:
        return [(slot.start, None) for slot in by_distance[:count]]
    provider_id = int(provider_id)
    same = [(slot.start, provider_id) for slot in by_distance if provider_id in slot.provider_ids]
    others = [
        (slot.start, next(pid for pid in slot.provider_ids if pid != provider_id))
        for slot in by_distance
        if any(pid != provider_id for pid in slot.provider_ids)
    ]
    return same[:count] + others[:count]


def next_free_start(*, visit: Visit, within_days: int = 14) -> int | None:
    """The first start after the appointment's own at which its provider (or anyone, when it has none)
    could take it instead, read afresh as the booking guard reads it."""
    length = int((visit.end - visit.start).total_seconds())
    slots = free_slots(
        room=visit.room,
        slot_length=length,
        start=visit.start + dt.timedelta(seconds=1),
        end=visit.start + dt.timedelta(days=within_days),
        provider_id=visit.provider_id,
        location=visit.intake.location if visit.intake_id else "",
        exclude_visit_id=visit.pk,
    )
    return slots[0].start if slots else None


def members_matching(*, account: Account, query: str, limit: int = 10) -> QuerySet[Member]:
    """Patients by name, by the start of their code, or by part of their phone (stored E.164): its last
    four digits, its area code, the local number or the whole. Code and phone terms are prefix or
    equality tests that the indexes on Member serve (see its Meta)."""
    query = query.strip()
    digits = "".join(ch for ch in query if ch.isdigit())
    terms = Q(code__startswith=query)
    if query.upper() != query:
        terms |= Q(code__startswith=query.upper())  # codes are mostly capitals: "p-10" finds P-1001
    members = Member.objects.for_account(account)
    phone_like = digits and all(ch.isdigit() or ch in " +-()." for ch in query)
    if not digits:
        # Names hold no digits: a number or a code is searched by index only (every branch of an OR
        # must be for the index to serve it).
        terms |= Q(first_name__icontains=query) | Q(last_name__icontains=query)
        parts = query.split()
        if len(parts) == 2:
            terms |= Q(first_name__icontains=parts[0], last_name__icontains=parts[1])
    elif phone_like and len(digits) == 3:
        terms |= Q(phone__startswith=f"+1{digits}")  # an area code
    elif phone_like and len(digits) >= 4:
        # The last four digits narrow by their index; longer input must end (or start) the number.
        members = members.annotate(phone_last4=Right("phone", 4))
        terms |= Q(phone_last4=digits[-4:], phone__endswith=digits)
        terms |= Q(phone__startswith=f"+1{digits}") | Q(phone__startswith=f"+{digits}")
    return members.filter(terms).order_by("last_name", "first_name", "pk")[:limit]


def _code_parts(pattern: str) -> tuple[str, int, str]:
    """'P-{seq:05d}' -> ('P-', 5, ''): the text before the number, its width (0: any), the text after."""
    before, rest = pattern.split("{seq", 1)
    spec, after = rest.split("}", 1)
    width = int(spec[2:-1]) if spec.startswith(":0") else 0
    return before, width, after


def next_patient_code(*, account: Account) -> str:
    """The next code of the clinic's pattern (`Account.patient_code_pattern`): one more than the highest
    code of that form, skipping codes another person of the clinic holds. A proposal: the booking form
    lets the desk change it, and creating the patient refuses a code taken meanwhile."""
    before, width, after = _code_parts(account.patient_code_pattern)
    shaped = rf"^{re.escape(before)}[0-9]+{re.escape(after)}$"
    highest = (
        Member.objects.for_account(account)
        .filter(code__startswith=before, code__regex=shaped)
        .order_by(Length("code").desc(), "-code")
        .values_list("code", flat=True)
        .first()
    )
    number = int(highest[len(before) : len(highest) - len(after)]) + 1 if highest else 1
    while True:
        code = f"{before}{number:0{width}d}{after}"
        taken = (
            Member.objects.for_account(account).filter(code=code).exists()
            or User.objects.filter(account=account, external_code=code).exists()
        )
        if not taken:
            return code
        number += 1


def possible_duplicates(
    *, account: Account, first_name: str, last_name: str, dob: dt.date | None, phone: str
) -> QuerySet[Member]:
    """Patients who may be the one about to be created: the same name and date of birth, or the same
    (normalised) phone."""
    same = Q(pk__in=[])
    if dob:
        same |= Q(first_name__iexact=first_name.strip(), last_name__iexact=last_name.strip(), dob=dob)
    if phone:
        same |= Q(phone=phone)
    return Member.objects.for_account(account).filter(same).order_by("last_name", "first_name", "pk")[:5]


def person_ids_of_providers(provider_ids: set[int]) -> dict[int, int]:
    """Each provider's person id (their user's id): what the API shows and provider_id takes."""
    if not provider_ids:
        return {}
    return dict(Provider.objects.filter(pk__in=provider_ids).values_list("pk", "user_id"))


def calendar_feed_of(*, user) -> CalendarFeed | None:
    """The provider's live feed (its secret is not known: only that it exists and since when)."""
    return CalendarFeed.objects.filter(provider__user=user, revoked__isnull=True).first()


def calendar_feed_contents(*, secret: str) -> tuple[Provider, list[Visit], list[VisitGroup]] | None:
    """What the feed of a live secret carries; None for an unknown or revoked one, or once the provider's
    user is deactivated (someone who left the clinic keeps no view of its calendar)."""
    feed = (
        CalendarFeed.objects.filter(
            secret_hash=feeds.secret_hash(secret), revoked__isnull=True, provider__user__is_active=True
        )
        .select_related("provider__user")
        .first()
    )
    if feed is None:
        return None
    now = timezone.now()
    lo, hi = now - feeds.PAST, now + feeds.FUTURE
    appointments = list(
        Visit.objects.appointments()
        .filter(provider=feed.provider, visit_group__isnull=True, start__gte=lo, start__lt=hi)
        .exclude(status=VisitStatus.CANCELLED)
        .select_related("room")
        .order_by("start", "pk")
    )
    groups = list(
        VisitGroup.objects.filter(provider=feed.provider, start__gte=lo, start__lt=hi)
        .select_related("room")
        .order_by("start", "pk")
    )
    return feed.provider, appointments, groups
