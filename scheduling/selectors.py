"""Reads of the scheduling app: free slots (a fixed number of queries whatever the span), day schedules."""

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connections
from django.db.models import BigIntegerField, DateField, Func, Q, QuerySet, Value
from django.utils import timezone

from clinic.errors import InvalidInput, NotFound
from clinic.models import Account, Consultation, Member, Provider, Room
from clinic.selectors import room_get
from scheduling import intervals
from scheduling.models import ScheduleException, WorkingHours
from visits.models import ACTIVE_STATUSES, Intake, Visit, VisitGroup, VisitStatus, VisitType
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


class Epoch(Func):
    """UNIX seconds, computed by the database: parsing thousands of timestamps in Python is the cost."""

    output_field = BigIntegerField()
    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS bigint)"

    def as_sqlite(self, compiler, connection, **extra):
        # '%%%%s' survives both the template and the sqlite backend's placeholder rewriting as '%s'.
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS integer)"
        )


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
    rules: list = field(default_factory=list)  # (weekday, start, end)
    exceptions: list = field(default_factory=list)  # (kind, start_date, end_date, start, end)
    held: list = field(default_factory=list)  # intervals a new slot may not start in


def _fetch(
    *, room: Room, provider_id, location: str, lo: int, hi: int, exclude_visit_id=None
) -> dict[int, _Provider]:
    """Two queries, whatever the span or the number of providers: their hours, and their held time."""
    providers = Provider.objects.for_account(room.account_id).in_room(room)
    if provider_id:
        providers = providers.filter(pk=provider_id)
    if location:
        providers = providers.licensed_in(location)
    chosen = providers.values("pk")

    # Weekly rules and dated exceptions in one UNION; dates are wall-clock in each provider's zone, so two
    # days of margin cover every offset.
    first_day = dt.datetime.fromtimestamp(lo, dt.UTC).date() - dt.timedelta(days=2)
    last_day = dt.datetime.fromtimestamp(hi, dt.UTC).date() + dt.timedelta(days=2)
    no_date = Value(None, output_field=DateField())
    # Parts of a UNION carry no ORDER BY (SQLite refuses it): hence the bare order_by() calls.
    rules = (
        WorkingHours.objects.filter(room=room, provider__in=chosen)
        .order_by()
        .values_list(
            "provider_id",
            "provider__time_zone",
            Value(WEEKLY),
            "weekday",
            no_date,
            no_date,
            "start_time",
            "end_time",
        )
    )
    exceptions = (
        ScheduleException.objects.filter(
            Q(room=room) | Q(room__isnull=True, kind=ScheduleException.Kind.TIME_OFF),
            provider__in=chosen,
            start_date__lte=last_day,
            end_date__gte=first_day,
        )
        .order_by()
        .values_list(
            "provider_id",
            "provider__time_zone",
            "kind",
            Value(-1),
            "start_date",
            "end_date",
            "start_time",
            "end_time",
        )
    )
    found: dict[int, _Provider] = {}
    for pid, zone, kind, weekday, start_date, end_date, start, end in rules.union(exceptions, all=True):
        provider = found.get(pid) or found.setdefault(pid, _Provider(zone))
        if kind == WEEKLY:
            provider.rules.append((weekday, start, end))
        else:
            provider.exceptions.append((kind, start_date, end_date, start, end))
    if not found:
        return found

    # A new slot's busy range [t - before, t + length + after) must miss every held range: so each held
    # range [s, e) forbids slot times in [s - after, e + before).
    before, after = room.buffer_before, room.buffer_after
    window_lo = dt.datetime.fromtimestamp(lo - before - after, dt.UTC)
    window_hi = dt.datetime.fromtimestamp(hi + before + after, dt.UTC)
    ids = list(found)
    booked = Visit.objects.filter(
        provider_id__in=ids,
        type=VisitType.SCHEDULED,
        status__in=ACTIVE_STATUSES,
        visit_group__isnull=True,
        busy_start__lt=window_hi,
        busy_end__gt=window_lo,
    )
    if exclude_visit_id:
        booked = booked.exclude(pk=exclude_visit_id)
    groups = VisitGroup.objects.filter(provider_id__in=ids, start__lt=window_hi, end__gt=window_lo).order_by()
    held = (
        booked.order_by()
        .values_list("provider_id", Epoch("busy_start"), Epoch("busy_end"))
        .union(
            groups.values_list("provider_id", Epoch("start"), Epoch("end")),
            all=True,
        )
    )
    for pid, start, end in _raw_rows(held):
        found[pid].held.append((start - after, end + before))
    return found


def _raw_rows(queryset) -> list[tuple]:
    """Rows straight from the cursor: thousands of bookings, and the ORM's per-row work would dominate."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _free_intervals(provider: _Provider, lo: int, hi: int) -> list[intervals.Interval]:
    zone = zoneinfo.ZoneInfo(provider.zone)
    days = intervals.local_days(lo, hi, zone)
    working = intervals.weekly_windows(provider.rules, days, zone)
    cuts = list(provider.held)
    for kind, start_date, end_date, start, end in provider.exceptions:
        windows = intervals.dated_windows(start_date, end_date, start, end, days, zone)
        (cuts if kind == ScheduleException.Kind.TIME_OFF else working).extend(windows)
    return intervals.subtract(intervals.merge(working), intervals.merge(cuts))


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
) -> list[Slot]:
    """Free slots of the room's providers, sorted by start; each lists the providers free for it.

    Not offered: booked or group-held time (buffers included), the past and the room's minimum notice,
    anything outside a provider's hours in this room, time off. `exclude_visit_id` ignores one booking
    (the one being rescheduled).
    """
    if not room.appointments_enabled or not room.is_open:
        return []
    lo, hi, span = time_range(start=start, end=end, duration=duration)
    earliest = _ts(now or timezone.now()) + room.min_notice
    fetch_lo, fetch_hi = (lo, hi) if lo is not None else (earliest, earliest + SEARCH_HORIZON + span)
    if fetch_hi <= earliest:
        return []
    providers = _fetch(
        room=room,
        provider_id=provider_id,
        location=location,
        lo=max(fetch_lo, earliest),
        hi=fetch_hi,
        exclude_visit_id=exclude_visit_id,
    )
    grid = intervals.Grid(room.slot_interval or slot_length, room.zone)
    free = {
        pid: _free_intervals(providers[pid], max(fetch_lo, earliest), fetch_hi) for pid in sorted(providers)
    }
    if lo is None:
        firsts = [
            t
            for f in free.values()
            if (t := grid.first_start(f, slot_length, earliest, fetch_hi)) is not None
        ]
        if not firsts:
            return []
        lo = min(firsts)
        hi = lo + span
    by_start: defaultdict[int, list[int]] = defaultdict(list)
    for pid, intervals_free in free.items():
        for t in grid.starts(intervals_free, slot_length, max(lo, earliest), hi):
            by_start[t].append(pid)
    return [Slot(t, t + slot_length, by_start[t]) for t in sorted(by_start)]


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
    if room_code:
        room = room_get(account=account, code=room_code)
    elif intake is not None:
        room = intake.room
    else:
        rooms = list(Room.objects.for_account(account)[:2])
        if len(rooms) != 1:
            raise InvalidInput.field("room_code", "This clinic has several rooms: say which.")
        room = rooms[0]
    if consultation_id:
        consultation = consultation_of_room(room=room, consultation_id=consultation_id)
    elif intake is not None and intake.consultation and intake.consultation.room_id == room.pk:
        consultation = intake.consultation
    else:
        consultation = None
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
