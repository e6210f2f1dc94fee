"""The front desk's booking page and day view, providers' read-only schedule, the admin's hours page.

Each view answers a page, or for htmx one partial of the same template; times are shown in the room's zone.
"""

import datetime as dt
import zoneinfo
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import retarget

from clinic import audit
from clinic import services as clinic_services
from clinic.errors import Conflict, ServiceError
from clinic.models import Provider, Room
from scheduling import calendar, selectors, services
from scheduling.forms import (
    BookForm,
    CalendarForm,
    CalendarMoveForm,
    CancelForm,
    DayForm,
    PatientCreateForm,
    PatientSearchForm,
    RescheduleForm,
    ScheduleExceptionForm,
    SlotSearchForm,
    WorkingHoursForm,
)
from scheduling.models import window_label
from visits.selectors import visit_get

BOOKING = "scheduling/booking.html"
CALENDAR = "scheduling/calendar.html"
DAY = "scheduling/day.html"
HOURS = "scheduling/hours.html"

book_required = permission_required("visits.book_appointment", raise_exception=True)


def schedule_viewer(view):
    """Front desk and clinic admins; providers too, read-only and for their own appointments."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not (services.may_book(request.user) or request.user.is_provider):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _render(request, template: str, context: dict, *, zone, partial: str | None = None):
    # Every time on these pages is the room's local time.
    with timezone.override(zone):
        name = f"{template}#{partial}" if partial and request.htmx else template
        return render(request, name, context)


def _zone_label(room: Room, day: dt.date) -> str:
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=room.zone)
    return f"{room.time_zone} ({noon.tzname()})"


# --- booking -----------------------------------------------------------------------------------------


def _search(request, data) -> SlotSearchForm:
    return SlotSearchForm(data if data and "room" in data else None, account=request.user.account)


def _workspace(request, form: SlotSearchForm, **extra) -> dict:
    """The free slots of the chosen day; with an unbound form, the first consultation of the room, today."""
    room = form.room
    context = {"form": form, "room": room, "slots": [], **extra}
    if room is None:
        return context
    if form.is_bound and form.is_valid():
        consultation, provider, day = (form.cleaned_data[k] for k in ("consultation", "provider", "day"))
    else:
        consultation = form.fields["consultation"].queryset.first()
        provider, day = None, form.fields["day"].initial
    if consultation is None or (form.is_bound and form.errors):
        return context
    lo, hi = selectors.local_day_bounds(day, room.zone)
    slots = selectors.available_slots(
        room=room, slot_length=consultation.duration, start=lo, end=hi, provider_id=provider and provider.pk
    )
    names = {p.pk: p.display_name for p in form.fields["provider"].queryset}
    context.update(
        consultation=consultation,
        provider=provider,
        day=day,
        zone_label=_zone_label(room, day),
        slots=[
            {
                "start": s.start,
                "at": s.local_start(room.zone),
                "provider_ids": s.provider_ids,
                "providers": [names.get(p, "") for p in s.provider_ids],
            }
            for s in slots
        ],
    )
    return context


@require_GET
@login_required
@book_required
def booking(request):
    form = _search(request, request.GET)
    context = _workspace(request, form)
    return _render(
        request, BOOKING, context, zone=form.room.zone if form.room else dt.UTC, partial="workspace"
    )


@require_GET
@login_required
@book_required
def pick(request):
    """A slot was clicked: who is free then, and the patient to book it for."""
    form = _search(request, request.GET)
    context = _workspace(request, form)
    start = request.GET.get("start", "")
    slot = next((s for s in context["slots"] if str(s["start"]) == start), None)
    if slot is None:
        context.update(notice="That slot was just taken. Here are the free ones now.", level="warning")
        response = _render(request, BOOKING, context, zone=form.room.zone, partial="workspace")
        return retarget(response, "#workspace") if request.htmx else response
    context.update(
        slot=slot,
        free_providers=Provider.objects.filter(pk__in=slot["provider_ids"]).select_related("user"),
        patient_form=PatientCreateForm(),
    )
    response = _render(request, BOOKING, context, zone=form.room.zone, partial="book")
    return retarget(response, "#book") if request.htmx else response


@require_GET
@login_required
@book_required
def patient_search(request):
    form = PatientSearchForm(request.GET)
    members = (
        selectors.members_matching(account=request.user.account, query=form.cleaned_data["q"])
        if form.is_valid()
        else []
    )
    if members:
        audit.audit_record_many(
            request, audit.Action.SEARCH, members, detail=f"search: {form.cleaned_data['q']}"
        )
    return render(request, f"{BOOKING}#patients", {"members": members, "searched": form.is_valid()})


@require_POST
@login_required
@book_required
def patient_create(request):
    form = PatientCreateForm(request.POST)
    context = {"members": [], "searched": False}
    if form.is_valid():
        try:
            member = clinic_services.member_create(
                account=request.user.account, **{k: v for k, v in form.cleaned_data.items() if v}
            )
        except ServiceError as exc:
            context["error"] = exc.message
        else:
            audit.audit_record(request, audit.Action.CREATE, member)
            context.update(members=[member], chosen=member.code, searched=True)
    else:
        context["error"] = "; ".join(f"{f}: {e[0]}" for f, e in form.errors.items())
    return render(request, f"{BOOKING}#patients", context)


@require_POST
@login_required
@book_required
def book(request):
    search = _search(request, request.POST)
    form = BookForm(request.POST)
    if not (search.is_valid() and form.is_valid()):
        context = _workspace(
            request, search, notice=_first_error(form) or _first_error(search), level="danger"
        )
        return _render(request, BOOKING, context, zone=search.room.zone, partial="workspace")
    consultation, room = search.cleaned_data["consultation"], search.cleaned_data["room"]
    start = dt.datetime.fromtimestamp(form.cleaned_data["start"], dt.UTC)
    try:
        visit = services.appointment_book(
            account=request.user.account,
            actor=request.user,
            room_code=room.code,
            start=start,
            end=start + dt.timedelta(seconds=consultation.duration),
            provider_id=form.cleaned_data["book_provider"] or None,
            member_code=form.cleaned_data["member"],
            consultation_id=consultation.pk,
        )
    except Conflict as exc:
        context = _workspace(
            request, search, notice=f"{exc.message} Pick another slot: these are free now.", level="warning"
        )
    except ServiceError as exc:
        context = _workspace(request, search, notice=exc.message, level="danger")
    else:
        audit.audit_record(request, audit.Action.CREATE, visit, detail="appointment booked")
        context = _workspace(request, search, booked=visit)
    return _render(request, BOOKING, context, zone=room.zone, partial="workspace")


def _first_error(form) -> str:
    for field, errors in form.errors.items():
        return errors[0] if field == "__all__" else f"{form.fields[field].label or field}: {errors[0]}"
    return ""


# --- the day view ---------------------------------------------------------------------------------------


def _day_rooms(user):
    rooms = Room.objects.for_account(user.account)
    return rooms if services.may_book(user) else rooms.filter(providers=user.provider)


def _day_context(request, data) -> dict:
    rooms = _day_rooms(request.user)
    form = DayForm(data if data and "room" in data else None, rooms=rooms)
    room = form.cleaned_data["room"] if form.is_bound and form.is_valid() else rooms.first()
    if room is None:
        return {"form": form, "room": None, "groups": []}
    day = (
        form.cleaned_data["day"]
        if form.is_bound and form.is_valid()
        else timezone.now().astimezone(room.zone).date()
    )
    form.initial = {"room": room.pk, "day": day}
    read_only = not services.may_book(request.user)
    visits = selectors.day_appointments(
        account=request.user.account,
        room=room,
        day=day,
        provider=request.user.provider if read_only else None,
    )
    groups: dict = {}
    for visit in visits:
        label = visit.provider.display_name if visit.provider else "Provider to be decided"
        groups.setdefault(label, []).append(visit)
    audit.audit_record_many(request, audit.Action.LIST, visits)
    return {
        "form": form,
        "room": room,
        "day": day,
        "previous_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "zone_label": _zone_label(room, day),
        "groups": list(groups.items()),
        "read_only": read_only,
    }


@require_GET
@login_required
@schedule_viewer
def day_view(request):
    context = _day_context(request, request.GET)
    zone = context["room"].zone if context["room"] else dt.UTC
    return _render(request, DAY, context, zone=zone, partial="schedule")


def _schedule_after(request, visit, *, message: str, level: str = "success"):
    data = {"room": visit.room_id, "day": visit.start.astimezone(visit.room.zone).date().isoformat()}
    context = {**_day_context(request, data), "message": message, "level": level}
    response = _render(request, DAY, context, zone=visit.room.zone, partial="schedule")
    return retarget(response, "#schedule") if request.htmx else response


def _reschedule_context(request, visit, day: dt.date, **extra) -> dict:
    room = visit.room
    lo, hi = selectors.local_day_bounds(day, room.zone)
    slots = selectors.free_slots(
        room=room,
        slot_length=int((visit.end - visit.start).total_seconds()),
        start=lo,
        end=hi,
        provider_id=visit.provider_id,
        location=visit.intake.location if visit.intake else "",
        exclude_visit_id=visit.pk,
    )
    return {
        "visit": visit,
        "room": room,
        "day": day,
        "zone_label": _zone_label(room, day),
        "slots": [
            {"start": s.start, "at": s.local_start(room.zone)}
            for s in slots
            if s.start != visit.start.timestamp()
        ],
        **extra,
    }


@require_http_methods(["GET", "POST"])
@login_required
@book_required
def reschedule(request, visit_id):
    visit = visit_get(account=request.user.account, user=request.user, visit_id=visit_id)
    if request.method == "GET":
        try:
            day = dt.date.fromisoformat(request.GET.get("day", ""))
        except ValueError:
            day = visit.start.astimezone(visit.room.zone).date()
        context = _reschedule_context(request, visit, day)
        audit.audit_record(request, audit.Action.READ, visit)
        return _render(request, DAY, context, zone=visit.room.zone, partial="reschedule")
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        raise PermissionDenied  # only our own buttons post here
    start = dt.datetime.fromtimestamp(form.cleaned_data["start"], dt.UTC)
    try:
        visit = services.appointment_update(
            account=request.user.account, actor=request.user, visit_id=visit.pk, start=start
        )
    except Conflict as exc:
        day = start.astimezone(visit.room.zone).date()
        context = _reschedule_context(request, visit, day, notice=f"{exc.message} These are free now.")
        response = _render(request, DAY, context, zone=visit.room.zone, partial="reschedule")
        return retarget(response, f"#reschedule-{visit.pk}") if request.htmx else response
    audit.audit_record(request, audit.Action.UPDATE, visit, detail="rescheduled")
    with timezone.override(visit.room.zone):
        when = timezone.localtime(visit.start).strftime("%a %d %b, %H:%M")
    return _schedule_after(request, visit, message=f"Moved {visit.member} to {when}.")


@require_POST
@login_required
@book_required
def cancel(request, visit_id):
    visit = visit_get(account=request.user.account, user=request.user, visit_id=visit_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _schedule_after(request, visit, message=form.errors["reason"][0], level="danger")
    try:
        visit = services.appointment_cancel(
            account=request.user.account,
            actor=request.user,
            visit_id=visit.pk,
            reason=form.cleaned_data["reason"],
        )
    except ServiceError as exc:
        return _schedule_after(request, visit, message=exc.message, level="danger")
    audit.audit_record(request, audit.Action.UPDATE, visit, detail="appointment cancelled")
    return _schedule_after(request, visit, message=f"Cancelled the appointment of {visit.member}.")


# --- the calendar grid ------------------------------------------------------------------------------------


def _calendar_context(request, data) -> dict:
    rooms = Room.objects.for_account(request.user.account)
    form = CalendarForm(data if data and "room" in data else None, rooms=rooms)
    valid = form.is_bound and form.is_valid()
    room = form.cleaned_data["room"] if valid else rooms.first()
    if room is None:
        return {"form": form, "room": None}
    day = form.cleaned_data["day"] if valid else timezone.now().astimezone(room.zone).date()
    week = valid and form.cleaned_data["view"] == "week"
    first = day - dt.timedelta(days=day.weekday()) if week else day
    days = [first + dt.timedelta(days=i) for i in range(7 if week else 1)]
    form.initial = {"room": room.pk, "day": day, "view": "week" if week else "day"}
    lo, _ = selectors.local_day_bounds(days[0], room.zone)
    _, hi = selectors.local_day_bounds(days[-1], room.zone)
    data = selectors.calendar_data(account=request.user.account, room=room, lo=lo, hi=hi)
    appointments = [
        calendar.Appointment(
            visit_id=v.pk,
            provider_id=v.provider_id,
            start=int(v.start.timestamp()),
            end=int(v.end.timestamp()),
            patient=v.member.full_name if v.member else "",
            reason=v.intake.reason_for_visit if v.intake_id else "",
            status=v.status,
            cancelled_by=v.closed_by.get_full_name() or v.closed_by.username if v.closed_by_id else "",
            cancel_reason=v.cancel_reason,
            confirmed=v.confirmed_at is not None,
        )
        for v in data.appointments
    ]
    grid = calendar.build_grid(
        zone=room.zone,
        days=days,
        step=room.slot_interval or data.slot_length,
        providers=[(p.pk, p.display_name) for p in data.providers],
        working=data.working,
        free=data.free,
        appointments=appointments,
        now=int(timezone.now().timestamp()),
    )
    span = dt.timedelta(days=7 if week else 1)
    view = "week" if week else "day"
    consultation = next(
        (
            c
            for c in room.consultations.all()
            if c.active and not c.is_group and c.duration == data.slot_length
        ),
        None,
    )
    book_url = (
        reverse("scheduling:pick") + f"?room={room.pk}&consultation={consultation.pk if consultation else ''}"
    )
    return {
        "form": form,
        "room": room,
        "grid": grid,
        "week": week,
        "view": view,
        "step": grid.step,
        # Built once: a {% url %} per cell cost more than the rest of a cell (the URLs end in the ids).
        "calendar_url": reverse("scheduling:calendar"),
        "book_url": book_url,
        "day": day,
        "days": days,
        "consultation": consultation,
        "zone_label": _zone_label(room, day),
        "unplaced": [a for a in appointments if a.provider_id is None],
        "shown_visits": data.appointments,
        "links": {
            "previous": f"?room={room.pk}&day={(day - span).isoformat()}&view={view}",
            "next": f"?room={room.pk}&day={(day + span).isoformat()}&view={view}",
            "other_view": f"?room={room.pk}&day={day.isoformat()}&view={'day' if week else 'week'}",
        },
    }


@require_GET
@login_required
@book_required
def calendar_view(request):
    context = _calendar_context(request, request.GET)
    audit.audit_record_many(request, audit.Action.LIST, context.get("shown_visits", []))
    zone = context["room"].zone if context["room"] else dt.UTC
    return _render(request, CALENDAR, context, zone=zone, partial="grid")


@require_http_methods(["GET", "POST"])
@login_required
@book_required
def calendar_move(request, visit_id):
    """GET: the move panel of an appointment (next free slot, or a day and time). POST: move it there, or
    where it was dropped. The booking service decides; a refusal says why (409 for a plain form post)."""
    visit = visit_get(account=request.user.account, user=request.user, visit_id=visit_id)
    if request.method == "GET":
        room = visit.room
        day = visit.start.astimezone(room.zone).date()
        query = {"room": room.pk, "day": day.isoformat(), "view": request.GET.get("view", "day")}
        with timezone.override(room.zone):
            when = timezone.localtime(visit.start).strftime("%a %d %b, %H:%M")
        context = {
            **_calendar_context(request, query),
            "moving": visit,
            "moving_day": day,
            "moving_when": when,
        }
        audit.audit_record(request, audit.Action.READ, visit)
        return _render(request, CALENDAR, context, zone=room.zone, partial="move")
    room = visit.room
    form = CalendarMoveForm(request.POST)
    message, level, status = "", "success", 200
    if not form.is_valid():
        message, level, status = _first_error(form) or "Choose the new time.", "danger", 400
    else:
        data = form.cleaned_data
        provider_id = data["provider"]
        if data["next_free"]:
            start = selectors.next_free_start(visit=visit)
        elif data["start"]:
            start = data["start"]
        else:
            start = int(dt.datetime.combine(data["day"], data["time"], tzinfo=room.zone).timestamp())
        if start is None:
            message, level, status = "No free slot in the next two weeks.", "warning", 409
        else:
            try:
                visit = services.appointment_update(
                    account=request.user.account,
                    actor=request.user,
                    visit_id=visit.pk,
                    start=dt.datetime.fromtimestamp(start, dt.UTC),
                    provider_id=provider_id if provider_id and provider_id != visit.provider_id else None,
                )
            except ServiceError as exc:
                message, level, status = exc.message, "warning", 409
            else:
                audit.audit_record(request, audit.Action.UPDATE, visit, detail="rescheduled on the calendar")
                with timezone.override(room.zone):
                    when = timezone.localtime(visit.start).strftime("%a %d %b, %H:%M")
                who = visit.provider.display_name if visit.provider else "no provider yet"
                message = f"Moved {visit.member.full_name} to {when} with {who}."
    day = visit.start.astimezone(room.zone).date()
    query = {"room": room.pk, "day": day.isoformat(), "view": request.POST.get("view", "day")}
    context = {**_calendar_context(request, query), "message": message, "level": level}
    # htmx swaps only successful answers: a refusal still answers 200 there, with the reason shown.
    response = _render(request, CALENDAR, context, zone=room.zone, partial="grid")
    if not request.htmx:
        response.status_code = status
    return retarget(response, "#calendar") if request.htmx else response


# --- working hours (clinic admins) -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("clinic.change_room", raise_exception=True)
def hours(request):
    account = request.user.account
    providers = Provider.objects.for_account(account).select_related("user")
    chosen = request.GET.get("provider", "")
    provider = (providers.filter(pk=chosen).first() if chosen.isdigit() else None) or providers.first()
    if provider is None:
        return render(request, HOURS, {"providers": providers})
    rooms = provider.rooms.all()
    hours_form = WorkingHoursForm(rooms=rooms, prefix="hours")
    exception_form = ScheduleExceptionForm(rooms=rooms, prefix="exception")
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add_hours":
                hours_form = WorkingHoursForm(request.POST, rooms=rooms, prefix="hours")
                if hours_form.is_valid():
                    data = hours_form.cleaned_data
                    services.working_hours_add(
                        account=account,
                        actor=request.user,
                        provider_id=provider.pk,
                        room_id=data["room"].pk,
                        weekday=data["weekday"],
                        start_time=data["start_time"],
                        end_time=data["end_time"],
                    )
                    messages.success(request, "Working hours added.")
                    return redirect(f"{request.path}?provider={provider.pk}")
            elif action == "add_exception":
                exception_form = ScheduleExceptionForm(request.POST, rooms=rooms, prefix="exception")
                if exception_form.is_valid():
                    data = exception_form.cleaned_data
                    services.schedule_exception_add(
                        account=account,
                        actor=request.user,
                        provider_id=provider.pk,
                        room_id=data["room"].pk if data["room"] else None,
                        **{
                            k: data[k]
                            for k in ("kind", "start_date", "end_date", "start_time", "end_time", "note")
                        },
                    )
                    messages.success(request, "Exception added.")
                    return redirect(f"{request.path}?provider={provider.pk}")
            elif action in ("delete_hours", "delete_exception"):
                services.schedule_entry_delete(
                    account=account,
                    actor=request.user,
                    kind="hours" if action == "delete_hours" else "exception",
                    entry_id=request.POST.get("id"),
                )
                messages.success(request, "Removed.")
                return redirect(f"{request.path}?provider={provider.pk}")
        except ServiceError as exc:
            messages.error(request, exc.message)
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(provider.time_zone)).date()
    context = {
        "providers": providers,
        "provider": provider,
        "hours": [(h, window_label(h)) for h in selectors.provider_hours(account=account, provider=provider)],
        "exceptions": [
            (e, window_label(e))
            for e in selectors.provider_exceptions(account=account, provider=provider, since=today)
        ],
        "hours_form": hours_form,
        "exception_form": exception_form,
    }
    return render(request, HOURS, context)
