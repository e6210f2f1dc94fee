"""Wait-time figures for the clinic admin: how long patients waited from joining the queue to being
accepted, per room (median and 90th percentile)."""

import datetime as dt
import statistics
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)

from visits.formatting import format_duration
from visits.models import QUEUE_TYPES, Visit, VisitEvent, VisitStatus, status_words


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: percentile_cont(q) WITHIN GROUP (ORDER BY expr)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _first_event_at(**conditions) -> Subquery:
    return Subquery(
        VisitEvent.objects.filter(visit=OuterRef("pk"), **conditions)
        .order_by("created", "id")
        .values("created")[:1]
    )


def with_wait(visits: QuerySet[Visit]) -> QuerySet[Visit]:
    """Annotate `waited`: from the created event to the first in-progress event (null if never)."""
    return visits.annotate(
        queued_at=_first_event_at(from_status__isnull=True),
        started_at=_first_event_at(to_status=VisitStatus.IN_PROGRESS),
    ).annotate(waited=ExpressionWrapper(F("started_at") - F("queued_at"), output_field=DurationField()))


def percentile_cont(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks: the same figure as PostgreSQL's percentile_cont."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class RoomWait:
    room_code: str
    room_name: str
    visits: int
    median: dt.timedelta | None
    p90: dt.timedelta | None
    left_unseen: int = 0

    @property
    def median_display(self) -> str:
        return format_duration(self.median)

    @property
    def p90_display(self) -> str:
        return format_duration(self.p90)


# Walk-ins and e-consults that ended without anyone seeing them: timed out, or the patient left.
LEFT_UNSEEN = Q(
    type__in=QUEUE_TYPES,
    status=VisitStatus.CANCELLED,
    actual_start__isnull=True,
    close_reason__in=("max_waiting_time_reached", "patient_exit_room"),
)


def with_left_unseen(stats: list[RoomWait], visits: QuerySet[Visit]) -> list[RoomWait]:
    """Beside the waits of those accepted, how many of each room's patients left without being seen
    (a median of the accepted alone would hide the ones who gave up)."""
    counts = (
        visits.order_by()
        .filter(LEFT_UNSEEN)
        .values("room__code", "room__name")
        .annotate(n=Count("pk"))
        .values_list("room__code", "room__name", "n")
    )
    by_code = {row.room_code: row for row in stats}
    for code, name, n in counts:
        if code in by_code:
            by_code[code].left_unseen = n
        else:
            by_code[code] = RoomWait(
                room_code=code, room_name=name, visits=0, median=None, p90=None, left_unseen=n
            )
    return sorted(by_code.values(), key=lambda row: row.room_code)


def wait_stats(visits: QuerySet[Visit]) -> list[RoomWait]:
    """Median and 90th percentile wait by room for the walk-ins and e-consults of `visits` that were
    accepted. In the database on PostgreSQL; in Python elsewhere (SQLite has no percentile_cont)."""
    waited = with_wait(visits.order_by().filter(type__in=QUEUE_TYPES)).filter(
        started_at__isnull=False, queued_at__isnull=False
    )
    if connection.vendor == "postgresql":
        rows = (
            waited.values("room__code", "room__name")
            .annotate(
                n=Count("pk"),
                median=PercentileCont(F("waited"), 0.5, output_field=DurationField()),
                p90=PercentileCont(F("waited"), 0.9, output_field=DurationField()),
            )
            .order_by("room__code")
        )
        return [
            RoomWait(
                room_code=r["room__code"],
                room_name=r["room__name"],
                visits=r["n"],
                median=r["median"],
                p90=r["p90"],
            )
            for r in rows
        ]
    return wait_stats_in_python(waited)


def wait_stats_in_python(waited: QuerySet[Visit]) -> list[RoomWait]:
    by_room: dict[tuple[str, str], list[float]] = {}
    for code, name, queued, started in waited.values_list(
        "room__code", "room__name", "queued_at", "started_at"
    ):
        by_room.setdefault((code, name), []).append(
            (_as_datetime(started) - _as_datetime(queued)).total_seconds()
        )
    return [
        RoomWait(
            room_code=code,
            room_name=name,
            visits=len(values),
            median=dt.timedelta(seconds=statistics.median(values)),
            p90=dt.timedelta(seconds=percentile_cont(values, 0.9)),
        )
        for (code, name), values in sorted(by_room.items())
    ]


def _as_datetime(value) -> dt.datetime:
    # SQLite hands subquery annotations back as strings.
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def row_wait(visit: Visit, *, now: dt.datetime | None = None) -> dt.timedelta | None:
    """The wait of one row of a `with_wait` queryset (SQLite returns the subqueries as strings); for a
    patient still waiting, the wait so far."""
    if visit.type not in QUEUE_TYPES or not visit.queued_at:
        return None
    if not visit.started_at:
        return (now - _as_datetime(visit.queued_at)) if now and visit.status == VisitStatus.WAITING else None
    return _as_datetime(visit.started_at) - _as_datetime(visit.queued_at)


def status_counts(visits: QuerySet[Visit]) -> list[tuple[str, str, int]]:
    """(status_name, the status in words, how many) for each status."""
    counts = dict(visits.order_by().values_list("status").annotate(n=Count("pk")))
    return [(VisitStatus(s).label, status_words(s), counts.get(s, 0)) for s in VisitStatus.values]
