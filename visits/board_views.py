"""The clinic board: every room's waiting and in-progress patients for the front desk and clinic admins,
with priority and sending a patient back to the queue. No clinical notes (selectors.sees_clinical_content)."""

from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from clinic import audit
from clinic.decorators import htmx_login_required
from clinic.errors import Conflict, InvalidInput, NotAllowed, NotFound
from visits import selectors, services
from visits.models import Priority

BOARD = "visits/board.html"


def staff_only(view):
    @htmx_login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not selectors.is_staff_user(request.user):
            raise PermissionDenied("The clinic board is for the front desk and clinic admins.")
        return view(request, *args, **kwargs)

    return wrapper


def _actions(row: dict, prefix: str) -> str:
    """A row's buttons as markup made here (the template's three branches and eight variables per row were
    a third of the board's rendering); the patient's name is escaped."""
    url = f"{prefix}{row['pk']}/"
    if row["urgent"]:
        vals, css, words = Priority.NORMAL, "btn-outline-secondary", "Mark normal"
    else:
        vals, css, words = Priority.URGENT, "btn-outline-danger", "Mark urgent"
    html = (
        f'<button type="button" class="btn btn-sm {css}" hx-post="{url}priority/" '
        f'hx-vals=\'{{"priority": "{vals}"}}\' hx-target="#board" hx-swap="outerHTML">{words}</button>'
    )
    if row["can_requeue"]:
        html += (
            f'<button type="button" class="btn btn-sm btn-outline-primary" hx-post="{url}requeue/" '
            'hx-target="#board" hx-swap="outerHTML" '
            f'hx-confirm="Send {escape(row["patient"])} back to the queue?">Back to queue</button>'
        )
    return mark_safe(html)


def _context(request, error: str = "") -> dict:
    now = timezone.now()
    prefix = reverse("visits:board-requeue", args=[0]).removesuffix("0/requeue/")
    board = []
    for entry in selectors.clinic_board(account=request.user.account, user=request.user, now=now):
        today = now.astimezone(entry.room.zone).date()
        board.append(
            {
                "room": entry.room,
                "waiting_count": len(entry.waiting),
                "in_progress_count": len(entry.in_progress),
                # Waiting first, then in progress: one loop of the row's markup (an include per row was a
                # fifth of the board's rendering).
                "rows": [
                    {**row, "actions": _actions(row, prefix)}
                    for row in (
                        selectors.board_row(v, now=now, today=today, room=entry.room)
                        for v in (*entry.waiting, *entry.in_progress)
                    )
                ],
                "left_unseen": entry.left_unseen,
            }
        )
    return {
        "rooms": board,
        "refresh_seconds": settings.BOARD_REFRESH_SECONDS,
        "error": error,
    }


def _board(request, error: str = ""):
    context = _context(request, error)
    shown = [row["visit"] for r in context["rooms"] for row in r["rows"]]
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
