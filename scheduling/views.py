"""The front desk's booking page and day view, providers' read-only schedule, the admin's hours page.

Each view answers a page, or for htmx one partial of the same template; times are shown in the room's zone.
"""

import datetime as dt
import zoneinfo
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import retarget

from clinic import audit
from clinic import selectors as clinic_selectors
from clinic import services as clinic_services
from clinic.errors import Conflict, NotFound, ServiceError
from clinic.models import Member, Provider, Room
from clinic.throttles import secret_url_page
from messaging import services as messaging_services
from messaging.models import Channel
from messaging.selectors import consents_current
from scheduling import calendar, selectors, services
from scheduling.feeds import feed_calendar
from scheduling.forms import (
    BookForm,
    CalendarForm,
    CalendarMoveForm,
    CancelForm,
    ConsentForm,
    DayForm,
    PatientCreateForm,
    PatientSearchForm,
    RescheduleForm,
    ScheduleExceptionForm,
    SlotSearchForm,
    WorkingHoursForm,
    consents_of,
)
from scheduling.models import window_label
from visits.selectors import visit_get

BOOKING = "scheduling/booking.html"
CALENDAR = "scheduling/calendar.html"
DAY = "scheduling/day.html"
HOURS = "scheduling/hours.html"
FEEDS = "scheduling/feeds.html"

# How consent taken at the booking page is recorded (with the staff member who took it).
FRONT_DESK = "front desk"

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
    if day < timezone.now().astimezone(room.zone).date():
        context.update(consultation=consultation, provider=provider, day=day, past=True)
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
        context.update(
            notice="That slot was just booked by someone else. Here are the free ones now.", level="warning"
        )
        response = _render(request, BOOKING, context, zone=form.room.zone, partial="workspace")
        return retarget(response, "#workspace") if request.htmx else response
    context.update(
        slot=slot,
        free_providers=Provider.objects.filter(pk__in=slot["provider_ids"]).select_related("user"),
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


def _patient_form(request, data=None, *, initial=None) -> PatientCreateForm:
    zone = zoneinfo.ZoneInfo(request.user.account.time_zone)
    return PatientCreateForm(data, initial=initial, today=timezone.now().astimezone(zone).date())


def _names_from(query: str) -> dict:
    """What was typed in the patient search, carried into the new-patient form: a name or a phone."""
    query = query.strip()
    if query and all(ch.isdigit() or ch in " +-()." for ch in query):
        return {"phone": query}
    first, _, last = query.partition(" ")
    return {"first_name": first, "last_name": last.strip()}


@require_http_methods(["GET", "POST"])
@login_required
@book_required
def patient_create(request):
    """GET: the new-patient form, its code proposed, the name typed in the search carried over. POST: a
    possible duplicate is shown first (saving it anyway is a second, explicit click); once saved, the
    patient is chosen for the booking."""
    account = request.user.account
    new_patient = f"{BOOKING}#new_patient"
    if request.method == "GET":
        initial = {
            "code": selectors.next_patient_code(account=account),
            **_names_from(request.GET.get("q", "")),
        }
        return render(request, new_patient, {"patient_form": _patient_form(request, initial=initial)})
    form = _patient_form(request, request.POST)
    context = {"patient_form": form}
    if not form.is_valid():
        return render(request, new_patient, context)
    data = form.cleaned_data
    if not request.POST.get("save_anyway"):
        duplicates = list(
            selectors.possible_duplicates(
                account=account,
                first_name=data["first_name"],
                last_name=data["last_name"],
                dob=data["dob"],
                phone=data["phone"],
            )
        )
        if duplicates:
            audit.audit_record_many(request, audit.Action.SEARCH, duplicates, detail="possible duplicate")
            return render(request, new_patient, {**context, "duplicates": duplicates})
    try:
        with transaction.atomic():
            member = clinic_services.member_create(account=account, **form.patient_fields)
            messaging_services.consents_set(
                patient=member, granted=form.consents, source=FRONT_DESK, actor=request.user
            )
    except ServiceError as exc:
        for field, errors in (exc.errors or {}).items():
            form.add_error(field if field in form.fields else None, errors[0])
        if not exc.errors:
            form.add_error(None, exc.message)
        return render(request, new_patient, context)
    audit.audit_record(request, audit.Action.CREATE, member)
    return render(
        request,
        new_patient,
        {"created": member, "members": [member], "chosen": member.code, "searched": True},
    )


def _consent_answer(request, patient, form: ConsentForm, *, changed=None, **extra):
    """The consent card; the trail records the change made, or that the patient's statements were shown."""
    if changed:
        said = ", ".join(
            f"{c.get_channel_display().lower()} {'granted' if c.granted else 'withdrawn'}" for c in changed
        )
        audit.audit_record(request, audit.Action.UPDATE, patient, detail=f"consent to messages: {said}")
    else:
        audit.audit_record(request, audit.Action.READ, patient, detail="consent to messages")
    current = consents_current(patient)
    context = {
        "patient": patient,
        "consent_form": form,
        "statements": [(label, current.get(channel)) for channel, label in Channel.choices],
        **extra,
    }
    # When each statement was made, in the clinic's time.
    with timezone.override(zoneinfo.ZoneInfo(request.user.account.time_zone)):
        return render(request, f"{BOOKING}#consent", context)


@require_http_methods(["GET", "POST"])
@login_required
@book_required
def patient_consent(request, member_id):
    """A patient's consent to appointment messages, by email and by text: what holds now (when, how, by
    whom) and the two boxes to change it. Saving records only the answers that changed."""
    patient = Member.objects.for_account(request.user.account).filter(pk=member_id).first()
    if patient is None:
        raise Http404("No such patient.")
    if request.method == "GET":
        initial = {f"consent_{c}": s.granted for c, s in consents_current(patient).items()}
        return _consent_answer(request, patient, ConsentForm(initial=initial, patient=patient))
    form = ConsentForm(request.POST, patient=patient)
    if not form.is_valid():
        return _consent_answer(request, patient, form)
    try:
        changed = messaging_services.consents_set(
            patient=patient, granted=consents_of(form.cleaned_data), source=FRONT_DESK, actor=request.user
        )
    except ServiceError as exc:
        _field_error(form, exc)
        return _consent_answer(request, patient, form)
    return _consent_answer(request, patient, form, changed=changed, saved=True)


def _kept_booking(request, search: SlotSearchForm, form: BookForm, context: dict) -> dict:
    """After a refusal the booking card stays as it was: the slot, provider, patient and reason chosen,
    with the errors beside their fields."""
    room, data = search.room, form.cleaned_data if form.is_valid() else {}
    start = str(data.get("start") or form.data.get("start", ""))
    slot = next((s for s in context["slots"] if str(s["start"]) == start), None)
    if slot is None and start.isdigit():
        slot = {
            "start": int(start),
            "at": dt.datetime.fromtimestamp(int(start), room.zone),
            "provider_ids": [],
        }
    if slot is None:
        return context
    providers = search.fields["provider"].queryset
    code = form.data.get("member", "")
    try:
        member = clinic_selectors.member_by_code(account=request.user.account, code=code) if code else None
    except NotFound:
        member = None  # said beside the field
    if member is not None:
        audit.audit_record(request, audit.Action.READ, member, detail="kept on the booking form")
    context.update(
        slot=slot,
        book_form=form,
        free_providers=providers.filter(pk__in=slot["provider_ids"]) if slot["provider_ids"] else providers,
        chosen_provider=str(data.get("book_provider", form.data.get("book_provider", ""))),
        members=[member] if member else [],
        chosen=code,
    )
    return context


def _nearest(search: SlotSearchForm, consultation, start: dt.datetime, provider_id) -> list[dict]:
    room = search.room
    names = {p.pk: p.display_name for p in search.fields["provider"].queryset}
    return [
        {
            "value": f"{t}:{pid or 0}",
            "at": dt.datetime.fromtimestamp(t, room.zone),
            "provider": names.get(pid, "a provider to be decided"),
        }
        for t, pid in selectors.nearest_free_slots(
            room=room, slot_length=consultation.duration, around=start, provider_id=provider_id
        )
    ]


@require_POST
@login_required
@book_required
def book(request):
    search = _search(request, request.POST)
    form = BookForm(request.POST)
    if not (search.is_valid() and form.is_valid()):
        context = _workspace(request, search, notice=_first_error(search), level="danger")
        context = _kept_booking(request, search, form, context)
        return _render(request, BOOKING, context, zone=search.room.zone, partial="workspace")
    consultation, room = search.cleaned_data["consultation"], search.cleaned_data["room"]
    start = dt.datetime.fromtimestamp(form.cleaned_data["start"], dt.UTC)
    provider_id = form.cleaned_data["book_provider"] or None
    try:
        visit = services.appointment_book(
            account=request.user.account,
            actor=request.user,
            room_code=room.code,
            start=start,
            end=start + dt.timedelta(seconds=consultation.duration),
            provider_id=provider_id,
            member_code=form.cleaned_data["member"],
            consultation_id=consultation.pk,
            reason=form.cleaned_data["reason"],
        )
    except ServiceError as exc:
        context = _kept_booking(request, search, form, _workspace(request, search))
        errors = exc.errors or {}
        if isinstance(exc, Conflict) and "start" in errors:
            context.update(
                taken="That time has passed." if start <= timezone.now() else "Just booked by someone else.",
                refusal=exc.message,
                nearest=_nearest(search, consultation, start, provider_id),
            )
        elif "member_id" in errors:
            form.add_error("member", "That patient was not found: search again.")
        else:
            context.update(notice=exc.message, level="danger")
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
    if not form.cleaned_data["confirmed"]:
        # A reschedule is asked before it is saved: the panel comes back with the question.
        day = start.astimezone(visit.room.zone).date()
        asked = {"confirm_start": form.cleaned_data["start"], "confirm_at": start}
        context = _reschedule_context(request, visit, day, **asked)
        audit.audit_record(request, audit.Action.READ, visit)
        response = _render(request, DAY, context, zone=visit.room.zone, partial="reschedule")
        return retarget(response, f"#reschedule-{visit.pk}") if request.htmx else response
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


def _cancel(request, visit) -> tuple:
    """Cancel with the reason posted: the visit and '' once cancelled (and audited), or why not."""
    form = CancelForm(request.POST)
    if not form.is_valid():
        return visit, form.errors["reason"][0]
    try:
        visit = services.appointment_cancel(
            account=request.user.account,
            actor=request.user,
            visit_id=visit.pk,
            reason=form.cleaned_data["reason"],
        )
    except ServiceError as exc:
        return visit, exc.message
    audit.audit_record(request, audit.Action.UPDATE, visit, detail="appointment cancelled")
    return visit, ""


@require_POST
@login_required
@book_required
def cancel(request, visit_id):
    visit = visit_get(account=request.user.account, user=request.user, visit_id=visit_id)
    visit, refused = _cancel(request, visit)
    if refused:
        return _schedule_after(request, visit, message=refused, level="danger")
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
            undoable=services.cancellation_undoable(cancelled_at=v.cancelled_at),
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
        held=data.held,
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


def _local_when(visit_or_start, zone) -> str:
    start = visit_or_start if isinstance(visit_or_start, dt.datetime) else visit_or_start.start
    return start.astimezone(zone).strftime("%a %d %b, %H:%M")


def _calendar_answer(request, visit, *, view: str, status: int = 200, **extra):
    """The grid of the day the appointment is on now, with a message or a question above it."""
    room = visit.room
    day = visit.start.astimezone(room.zone).date()
    query = {"room": room.pk, "day": day.isoformat(), "view": view}
    context = {**_calendar_context(request, query), **extra}
    # htmx swaps only successful answers: a refusal still answers 200 there, with the reason shown.
    response = _render(request, CALENDAR, context, zone=room.zone, partial="grid")
    if not request.htmx:
        response.status_code = status
    return retarget(response, "#calendar") if request.htmx else response


@require_http_methods(["GET", "POST"])
@login_required
@book_required
def calendar_move(request, visit_id):
    """GET: the move panel of an appointment (next free slot, a day and time, or cancel it). POST: where
    it goes (the next free slot, a time, or where it was dropped) is asked first; the answer `confirmed`
    moves it. The booking service decides; a refusal says why (409 for a plain form post)."""
    visit = visit_get(account=request.user.account, user=request.user, visit_id=visit_id)
    room = visit.room
    view = request.GET.get("view") or request.POST.get("view") or "day"
    if request.method == "GET":
        day = visit.start.astimezone(room.zone).date()
        query = {"room": room.pk, "day": day.isoformat(), "view": view}
        context = {
            **_calendar_context(request, query),
            "moving": visit,
            "moving_day": day,
            "moving_when": _local_when(visit, room.zone),
        }
        audit.audit_record(request, audit.Action.READ, visit)
        return _render(request, CALENDAR, context, zone=room.zone, partial="move")
    form = CalendarMoveForm(request.POST)
    if not form.is_valid():
        message = _first_error(form) or "Choose the new time."
        return _calendar_answer(request, visit, view=view, status=400, message=message, level="danger")
    data = form.cleaned_data
    if data["next_free"]:
        start = selectors.next_free_start(visit=visit)
    elif data["start"]:
        start = data["start"]
    else:
        start = int(dt.datetime.combine(data["day"], data["time"], tzinfo=room.zone).timestamp())
    if start is None:
        message = "No free slot in the next two weeks."
        return _calendar_answer(request, visit, view=view, status=409, message=message, level="warning")
    provider_id = data["provider"] if data["provider"] and data["provider"] != visit.provider_id else None
    provider = (
        Provider.objects.for_account(request.user.account).in_room(room).select_related("user")
        .filter(pk=provider_id).first() if provider_id else visit.provider
    )  # fmt: skip
    who = provider.display_name if provider else "no provider yet"
    new_start = dt.datetime.fromtimestamp(start, dt.UTC)
    if not data["confirmed"]:
        audit.audit_record(request, audit.Action.READ, visit)
        question = {
            "visit": visit,
            "start": start,
            "provider": provider_id or "",
            "from": f"{_local_when(visit, room.zone)} with "
            + (visit.provider.display_name if visit.provider else "no provider yet"),
            "to": f"{_local_when(new_start, room.zone)} with {who}",
        }
        return _calendar_answer(request, visit, view=view, confirm_move=question)
    try:
        visit = services.appointment_update(
            account=request.user.account,
            actor=request.user,
            visit_id=visit.pk,
            start=new_start,
            provider_id=provider_id,
        )
    except ServiceError as exc:
        return _calendar_answer(request, visit, view=view, status=409, message=exc.message, level="warning")
    audit.audit_record(request, audit.Action.UPDATE, visit, detail="rescheduled on the calendar")
    message = f"Moved {visit.member.full_name} to {_local_when(visit, room.zone)} with {who}."
    return _calendar_answer(request, visit, view=view, message=message, level="success")


@require_POST
@login_required
@book_required
def calendar_cancel(request, visit_id):
    """Cancel from the calendar: the block stays, struck through, with Undo for a few minutes."""
    visit = visit_get(account=request.user.account, user=request.user, visit_id=visit_id)
    view = request.POST.get("view") or "day"
    visit, refused = _cancel(request, visit)
    if refused:
        return _calendar_answer(request, visit, view=view, status=409, message=refused, level="warning")
    minutes = services.UNDO_SECONDS // 60
    message = f"Cancelled the appointment of {visit.member.full_name}. Undo is offered for {minutes} minutes."
    return _calendar_answer(request, visit, view=view, message=message, level="success", undo_visit=visit)


@require_POST
@login_required
@book_required
def calendar_undo(request, visit_id):
    """Undo a cancellation: book the same appointment again, if its time is still free."""
    visit = visit_get(account=request.user.account, user=request.user, visit_id=visit_id)
    view = request.POST.get("view") or "day"
    try:
        booked = services.appointment_cancel_undo(
            account=request.user.account, actor=request.user, visit_id=visit.pk
        )
    except ServiceError as exc:
        return _calendar_answer(request, visit, view=view, status=409, message=exc.message, level="warning")
    audit.audit_record(request, audit.Action.CREATE, booked, detail="cancellation undone")
    message = f"Booked {booked.member.full_name} again: {_local_when(booked, booked.room.zone)}."
    return _calendar_answer(request, booked, view=view, message=message, level="success")


# --- working hours (clinic admins) -----------------------------------------------------------------------


def _field_error(form, exc: ServiceError) -> None:
    """A service's refusal, beside the field it names (in words), or above the form."""
    field = next((f for f in (exc.errors or {}) if f in form.fields), None)
    form.add_error(field, exc.message)


def _entry_to_remove(request, *, account, provider, action: str) -> dict | None:
    """What a Remove button names, for the question asked before it is removed."""
    entry_id = request.POST.get("id", "")
    entries = (
        selectors.provider_hours(account=account, provider=provider)
        if action == "delete_hours"
        else selectors.provider_exceptions(account=account, provider=provider, since=dt.date.min)
    )
    entry = entries.filter(pk=entry_id).first() if entry_id.isdigit() else None
    if entry is None:
        return None
    if action == "delete_hours":
        what = f"{entry.get_weekday_display()} {window_label(entry)} in {entry.room.name}"
    else:
        what = f"{entry.get_kind_display().lower()} from {entry.start_date:%Y-%m-%d}, {window_label(entry)}"
    return {"action": action, "id": entry.pk, "what": what}


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
    confirm_remove = None
    back = f"{request.path}?provider={provider.pk}"
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "add_hours":
            hours_form = WorkingHoursForm(request.POST, rooms=rooms, prefix="hours")
            if hours_form.is_valid():
                data = hours_form.cleaned_data
                try:
                    services.working_hours_add(
                        account=account,
                        actor=request.user,
                        provider_id=provider.pk,
                        room_id=data["room"].pk,
                        weekday=data["weekday"],
                        start_time=data["start_time"],
                        end_time=data["end_time"],
                    )
                except ServiceError as exc:
                    _field_error(hours_form, exc)
                else:
                    messages.success(request, "Working hours added.")
                    return redirect(back)
        elif action == "add_exception":
            exception_form = ScheduleExceptionForm(request.POST, rooms=rooms, prefix="exception")
            if exception_form.is_valid():
                data = exception_form.cleaned_data
                try:
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
                except ServiceError as exc:
                    _field_error(exception_form, exc)
                else:
                    messages.success(request, "Exception added.")
                    return redirect(back)
        elif action in ("delete_hours", "delete_exception"):
            if request.POST.get("confirmed") != "yes":
                # Removing asks first: the page comes back with the question and the two answers.
                confirm_remove = _entry_to_remove(request, account=account, provider=provider, action=action)
                if confirm_remove is None:
                    messages.error(request, "That entry does not exist (any more).")
            else:
                try:
                    services.schedule_entry_delete(
                        account=account,
                        actor=request.user,
                        kind="hours" if action == "delete_hours" else "exception",
                        entry_id=request.POST.get("id"),
                    )
                except ServiceError as exc:
                    messages.error(request, exc.message)
                else:
                    messages.success(request, "Removed.")
                return redirect(back)
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
        "confirm_remove": confirm_remove,
    }
    return render(request, HOURS, context)


# --- providers' calendar feeds -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def feeds(request):
    """The provider's calendar feed: make a new secret URL (shown this once), or revoke it."""
    if not request.user.is_provider:
        raise PermissionDenied
    url = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.calendar_feed_revoke(actor=request.user)
            messages.success(request, "Your calendar feed is revoked: its URL no longer works.")
            return redirect("scheduling:feeds")
        secret = services.calendar_feed_create(actor=request.user)
        url = request.build_absolute_uri(reverse("scheduling:feed", args=[secret]))
    feed = selectors.calendar_feed_of(user=request.user)
    return render(request, FEEDS, {"feed": feed, "url": url})


@secret_url_page
@require_GET
def feed(request, secret):
    """The feed itself, polled by calendar apps without a session: the secret is the credential."""
    found = selectors.calendar_feed_contents(secret=secret)
    if found is None:
        raise Http404("No such feed.")
    provider, appointments, groups = found
    body = feed_calendar(
        provider=provider,
        appointments=appointments,
        groups=groups,
        base_url=request.build_absolute_uri("/").rstrip("/"),
        host=request.get_host().split(":")[0],
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="visits.ics"'
    return response
