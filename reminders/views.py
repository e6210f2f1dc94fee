"""The public pages a patient reaches through the links in their messages: confirm, cancel, reschedule.

No login: the signed single-use link stands for the patient it was sent to. A page shows what the link will
do on GET (mail scanners open links: nothing is used then) and acts on POST, using the link in the
transaction of the action. It shows the least it can (the first name, the time, the clinic) and every
look and change goes into the audit trail (via "link").
"""

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.shortcuts import render
from django.utils import formats, timezone
from django.views.decorators.http import require_http_methods

from clinic import audit
from clinic.errors import Conflict, ServiceError
from clinic.throttles import secret_url_page
from messaging.links import LinkInvalid, link_peek, link_redeem
from reminders.selectors import appointment_when, link_appointment
from scheduling.selectors import available_slots
from scheduling.services import appointment_confirm, appointment_update
from visits.models import CloseReason, Visit, VisitStatus
from visits.services import visit_close

CONFIRM, CANCEL, RESCHEDULE = "appointment_confirm", "appointment_cancel", "appointment_reschedule"
MOVED = "This appointment has moved since this message was sent: please use the links in the latest one."


def _page(request, template: str, context: dict, status: int = 200):
    return render(request, f"reminders/{template}", context, status=status)


def _gone(request, message: str, status: int):
    return _page(request, "link_invalid.html", {"message": message}, status=status)


def _opened(request, purpose: str, token: str):
    """(visit, None) for a usable link to an appointment still booked, else (None, the page saying why)."""
    try:
        link = link_peek(purpose=purpose, token=token)
    except LinkInvalid as exc:
        return None, _gone(request, exc.message, exc.status_code)
    visit = link_appointment(obj_id=link.obj_id)
    if visit is None:
        return None, _gone(request, MOVED, 410)
    actor = audit.link_actor(request, account_id=visit.account_id)
    audit.audit_record(actor, audit.Action.READ, visit, detail=f"Patient's {purpose.split('_')[1]} link")
    if visit.status != VisitStatus.WAITING:
        words = "cancelled" if visit.status == VisitStatus.CANCELLED else "under way or over"
        return None, _gone(request, f"This appointment is {words}.", 410)
    return visit, None


def _still_as_shown(link) -> None:
    """Inside the link's transaction: the appointment may have moved since the page read it (the front desk
    at the same moment), and a link acts only on the time its message named."""
    if link_appointment(obj_id=link.obj_id, lock=True) is None:
        raise Conflict(MOVED)


def _acted(request, visit: Visit, what: str) -> None:
    actor = audit.link_actor(request, account_id=visit.account_id)
    audit.audit_record(actor, audit.Action.UPDATE, visit, detail=f"Patient, through a link: {what}")


def _base(visit: Visit) -> dict:
    first_name = visit.member.first_name if visit.member else ""
    return {"first_name": first_name, "clinic": visit.account.name, "when": appointment_when(visit)}


def _patient_user(visit: Visit):
    return visit.member.user if visit.member else None


def _one_action(request, token: str, *, purpose: str, page: str, done: str, act):
    """A page whose button does one thing: `act(visit)`, in the transaction that uses the link."""
    visit, refusal = _opened(request, purpose, token)
    if refusal:
        return refusal
    context = _base(visit)
    if request.method == "GET":
        return _page(request, page, context)
    if _patient_user(visit) is None:
        return _gone(request, "Please call the clinic about this appointment.", 409)
    try:
        with transaction.atomic():
            _still_as_shown(link_redeem(purpose=purpose, token=token))
            act(visit)
    except ServiceError as exc:
        return _gone(request, exc.message, exc.status_code)
    _acted(request, visit, done)
    return _page(request, "link_done.html", {**context, "done": done})


@secret_url_page
@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    def act(visit):
        appointment_confirm(account=visit.account, visit_id=visit.pk, actor=_patient_user(visit))

    return _one_action(request, token, purpose=CONFIRM, page="confirm.html", done="confirmed", act=act)


@secret_url_page
@require_http_methods(["GET", "POST"])
def cancel(request, token: str):
    def act(visit):
        visit_close(
            account=visit.account,
            actor=_patient_user(visit),
            visit_id=visit.pk,
            reason=CloseReason.PATIENT_CANCEL_APPOINTMENT,
            note="Cancelled by the patient through the link in a message.",
        )

    return _one_action(request, token, purpose=CANCEL, page="cancel.html", done="cancelled", act=act)


def _days(visit: Visit) -> list[tuple[str, list[tuple[int, str]]]]:
    """The free starts of the same room, consultation length and provider, by local day, in words."""
    now = timezone.now()
    slots = available_slots(
        room=visit.room,
        slot_length=int((visit.end - visit.start).total_seconds()),
        start=now,
        end=now + dt.timedelta(days=settings.REMINDER_RESCHEDULE_DAYS),
        provider_id=visit.provider_id,
        location=visit.intake.location if visit.intake_id else "",
    )
    days = defaultdict(list)
    for slot in slots:
        local = slot.local_start(visit.room.zone)
        days[local.date()].append((slot.start, f"{local:%H:%M}"))
    return [(formats.date_format(day, "l j F"), starts) for day, starts in sorted(days.items())]


@secret_url_page
@require_http_methods(["GET", "POST"])
def reschedule(request, token: str):
    visit, refusal = _opened(request, RESCHEDULE, token)
    if refusal:
        return refusal
    context = _base(visit)
    if visit.visit_group_id or _patient_user(visit) is None:
        return _gone(request, "Please call the clinic to move this appointment.", 409)
    error, status = "", 200
    if request.method == "POST":
        chosen = request.POST.get("start", "")
        if not chosen.isdecimal() or len(chosen) > 12:
            error, status = "Choose one of the times below.", 400
        else:
            start = dt.datetime.fromtimestamp(int(chosen), dt.UTC)
            try:
                with transaction.atomic():
                    _still_as_shown(link_redeem(purpose=RESCHEDULE, token=token))
                    moved = appointment_update(
                        account=visit.account, actor=_patient_user(visit), visit_id=visit.pk, start=start
                    )
            except LinkInvalid as exc:
                return _gone(request, exc.message, exc.status_code)
            except ServiceError as exc:
                error, status = exc.message, exc.status_code
            else:
                _acted(request, visit, "rescheduled")
                done = {**context, "done": "moved", "when": appointment_when(moved)}
                return _page(request, "link_done.html", done)
    return _page(request, "reschedule.html", {**context, "days": _days(visit), "error": error}, status=status)
