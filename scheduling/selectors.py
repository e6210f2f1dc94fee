"""Reads of the scheduling app: free slots (a fixed number of queries whatever the span), day schedules."""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.db.models import Q, QuerySet
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


@dataclass(slots=True)
class _Data:
    providers: list[tuple[int, str]]
    rules: dict[int, list[tuple[int, dt.time, dt.time]]]
    exceptions: dict[int, list[ScheduleException]]
    blocked: dict[int, list[intervals.Interval]]


def _fetch(*, room: Room, provider_id, location: str, lo: int, hi: int, exclude_visit_id=None) -> _Data:
    """Five queries, whatever the span or the number of providers."""
    providers = Provider.objects.for_account(room.account_id).in_room(room)
    if provider_id:
        providers = providers.filter(pk=provider_id)
    if location:
        providers = providers.licensed_in(location)
    provider_rows = list(providers.order_by("pk").values_list("pk", "time_zone"))
    ids = [pk for pk, _ in provider_rows]
    rules: dict[int, list] = {pk: [] for pk in ids}
    exceptions: dict[int, list] = {pk: [] for pk in ids}
    blocked: dict[int, list] = {pk: [] for pk in ids}
    if not ids:
        return _Data(provider_rows, rules, exceptions, blocked)

    for pid, weekday, start, end in WorkingHours.objects.filter(room=room, provider_id__in=ids).values_list(
        "provider_id", "weekday", "start_time", "end_time"
    ):
        rules[pid].append((weekday, start, end))

    # Dates are wall-clock in each provider's zone: two days of margin cover every offset.
    first_day = dt.datetime.fromtimestamp(lo, dt.UTC).date() - dt.timedelta(days=2)
    last_day = dt.datetime.fromtimestamp(hi, dt.UTC).date() + dt.timedelta(days=2)
    for exc in ScheduleException.objects.filter(
        Q(room=room) | Q(room__isnull=True, kind=ScheduleException.Kind.TIME_OFF),
        provider_id__in=ids,
        start_date__lte=last_day,
        end_date__gte=first_day,
    ).only("provider_id", "kind", "start_date", "end_date", "start_time", "end_time"):
        exceptions[exc.provider_id].append(exc)

    # A new slot's busy range [t - before, t + length + after) must miss every held range: so each held
    # range [s, e) forbids slot times in [s - after, e + before).
    before, after = room.buffer_before, room.buffer_after
    window_lo = dt.datetime.fromtimestamp(lo - before - after, dt.UTC)
    window_hi = dt.datetime.fromtimestamp(hi + before + after, dt.UTC)
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
    for pid, start, end in booked.values_list("provider_id", "busy_start", "busy_end"):
        blocked[pid].append((_ts(start) - after, _ts(end) + before))
    for pid, start, end in VisitGroup.objects.filter(
        provider_id__in=ids, start__lt=window_hi, end__gt=window_lo
    ).values_list("provider_id", "start", "end"):
        blocked[pid].append((_ts(start) - after, _ts(end) + before))
    return _Data(provider_rows, rules, exceptions, blocked)


def _free_intervals(data: _Data, pid: int, zone_name: str, lo: int, hi: int) -> list[intervals.Interval]:
    zone = zoneinfo.ZoneInfo(zone_name)
    days = intervals.local_days(lo, hi, zone)
    working = intervals.weekly_windows(data.rules[pid], days, zone)
    cuts = list(data.blocked[pid])
    for exc in data.exceptions[pid]:
        windows = intervals.dated_windows(
            exc.start_date, exc.end_date, exc.start_time, exc.end_time, days, zone
        )
        (cuts if exc.kind == ScheduleException.Kind.TIME_OFF else working).extend(windows)
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
    data = _fetch(
        room=room,
        provider_id=provider_id,
        location=location,
        lo=max(fetch_lo, earliest),
        hi=fetch_hi,
        exclude_visit_id=exclude_visit_id,
    )
    room_zone = room.zone
    step = room.slot_interval or slot_length
    free = {
        pid: _free_intervals(data, pid, zone_name, max(fetch_lo, earliest), fetch_hi)
        for pid, zone_name in data.providers
    }
    if lo is None:
        firsts = [
            t
            for f in free.values()
            if (t := intervals.first_start(f, slot_length, step, earliest, fetch_hi, room_zone)) is not None
        ]
        if not firsts:
            return []
        lo = min(firsts)
        hi = lo + span
    by_start: dict[int, list[int]] = {}
    for pid, _ in data.providers:
        for t in intervals.aligned_starts(free[pid], slot_length, step, max(lo, earliest), hi, room_zone):
            by_start.setdefault(t, []).append(pid)
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
