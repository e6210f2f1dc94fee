"""The clinic board: every room's waiting and in-progress patients for the front desk and clinic admins,
with priority and sending a patient back to the queue. No clinical notes (selectors.sees_clinical_content)."""

import datetime as dt
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clinic import audit
from clinic.decorators import htmx_login_required
from clinic.errors import Conflict, InvalidInput, NotAllowed, NotFound
from visits import selectors, services
from visits.formatting import format_duration
from visits.models import Priority, VisitStatus

BOARD = "visits/board.html"


def staff_only(view):
    @htmx_login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not selectors.is_staff_user(request.user):
            raise PermissionDenied("The clinic board is for the front desk and clinic admins.")
        return view(request, *args, **kwargs)

    return wrapper


def _row(visit, *, now, room) -> dict:
    waiting = visit.status == VisitStatus.WAITING
    since = visit.created if waiting or not visit.actual_start else visit.actual_start
    in_status = int((now - since).total_seconds())
    limit = room.max_waiting_time
    if visit.appointment_id:
        kind = "Appointment"
        status = "Arrived, waiting" if waiting else "In progress"
    else:
        kind = visit.get_type_display()
        status = "Waiting" if waiting else "In progress"
    return {
        "visit": visit,
        "patient": visit.member.full_name if visit.member else "Unknown patient",
        "reason": (visit.intake.reason_for_visit if visit.intake else "") or "No reason given",
        "kind": kind,
        "status": status,
        "with": visit.provider.display_name if visit.provider and not waiting else "",
        "for": visit.provider.display_name if visit.provider and waiting else "",
        "in_status": format_duration(dt.timedelta(seconds=in_status)),
        "total": format_duration(now - visit.created),
        "long_wait": bool(waiting and limit and in_status >= limit * settings.QUEUE_WAIT_WARNING_FRACTION),
        "urgent": visit.priority == Priority.URGENT,
        "can_requeue": not waiting,
        "confirmed": bool(visit.appointment_id and visit.appointment.confirmed_at),
    }


def _context(request, error: str = "") -> dict:
    now = timezone.now()
    rooms = selectors.clinic_board(account=request.user.account, user=request.user, now=now)
    return {
        "rooms": [
            {
                "room": entry.room,
                "waiting": [_row(v, now=now, room=entry.room) for v in entry.waiting],
                "in_progress": [_row(v, now=now, room=entry.room) for v in entry.in_progress],
                "left_unseen": entry.left_unseen,
            }
            for entry in rooms
        ],
        "refresh_seconds": settings.BOARD_REFRESH_SECONDS,
        "error": error,
        "urgent": Priority.URGENT,
        "normal": Priority.NORMAL,
    }


def _board(request, error: str = ""):
    context = _context(request, error)
    shown = [row["visit"] for r in context["rooms"] for row in (*r["waiting"], *r["in_progress"])]
    left = [visit for r in context["rooms"] for visit in r["left_unseen"]]
    audit.audit_record_many(request, audit.Action.LIST, [*shown, *left])
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, f"{BOARD}#board", context)
    return render(request, BOARD, context)


@require_GET
@staff_only
def board(request):
    return _board(request)


def _act(request, action, detail: str) -> str:
    try:
        visit = action()
    except (Conflict, InvalidInput, NotAllowed, NotFound) as exc:
        return exc.message
    audit.audit_record(request, audit.Action.UPDATE, visit, detail=detail)
    return ""


@require_POST
@staff_only
def board_priority(request, visit_id: int):
    try:
        priority = int(request.POST.get("priority", ""))
    except ValueError:
        priority = 0
    error = _act(
        request,
        lambda: services.visit_priority_set(
            account=request.user.account, actor=request.user, visit_id=visit_id, priority=priority
        ),
        "priority set",
    )
    return _board(request, error)


@require_POST
@staff_only
def board_requeue(request, visit_id: int):
    error = _act(
        request,
        lambda: services.visit_requeue(account=request.user.account, actor=request.user, visit_id=visit_id),
        "sent back to the queue",
    )
    return _board(request, error)
