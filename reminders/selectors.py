import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils import formats, translation

from clinic.models import Room
from reminders.models import ReminderPlan
from reminders.schedule import Quiet
from visits.models import Visit


@dataclass(frozen=True)
class Plan:
    offsets: list[int]
    quiet: Quiet


def default_plan() -> Plan:
    return Plan(offsets=list(settings.REMINDER_OFFSETS), quiet=settings.REMINDER_QUIET_HOURS)


def plan_of(row: ReminderPlan) -> Plan:
    quiet = (row.quiet_start, row.quiet_end) if row.quiet_start and row.quiet_end else None
    return Plan(offsets=list(row.offsets), quiet=quiet)


def plans_for(rooms: Iterable[Room]) -> dict[int, Plan]:
    """Each room's plan (its own, else its clinic's, else the default), in one query."""
    rooms = list({room.pk: room for room in rooms}.values())
    rows = ReminderPlan.objects.filter(account_id__in={room.account_id for room in rooms})
    own = {row.room_id: row for row in rows if row.room_id}
    clinic = {row.account_id: row for row in rows if not row.room_id}
    found = {}
    for room in rooms:
        row = own.get(room.pk) or clinic.get(room.account_id)
        found[room.pk] = plan_of(row) if row else default_plan()
    return found


def appointment_when(visit: Visit, language: str = "") -> str:
    """The start as the patient reads it: in the room's zone, named, in their language."""
    local = visit.start.astimezone(visit.room.zone)
    with translation.override(language or None):
        return f"{formats.date_format(local, 'l j F Y')}, {local:%H:%M} {local.tzname()}"


def start_key(start: dt.datetime) -> int:
    return int(start.timestamp())


def link_object_id(visit: Visit) -> str:
    """What an appointment's links point at: the appointment at its present time (a moved appointment's
    old links no longer act on it)."""
    return f"{visit.pk}@{start_key(visit.start)}"


def link_appointment(*, obj_id: str, lock: bool = False) -> Visit | None:
    """The appointment of a link, read as its page shows it; None when it moved since the link was sent.
    `lock`: only its time is read, its row locked until the caller's transaction ends."""
    visit_id, _, start = obj_id.partition("@")
    visits = Visit.objects.appointments().filter(pk=int(visit_id))
    if lock:
        visits = visits.select_for_update().only("pk", "start")
    else:
        visits = visits.select_related(
            "account", "room", "member__user", "provider__user", "consultation", "intake"
        )
    visit = visits.first()
    if visit is None or visit.start is None or str(start_key(visit.start)) != start:
        return None
    return visit
