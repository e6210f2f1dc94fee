"""Telling patients about their appointments: the confirmation with a calendar invite when one is booked,
moved or cancelled, and the reminders before it, each with signed single-use links (confirm, cancel,
reschedule) that expire at the appointment's start.

An appointment change (`visits.lifecycle.appointment_changed`) enqueues `appointment_sync` after commit: it
compares the appointment with what the patient was last told (`AppointmentNotice`), sends what differs
and plans the reminders anew. The beat's sweep sends the reminders that are due, and messaging's send-time
check drops any whose appointment was cancelled or moved meanwhile. Messages go through
`messaging.services`, so consent, the patient's language and "once per dedupe key" hold here too.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from clinic import audit
from messaging.links import LinkRequest, links_issue
from messaging.models import Message
from messaging.services import Outgoing, messages_send
from reminders import invites
from reminders.models import AppointmentNotice, ScheduledReminder
from reminders.schedule import reminders_plan
from reminders.selectors import appointment_when, link_object_id, plans_for, start_key
from visits.models import Visit, VisitStatus, VisitType

BOOKED, MOVED, CANCELLED, REMINDER = (
    "appointment_booked",
    "appointment_rescheduled",
    "appointment_cancelled",
    "appointment_reminder",
)
LINK_PURPOSES = ("appointment_confirm", "appointment_cancel", "appointment_reschedule")
SWEEP_BATCH = 2000
# The catch-up looks at appointments changed this long ago at least (their task has had its chance) and
# at most (a lost task is recent; an appointment booked before reminders existed is left alone).
CATCH_UP_GRACE = dt.timedelta(minutes=2)
CATCH_UP_WINDOW = dt.timedelta(hours=24)
_RELATED = ("account", "room", "member", "provider__user", "consultation")


def invite_key(visit_id: int, sequence: int) -> str:
    return f"appointment:{visit_id}:invite:{sequence}"


def reminder_key(visit_id: int, offset: int, start: dt.datetime) -> str:
    return f"appointment:{visit_id}:reminder:{offset}:{start_key(start)}"


def _context(visit: Visit, links: dict[str, str] | None) -> dict:
    """What the templates may say: the first name, the time, where; never the reason for the visit."""
    context = {
        "first_name": visit.member.first_name,
        "clinic": visit.account.name,
        "room": visit.room.name,
        "provider": visit.provider.display_name if visit.provider_id else "",
        "when": appointment_when(visit, visit.member.language),
        "minutes": int((visit.end - visit.start).total_seconds() // 60),
        "video_link": visit.meeting_link("patient") or "",
    }
    for purpose, path in (links or {}).items():
        context[purpose.removeprefix("appointment_") + "_url"] = settings.PUBLIC_URL + path
    return context


def _links_for(visits: Sequence[Visit]) -> list[dict[str, str]]:
    """Confirm, cancel and reschedule links of each appointment, expiring at its start: one insert."""
    requests = [
        LinkRequest(purpose=purpose, obj_id=link_object_id(visit), expires_at=visit.start)
        for visit in visits
        for purpose in LINK_PURPOSES
    ]
    paths = iter(links_issue(requests=requests))
    return [{purpose: next(paths) for purpose in LINK_PURPOSES} for _ in visits]


def _reminders_replan(visit: Visit, *, now: dt.datetime) -> None:
    ScheduledReminder.objects.filter(visit=visit, done_at__isnull=True).delete()
    if visit.status != VisitStatus.WAITING or visit.start <= now:
        return
    plan = plans_for([visit.room])[visit.room_id]
    planned = reminders_plan(
        start=visit.start, offsets=plan.offsets, zone=visit.room.zone, quiet=plan.quiet, told_at=now
    )
    ScheduledReminder.objects.bulk_create(
        [
            ScheduledReminder(
                account_id=visit.account_id,
                visit=visit,
                offset=p.offset,
                start=visit.start,
                send_at=p.send_at,
                not_after=p.not_after,
            )
            for p in planned
        ],
        ignore_conflicts=True,  # a reminder of this time already sent stays sent
    )


@transaction.atomic
def appointment_sync(*, visit_id: int) -> str:
    """Tell the patient what changed about the appointment since they were last told, and plan its
    reminders; returns what was done. Running it again changes nothing (idempotent)."""
    # The appointment's row locked: two syncs of one appointment (a retried task) take turns.
    visit = (
        Visit.objects.select_related(*_RELATED)
        .select_for_update(of=("self",))
        .filter(pk=visit_id, type=VisitType.SCHEDULED)
        .first()
    )
    if visit is None or visit.start is None or visit.end is None:
        return "no appointment"
    notice = AppointmentNotice.objects.select_for_update().filter(visit_id=visit_id).first()
    now = timezone.now()
    upcoming = visit.start > now
    if visit.status == VisitStatus.WAITING:
        if notice and not notice.cancelled and (notice.start, notice.end) == (visit.start, visit.end):
            return "unchanged"
        kind, method = (BOOKED if notice is None else MOVED), invites.REQUEST
    elif visit.status == VisitStatus.CANCELLED and notice and not notice.cancelled:
        kind, method = CANCELLED, invites.CANCEL
    else:
        # Started or ended (or cancelled before the patient heard of it): nothing more to remind of.
        ScheduledReminder.objects.filter(visit=visit, done_at__isnull=True).delete()
        return "nothing to tell"
    sequence = 0 if notice is None else notice.sequence + 1
    AppointmentNotice.objects.update_or_create(
        visit=visit,
        defaults={
            "sequence": sequence,
            "start": visit.start,
            "end": visit.end,
            "cancelled": kind == CANCELLED,
            "updated": now,
        },
    )
    _reminders_replan(visit, now=now)
    if visit.member is None or not upcoming:
        return "nothing to tell"
    links = _links_for([visit])[0] if kind != CANCELLED else None
    summary = f"Appointment at {visit.account.name}"
    attachment = invites.invite_attachment(
        visit=visit, sequence=sequence, method=method, summary=summary, to_email=visit.member.email
    )
    [message] = messages_send(
        account=visit.account,
        outgoing=[
            Outgoing(
                patient=visit.member,
                kind=kind,
                context=_context(visit, links),
                dedupe_key=invite_key(visit.pk, sequence),
                attachments=[attachment],
            )
        ],
    )
    audit.audit_record(audit.SYSTEM, audit.Action.READ, visit, detail=f"Patient told: {kind}")
    return kind if message else f"{kind} not sent"


def appointments_catch_up(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Tell patients of the changes whose task was lost (a broker down at commit: `enqueue_on_commit` logs
    and goes on): upcoming appointments changed lately whose patient was told something else. Returns how
    many were synced."""
    now = now or timezone.now()
    told = AppointmentNotice.objects.filter(visit=OuterRef("pk"))
    told_as_is = told.filter(start=OuterRef("start"), end=OuterRef("end"), cancelled=False)
    untold = (
        Visit.objects.appointments()
        .filter(start__gt=now, modified__gte=now - CATCH_UP_WINDOW, modified__lt=now - CATCH_UP_GRACE)
        .filter(
            Q(status=VisitStatus.WAITING, member__isnull=False) & ~Exists(told_as_is)
            | Q(status=VisitStatus.CANCELLED) & Exists(told.filter(cancelled=False))
        )
    )
    visit_ids = list(untold.order_by("modified").values_list("pk", flat=True)[:limit])
    for visit_id in visit_ids:
        appointment_sync(visit_id=visit_id)
    return len(visit_ids)


def reminders_sweep(*, now: dt.datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Send the reminders that are due (beat, every minute); returns how many messages were written. Two
    sweeps at once take different rows (SKIP LOCKED), and a message is written once per dedupe key."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            ScheduledReminder.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(done_at__isnull=True, send_at__lte=now)
            .select_related(*(f"visit__{name}" for name in _RELATED))
            .order_by("send_at")[:batch]
        )
        if not due:
            return 0
        ScheduledReminder.objects.filter(pk__in=[r.pk for r in due]).update(done_at=now)
        # Re-checked now: cancelled, started or moved since it was planned, or past its time, it goes unsent.
        wanted = [
            r
            for r in due
            if r.not_after > now
            and r.visit.status == VisitStatus.WAITING
            and r.visit.start == r.start
            and r.visit.member_id
        ]
        links = _links_for([r.visit for r in wanted])
        by_account = defaultdict(list)
        for reminder, visit_links in zip(wanted, links, strict=True):
            by_account[reminder.visit.account_id].append((reminder, visit_links))
        written = 0
        for items in by_account.values():
            account = items[0][0].visit.account
            sent = messages_send(
                account=account,
                outgoing=[
                    Outgoing(
                        patient=r.visit.member,
                        kind=REMINDER,
                        context=_context(r.visit, visit_links),
                        dedupe_key=reminder_key(r.visit_id, r.offset, r.start),
                        not_after=r.not_after,
                    )
                    for r, visit_links in items
                ],
            )
            written += sum(1 for m in sent if m is not None)
        audit.audit_record_many(
            audit.SYSTEM, audit.Action.READ, [r.visit for r in wanted], detail="Appointment reminder"
        )
    return written


# --- messaging's send-time checks --------------------------------------------------------------------------


def _key_parts(message: Message) -> list[str]:
    return message.dedupe_key.split(":")


def reminders_still_wanted(messages: list[Message]) -> dict[int, str]:
    """Reminders whose appointment was cancelled, started or moved since they were written."""
    parts = {m.pk: _key_parts(m) for m in messages}
    visits = {
        v.pk: v
        for v in Visit.objects.filter(pk__in={int(p[1]) for p in parts.values()}).only("status", "start")
    }
    dropped = {}
    for message_id, (_, visit_id, _, _, start) in parts.items():
        visit = visits.get(int(visit_id))
        if visit is None or visit.status != VisitStatus.WAITING:
            dropped[message_id] = "The appointment is no longer booked."
        elif str(start_key(visit.start)) != start:
            dropped[message_id] = "The appointment moved."
    return dropped


def invites_still_current(messages: list[Message]) -> dict[int, str]:
    """An invite not yet sent when a newer one was written is superseded by it (the patient's calendar
    would take the newer SEQUENCE anyway)."""
    parts = {m.pk: _key_parts(m) for m in messages}
    current = dict(
        AppointmentNotice.objects.filter(visit_id__in={int(p[1]) for p in parts.values()}).values_list(
            "visit_id", "sequence"
        )
    )
    return {
        message_id: "A newer message about the appointment replaced it."
        for message_id, (_, visit_id, _, sequence) in parts.items()
        if current.get(int(visit_id), -1) > int(sequence)
    }
