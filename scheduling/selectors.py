"""Reads of the scheduling app: free slots (a fixed number of queries whatever the span), day schedules."""

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from operator import itemgetter

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.errors import InvalidInput, NotFound
from clinic.models import Account, Consultation, Member, Provider, Room
from clinic.selectors import room_get
from scheduling import intervals
from scheduling.models import ScheduleException, WorkingHours
from visits.models import ACTIVE_STATUSES, Intake, Visit, VisitStatus, VisitType
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


WEEKLY = "week"


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
    WHERE p.account_id = %s AND pr.room_id = %s{one}{licensed})"""

# Weekly rules and dated exceptions of the chosen providers in this room; time off without a room counts
# in every room. Ordered so that providers with the same hours list them alike.
HOURS_SQL = """WITH {chosen}
SELECT w.provider_id, c.time_zone, 'week', w.weekday, NULL, NULL, w.start_time, w.end_time
FROM scheduling_workinghours w JOIN chosen c ON c.id = w.provider_id
WHERE w.room_id = %s
UNION ALL
SELECT e.provider_id, c.time_zone, e.kind, -1, e.start_date, e.end_date, e.start_time, e.end_time
FROM scheduling_scheduleexception e JOIN chosen c ON c.id = e.provider_id
WHERE (e.room_id = %s OR (e.room_id IS NULL AND e.kind = %s)) AND e.start_date <= %s AND e.end_date >= %s
ORDER BY 1, 4, 7, 8"""

# Time the providers found with hours are held, in any room: active appointments and group visits, as
# the slot times they forbid (see _fetch). Unordered: sorting in Python is cheaper than an ORDER BY here.
# The last part: this room's TBD appointments (no provider yet), as their busy ranges, with a NULL provider.
HELD_SQL = """SELECT v.provider_id, {busy_start} - %s, {busy_end} + %s
FROM visits_visit v
WHERE v.provider_id IN ({ids}) AND v.type = %s AND v.status IN ({statuses}) AND v.visit_group_id IS NULL
    AND v.busy_start < %s AND v.busy_end > %s{exclude}
UNION ALL
SELECT g.provider_id, {group_start} - %s, {group_end} + %s
FROM visits_visitgroup g
WHERE g.provider_id IN ({ids}) AND g.start < %s AND g."end" > %s
UNION ALL
SELECT NULL, {busy_start}, {busy_end}
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


def _fetch(
    *, room: Room, provider_id, location: str, lo: int, hi: int, exclude_visit_id=None
) -> tuple[dict[int, _Provider], list[tuple]]:
    """Two queries, whatever the span or the number of providers: their hours, and their held time with
    the room's TBD appointments (returned apart, as (None, busy start, busy end) rows)."""
    chosen = CHOSEN_SQL.format(
        one=" AND p.id = %s" if provider_id else "",
        licensed=" AND p.id IN (SELECT provider_id FROM clinic_providerlicense WHERE state = %s)"
        if location
        else "",
    )
    chosen_params = [room.account_id, room.pk]
    if provider_id:
        chosen_params.append(provider_id)
    if location:
        chosen_params.append(location)
    ops = connection.ops

    # Dates are wall-clock in each provider's zone, so two days of margin cover every offset.
    first_day = dt.datetime.fromtimestamp(lo, dt.UTC).date() - dt.timedelta(days=2)
    last_day = dt.datetime.fromtimestamp(hi, dt.UTC).date() + dt.timedelta(days=2)
    hours = _rows(
        HOURS_SQL.format(chosen=chosen),
        [
            *chosen_params,
            room.pk,
            room.pk,
            ScheduleException.Kind.TIME_OFF.value,
            ops.adapt_datefield_value(last_day),
            ops.adapt_datefield_value(first_day),
        ],
    )
    found: dict[int, _Provider] = {}
    for pid, zone, kind, weekday, start_date, end_date, start, end in hours:
        provider = found.get(pid) or found.setdefault(pid, _Provider(zone))
        if kind == WEEKLY:
            provider.rules.append((weekday, _time(start), _time(end)))
        else:
            provider.exceptions.append((kind, _date(start_date), _date(end_date), _time(start), _time(end)))
    if not found:
        return found, []

    # A new slot's busy range [t - before, t + length + after) must miss every held range: so each held
    # range [s, e) forbids slot times in [s - after, e + before).
    before, after = room.buffer_before, room.buffer_after
    window_lo = ops.adapt_datetimefield_value(dt.datetime.fromtimestamp(lo - before - after, dt.UTC))
    window_hi = ops.adapt_datetimefield_value(dt.datetime.fromtimestamp(hi + before + after, dt.UTC))
    ids = list(found)
    held = _rows(
        HELD_SQL.format(
            ids=", ".join(["%s"] * len(ids)),
            busy_start=_epoch("v.busy_start"),
            busy_end=_epoch("v.busy_end"),
            statuses=", ".join(["%s"] * len(ACTIVE_STATUSES)),
            exclude=" AND v.id <> %s" if exclude_visit_id else "",
            group_start=_epoch("g.start"),
            group_end=_epoch('g."end"'),
        ),
        [
            after,
            before,
            *ids,
            VisitType.SCHEDULED.value,
            *(status.value for status in ACTIVE_STATUSES),
            window_hi,
            window_lo,
            *([exclude_visit_id] if exclude_visit_id else []),
            after,
            before,
            *ids,
            window_hi,
            window_lo,
            room.pk,
            VisitType.SCHEDULED.value,
            *(status.value for status in ACTIVE_STATUSES),
            window_hi,
            window_lo,
            *([exclude_visit_id] if exclude_visit_id else []),
        ],
    )
    # Rows kept as they come, (provider, start, end), and sorted by start: building a tuple per row and
    # sorting by whole tuples cost three times as much.
    held_of = {pid: provider.held for pid, provider in found.items()}
    held_of[None] = tbd = []
    for row in held:
        held_of[row[0]].append(row)
    for rows in held_of.values():
        rows.sort(key=_START)
    return found, tbd


def _free_intervals(provider: _Provider, lo: int, hi: int, memo: dict) -> list[intervals.Interval]:
    """Hours plus extra hours, minus time off, minus held time.

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
    return intervals.subtract(working, provider.held)


def _zone_days(name: str, lo: int, hi: int) -> tuple[zoneinfo.ZoneInfo, list[dt.date]]:
    zone = zoneinfo.ZoneInfo(name)
    return zone, intervals.local_days(lo, hi, zone)


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
    """Free slots of the room's providers, sorted by start; each lists the providers free for it.

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
    providers, tbd = _fetch(provider_id=provider_id, **window)
    if not count_tbd:
        tbd = []
    only = None
    if tbd and provider_id:
        # A TBD appointment may take any of the providers: counting what is left needs all of them.
        only = int(provider_id)
        providers, tbd = _fetch(provider_id=None, **window)
    grid = intervals.Grid(room.slot_interval or slot_length, room.zone)
    memo: dict = {}
    free = {pid: _free_intervals(providers[pid], window["lo"], fetch_hi, memo) for pid in sorted(providers)}
    before, after = room.buffer_before, room.buffer_after

    def slots_between(first: int, last_end: int) -> list[Slot]:
        by_start: defaultdict[int, list[int]] = defaultdict(list)
        for pid, intervals_free in free.items():
            for t in grid.starts(intervals_free, slot_length, first, last_end):
                by_start[t].append(pid)
        slots = []
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
            slots.append(Slot(t, t + slot_length, pids))
        return slots

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
    """GET /availability: resolve the room, slot length and licence state, then `free_slots`.

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
    consultation = None
    if room_code and consultation_id:
        # The usual call names both: one query for the two. On a miss, the steps below say which is wrong.
        consultation = (
            Consultation.objects.select_related("room")
            .filter(room__account=account, room__code=room_code, pk=consultation_id, active=True)
            .first()
        )
    if consultation is not None:
        room = consultation.room
    elif room_code:
        room = room_get(account=account, code=room_code)
    elif intake is not None:
        room = intake.room
    else:
        rooms = list(Room.objects.for_account(account)[:2])
        if len(rooms) != 1:
            raise InvalidInput.field("room_code", "This clinic has several rooms: say which.")
        room = rooms[0]
    if consultation is None and consultation_id:
        consultation = consultation_of_room(room=room, consultation_id=consultation_id)
    elif consultation is None and intake and intake.consultation and intake.consultation.room_id == room.pk:
        consultation = intake.consultation
    if consultation is not None and consultation.is_group:
        raise InvalidInput.field(
            "consultation_id", "Group consultations are booked through their group visits."
        )
    slot_length = consultation.duration if consultation else default_slot_length(room)
    if not location and intake is not None:
        location = intake.location
    return free_slots(
        room=room,
        slot_length=slot_length,
        start=start,
        end=end,
        duration=duration,
        provider_id=provider_id,
        location=location,
    )


def members_matching(*, account: Account, query: str, limit: int = 10) -> QuerySet[Member]:
    """Patients by name, code or phone (four or more digits match inside the stored E.164 number)."""
    query = query.strip()
    digits = "".join(ch for ch in query if ch.isdigit())
    terms = Q(code__iexact=query) | Q(first_name__icontains=query) | Q(last_name__icontains=query)
    parts = query.split()
    if len(parts) == 2:
        terms |= Q(first_name__icontains=parts[0], last_name__icontains=parts[1])
    if len(digits) >= 4:
        terms |= Q(phone__contains=digits)
    return Member.objects.for_account(account).filter(terms).order_by("last_name", "first_name")[:limit]


def person_ids_of_providers(provider_ids: set[int]) -> dict[int, int]:
    """Each provider's person id (their user's id): what the API shows and provider_id takes."""
    if not provider_ids:
        return {}
    return dict(Provider.objects.filter(pk__in=provider_ids).values_list("pk", "user_id"))
