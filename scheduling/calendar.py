"""The front desk's calendar grid, built in plain Python from what `selectors.calendar_data` read: no
queries, no request, so that every rule of the grid is unit-tested and the template only places cells.

A grid has one row per slot step of local wall-clock time (the room's zone) and one column per provider
per day. Each column is a list of cells, top to bottom: a cell covers one row, or several when it holds
appointments (overlapping ones share one cell: a cancelled appointment and the one booked in its place).
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from visits.models import CloseReason, VisitStatus

STATUS_WORDS = {
    VisitStatus.WAITING: "booked",
    VisitStatus.IN_PROGRESS: "in progress",
    VisitStatus.COMPLETED: "completed",
    VisitStatus.CANCELLED: "cancelled",
}
DEFAULT_HOURS = (8, 18)  # shown when nobody works that day


@dataclass(slots=True)
class Block:
    visit_id: int
    time: str  # "10:00-10:15", with an en dash
    patient: str
    reason: str
    status: str  # words: "booked", "cancelled", ...
    css: str  # the status as a class name
    cancelled: bool
    cancel_note: str  # "Cancelled by Fran Desk: Ill"
    movable: bool  # booked and not yet started: may be moved
    undoable: bool = False  # cancelled moments ago and nothing booked over it: Undo is offered


@dataclass(slots=True)
class Cell:
    rows: int  # how many rows it covers
    kind: str  # "free" (bookable), "working" (hours, not free), "held", "off", or "booked" (holds blocks)
    start: int  # UNIX seconds of its first row
    label: str  # its first row's local time, "09:15"
    provider_id: int
    provider: str
    day_iso: str  # "2027-03-08"
    day_label: str  # "Mon 8 Mar"
    blocks: list[Block] = field(default_factory=list)
    note: str = ""  # said on the cell: "Held for the waitlist until 10:45"

    @property
    def bookable(self) -> bool:
        return self.kind == "free"


@dataclass(slots=True)
class Column:
    provider_id: int
    provider: str
    day: dt.date
    cells: list[Cell]


@dataclass(slots=True)
class Day:
    day: dt.date
    columns: list[Column]


@dataclass(slots=True)
class Row:
    time: str
    cells: list[Cell]  # the cells that start on this row, column by column


@dataclass(slots=True)
class Grid:
    days: list[Day]
    rows: list[Row]  # the same cells as the columns, row by row (as an HTML table lists them)
    step: int
    providers: int

    @property
    def columns(self) -> list[Column]:
        return [column for day in self.days for column in day.columns]


@dataclass(slots=True)
class Appointment:
    """The fields of a visit the grid shows, so that the builder takes plain values."""

    visit_id: int
    provider_id: int | None
    start: int
    end: int
    patient: str
    reason: str
    status: int
    cancelled_by: str = ""
    cancel_reason: str = ""
    confirmed: bool = False  # by the patient, through the link in a message
    undoable: bool = False  # cancelled within the undo window (services.cancellation_undoable)


def _local(ts: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, zone)


def _row_bounds(
    days: list[dt.date], zone, working: dict[int, list[tuple[int, int]]], appointments
) -> tuple[int, int]:
    """First and last minute of the day shown: whole hours around everybody's working time and every
    appointment, on any of the days."""
    first, last = None, None
    day_set = set(days)
    spans = [pair for pairs in working.values() for pair in pairs]
    spans += [(a.start, a.end) for a in appointments]
    for start, end in spans:
        local_start, local_end = _local(start, zone), _local(end - 1, zone)
        if local_start.date() not in day_set and local_end.date() not in day_set:
            continue
        start_minute = 0 if local_start.date() < local_end.date() else local_start.hour * 60
        end_minute = 24 * 60 if local_start.date() < local_end.date() else local_end.hour * 60 + 60
        first = start_minute if first is None else min(first, start_minute)
        last = end_minute if last is None else max(last, end_minute)
    if first is None:
        return DEFAULT_HOURS[0] * 60, DEFAULT_HOURS[1] * 60
    return first, last


def _overlaps(t: int, length: int, pairs: list[tuple[int, int]]) -> bool:
    return any(start < t + length and end > t for start, end in pairs)


def _block(a: Appointment, zone, now: int) -> Block:
    cancelled = a.status == VisitStatus.CANCELLED
    note = ""
    if cancelled:
        why = CloseReason(a.cancel_reason).label if a.cancel_reason in CloseReason.values else a.cancel_reason
        note = "Cancelled" + (f" by {a.cancelled_by}" if a.cancelled_by else "") + (f": {why}" if why else "")
    words = STATUS_WORDS[VisitStatus(a.status)]
    if a.confirmed and a.status == VisitStatus.WAITING:
        words = "confirmed"  # still booked, and the patient said they will come
    return Block(
        visit_id=a.visit_id,
        time=f"{_local(a.start, zone):%H:%M}\N{EN DASH}{_local(a.end, zone):%H:%M}",
        patient=a.patient,
        reason=a.reason,
        status=words,
        css=words.replace(" ", "-"),
        cancelled=cancelled,
        cancel_note=note,
        movable=a.status == VisitStatus.WAITING and a.start > now,
    )


def _offer_undo(blocks: list[Block], cluster: list[Appointment]) -> None:
    """Undo is offered on a cancelled appointment while its time is still free in its column (the
    booking service decides in the end: hours may have changed too)."""
    for block, a in zip(blocks, sorted(cluster, key=lambda a: a.start), strict=True):
        block.undoable = a.undoable and not any(
            other.status != VisitStatus.CANCELLED and other.start < a.end and other.end > a.start
            for other in cluster
        )


def build_grid(
    *,
    zone: zoneinfo.ZoneInfo,
    days: list[dt.date],
    step: int,
    providers: list[tuple[int, str]],
    working: dict[int, list[tuple[int, int]]],
    free: dict[int, set[int]],
    appointments: list[Appointment],
    now: int,
    held: dict[int, list[tuple[int, int, int]]] | None = None,
) -> Grid:
    """The grid of `days` for `providers` (id, name), in their order. `working`: each provider's hours
    minus time off; `free`: the slot starts each could be booked at (a free row is bookable); `held`:
    each provider's slots (start, end, expires) kept for the waitlist's offers, shown as such rather than
    as merely not free; rows step by `step` seconds of local time. Appointments without a provider are
    not placed (they have no column)."""
    held = held or {}
    first_minute, last_minute = _row_bounds(days, zone, working, appointments)
    minutes = list(range(first_minute, last_minute, step // 60))
    times = [f"{m // 60:02d}:{m % 60:02d}" for m in minutes]
    by_column: dict[tuple[int, dt.date], list[Appointment]] = {}
    for a in appointments:
        if a.provider_id is not None:
            by_column.setdefault((a.provider_id, _local(a.start, zone).date()), []).append(a)
    grid_days = []
    for day in days:
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        # Each row's instant, read on the local clock of that day (a DST day has its own).
        starts = [int((midnight + dt.timedelta(minutes=m)).timestamp()) for m in minutes]
        columns = []
        day_iso, day_label = day.isoformat(), f"{day:%a} {day.day} {day:%b}"
        for pid, name in providers:
            hours, open_at = working.get(pid, []), free.get(pid, set())
            placed = sorted(by_column.get((pid, day), []), key=lambda a: (a.start, a.visit_id))
            cells: list[Cell] = []
            row = 0
            while row < len(starts):
                t = starts[row]
                covering = [a for a in placed if a.start < t + step and a.end > t]
                if covering:
                    # One cell for the cluster of overlapping appointments from here on.
                    end = max(a.end for a in covering)
                    cluster = list(covering)
                    span = 1
                    while row + span < len(starts) and starts[row + span] < end:
                        more = [a for a in placed if a not in cluster and a.start < starts[row + span] + step]
                        if more:
                            cluster += more
                            end = max(end, *(a.end for a in more))
                        span += 1
                    blocks = [_block(a, zone, now) for a in sorted(cluster, key=lambda a: a.start)]
                    _offer_undo(blocks, cluster)
                    cells.append(Cell(span, "booked", t, times[row], pid, name, day_iso, day_label, blocks))
                    placed = [a for a in placed if a not in cluster]
                    row += span
                    continue
                hold = next((h for h in held.get(pid, ()) if h[0] < t + step and h[1] > t), None)
                note = ""
                if t in open_at:
                    kind = "free"
                elif hold is not None:
                    kind = "held"
                    # Said once, on the hold's first row: "until" is when its offers run out.
                    if not (row and starts[row - 1] + step > hold[0]):
                        note = f"Held for the waitlist until {_local(hold[2], zone):%H:%M}"
                elif _overlaps(t, step, hours):
                    kind = "working"
                else:
                    kind = "off"
                cells.append(Cell(1, kind, t, times[row], pid, name, day_iso, day_label, note=note))
                row += 1
            columns.append(Column(pid, name, day, cells))
        grid_days.append(Day(day, columns))
    rows = [Row(time, []) for time in times]
    for grid_day in grid_days:
        for column in grid_day.columns:
            row = 0
            for cell in column.cells:
                rows[row].cells.append(cell)
                row += cell.rows
    return Grid(grid_days, rows, step, len(providers))
