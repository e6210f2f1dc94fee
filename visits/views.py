"""The provider dashboard: live queues, accepting and finishing visits, and the visit page."""

import contextlib
import datetime as dt
import zoneinfo
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh, trigger_client_event

from clinic import audit
from clinic.decorators import htmx_login_required
from clinic.errors import Conflict, InvalidInput, NotAllowed, NotFound, ServiceError
from push import streams
from visits import selectors, services
from visits.dashboard_forms import VisitCloseForm, VisitCompleteForm, VisitNotesForm
from visits.formatting import patient_facts
from visits.html import sanitise_html
from visits.models import Priority, VisitStatus

DASHBOARD = "visits/dashboard.html"
# Sent after the provider's own accept/complete/close: the queues and "In progress" reload.
VISITS_CHANGED = "visits-changed"
IN_PROGRESS_CHANGED = "in-progress-changed"
# Draft saves arrive about once a second while a provider types. Each is a change of patient data, but
# one audit row per keystroke pause would bury the trail (and cost an insert per save): a provider's
# drafts of one visit are recorded once per this many seconds, the first save always. The trail then
# says who wrote notes on whose visit and when to within minutes; the draft row holds the text.
DRAFT_AUDIT_SECONDS = 300


def provider_required(view):
    """Logged-in providers who may accept visits (an expired htmx request goes to the login page)."""

    @htmx_login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not (user.is_provider and user.has_perm("visits.accept_visit")):
            raise PermissionDenied("The dashboard is for providers.")
        return view(request, *args, **kwargs)

    return wrapper


def _wait_level(waited: int, limit: int | None) -> str:
    if not limit:
        return "ok"
    if waited >= limit:
        return "overdue"
    return "warning" if waited >= limit * settings.QUEUE_WAIT_WARNING_FRACTION else "ok"


def _duration(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


_DERIVED = {True: ' class="derived"', False: ""}  # a label the room did not name is capitalised
_URGENT = mark_safe('<span class="badge text-bg-danger urgent me-1">Urgent</span>')
_APPOINTMENT = ' <span class="badge text-bg-info">Appointment</span>'
_FOR_YOU = ' <span class="badge text-bg-primary for-you">For you</span>'


def _wait_html(waited: int, limit: int | None) -> str:
    """The row's wait clock and, under a limit, its share of the maximum waiting time (static/js/live.js
    ticks both)."""
    clock = f'<span class="wait-clock">{_duration(waited)}</span>'
    if not limit:
        return mark_safe(f'<div class="wait small" data-waited="{waited}" data-max="">{clock}</div>')
    percent = min(100, waited * 100 // limit)
    return mark_safe(
        f'<div class="wait small" data-waited="{waited}" data-max="{limit}">{clock}'
        f'<span class="text-body-secondary"> / {_duration(limit)}</span></div>'
        '<div class="progress wait-progress mb-2" role="progressbar" '
        f'aria-label="Share of the maximum waiting time" aria-valuenow="{percent}">'
        f'<div class="progress-bar" style="width: {percent}%"></div></div>'
    )


def _queue_rows(visits, *, now) -> list[dict]:
    """What a row shows (and, as "visit", the visit it shows), prepared here so that the row template
    stays lean: it is rendered for every changed refresh of every open dashboard. Dicts, not the visits'
    attributes: the template finds a dict's key at its first try (an attribute only after a failed
    subscript), which was a fifth of the partial's rendering time. The parts made of numbers and fixed
    words (the wait box, the badges, the row's classes) are markup made here: each template variable costs
    about as much as a line of Python, and a row had forty of them. Everything from the patient or the
    room is escaped here or by the template."""
    today: dict[str, dt.date] = {}  # by the room's zone
    rows = []
    for visit in visits:
        intake = visit.intake
        room = visit.room
        limit = room.max_waiting_time
        if room.time_zone not in today:
            today[room.time_zone] = now.astimezone(room.zone).date()
        answers = room.intake_answers(intake.custom if intake else {})
        on_row = [a for a in answers if a.on_row]
        waited = max(int((now - visit.created).total_seconds()), 0)
        level = _wait_level(waited, limit)
        count = visit.attachment_count
        rows.append(
            {
                "visit": visit,
                "pk": visit.pk,
                "patient_name": visit.member.full_name if visit.member else "Unknown patient",
                # The answers as markup here: a template loop over them was a quarter of a row's rendering.
                "row_class": f"wait-{level}" if visit.licensed else f"wait-{level} unlicensed",
                "badges_before": _URGENT if visit.priority == Priority.URGENT else "",
                "badges_after": mark_safe(
                    (
                        f' <span class="badge rounded-pill text-bg-light border attachment-badge" '
                        f'title="Attachments">&#128206; {count}</span>'
                        if count
                        else ""
                    )
                    + (_APPOINTMENT if visit.appointment_id else "")
                    + (_FOR_YOU if visit.provider_id else "")
                ),
                "fields_html": mark_safe(
                    "".join(
                        f"<dt{_DERIVED[a.derived]}>{escape(a.label)}</dt>"
                        f'<dd class="clamp">{escape(a.value)}</dd>'
                        for a in on_row
                    )
                ),
                "age_sex": selectors.patient_age_sex(visit.member, today=today[room.time_zone]),
                "reason": (intake.reason_for_visit if intake else "") or "No reason given",
                "location": intake.location if intake else "",
                "room_name": room.name,
                "hidden_fields": len(answers) - len(on_row),
                "licensed": visit.licensed,
                "wait_html": _wait_html(waited, limit),
            }
        )
    return rows


def _queues_context(request, state: selectors.QueueState) -> dict:
    now = timezone.now()
    pages = selectors.provider_queue_pages(user=request.user, limit=settings.QUEUE_PAGE_SIZE, now=now)
    for visit in pages.left_unseen:
        visit.left_words = selectors.left_unseen_words(visit)
    return {
        "queue": state,
        "walkins": _queue_rows(pages.walkins, now=now),
        "econsults": _queue_rows(pages.econsults, now=now),
        "left_unseen": pages.left_unseen,
        "waiting_total": state.walkin_count + state.econsult_count,
        # The row's links, by visit id (reversing per row costs a tenth of the partial's time).
        "detail_prefix": reverse("visits:detail", args=[0]).removesuffix("0/"),
        "refresh_seconds": settings.QUEUE_REFRESH_SECONDS,
        # A poll that hangs longer than two periods counts as a lost connection.
        "refresh_timeout_ms": settings.QUEUE_REFRESH_SECONDS * 2000,
        "warn_fraction": settings.QUEUE_WAIT_WARNING_FRACTION,
        "accept_url": reverse("visits:accept"),
    }


def _card(
    visit, *, provider, draft=None, data=None, error: str = "", form_name: str = "", page: str = "dashboard"
) -> dict:
    """A visit the provider is on, as a dashboard card or the visit page's actions: in progress (complete,
    close), or ended before its notes were saved (save them, or dismiss the card). The notes textarea
    holds the provider's draft."""
    zone = zoneinfo.ZoneInfo(provider.time_zone)
    notes = {
        "visit_id": visit.pk,
        "draft": draft,
        "draft_saved": f"{timezone.localtime(draft.saved, zone):%H:%M}" if draft and draft.saved else "",
        "page": page,
    }
    card = {
        "visit": visit,
        "left": visit.status != VisitStatus.IN_PROGRESS,
        "facts": patient_facts(visit.member, timezone.localdate(timezone=zone)),
        "call_url": visit.meeting_link("provider"),
        "error": error,
    }
    if card["left"]:
        card["ended"] = services.visit_end_words(visit)
        # A visit completed without notes may get them later too; only a closed one was left.
        card["title"] = (
            "Patient left: finish your notes" if visit.status == VisitStatus.CANCELLED else "Add your notes"
        )
        if services.visit_notes_open(provider=provider, visit=visit):
            # Completing a visit the patient had just left: the notes sent are kept in the form.
            typed = {"notes": data.get("notes", "")} if data and form_name == "complete" else None
            card["notes_form"] = VisitNotesForm(
                data if form_name == "notes" else None, initial=typed, **notes
            )
    else:
        card["complete_form"] = VisitCompleteForm(data if form_name == "complete" else None, **notes)
        card["close_form"] = VisitCloseForm(
            data if form_name == "close" else None, visit_id=visit.pk, page=page
        )
    return card


def _in_progress_context(provider, version: str) -> dict:
    found = selectors.provider_cards(provider=provider)
    return {
        "in_progress_version": version,
        "cards": [
            _card(visit, provider=provider, draft=found.drafts.get(visit.pk)) for visit in found.in_progress
        ],
        "left_cards": [
            _card(visit, provider=provider, draft=found.drafts.get(visit.pk)) for visit in found.left
        ],
        # Changes made elsewhere (the patient left, another device) come over the stream
        # (static/js/dashboard.js); this slow poll covers a stream that is down.
        "in_progress_refresh_seconds": settings.QUEUE_REFRESH_SECONDS * 5,
    }


def _card_visits(context: dict) -> list:
    return [card["visit"] for card in (*context["cards"], *context["left_cards"])]


def _today_context(provider) -> dict:
    return {"today": selectors.provider_visits_today(provider=provider, now=timezone.now())}


def _render(request, template: str, context: dict, **kwargs) -> HttpResponse:
    provider = request.user.provider
    with timezone.override(provider.time_zone):
        return render(request, template, {"provider": provider, **context}, **kwargs)


@require_GET
@provider_required
def dashboard(request):
    provider = request.user.provider
    # The version is read before the rows: a change in between shows as a new version at the next poll.
    state = selectors.provider_queue_state(user=request.user)
    context = {
        **_queues_context(request, state),
        **_in_progress_context(provider, selectors.provider_in_progress_version(provider=provider)),
        **_today_context(provider),
    }
    # Everyone the page shows, in one insert.
    audit.audit_record_many(
        request,
        audit.Action.LIST,
        [
            *(row["visit"] for row in (*context["walkins"], *context["econsults"])),
            *context["left_unseen"],
            *_card_visits(context),
            *context["today"],
        ],
    )
    return _render(request, DASHBOARD, context)


@require_GET
def queues(request):
    """The poll: 204 and no body while the queues are unchanged since the version the page holds.

    That answer costs one query beyond the session: the version is read by the user's id and reveals
    nothing, so the provider and permission checks are left to the render of a changed queue."""
    if request.user.is_authenticated:
        state = selectors.provider_queue_state(user=request.user)
        if request.GET.get("v") == state.version:
            return HttpResponse(status=204)
    else:
        state = None
    return _queues_changed(request, state)


@provider_required
def _queues_changed(request, state: selectors.QueueState):
    context = _queues_context(request, state)
    shown = [row["visit"] for row in (*context["walkins"], *context["econsults"])]
    audit.audit_record_many(request, audit.Action.LIST, [*shown, *context["left_unseen"]])
    return _render(request, f"{DASHBOARD}#queues", context)


@require_GET
async def queue_events(request):
    """The event stream (async, served under ASGI) of the dashboard and the clinic board: they reload when
    told a room's queue (or visits in progress) changed. No patient data travels on it; the reload is the
    page's own partial, as audited as ever (selectors.queue_audience says who hears what)."""
    return await streams.stream_response(
        request, audience_of=lambda user: selectors.queue_audience(user=user)
    )


@require_GET
@provider_required
def in_progress(request):
    """Reloaded after the provider's own actions and polled slowly for changes made elsewhere; 204 and no
    body while unchanged. A changed section tells "My visits today" to reload too."""
    provider = request.user.provider
    version = selectors.provider_in_progress_version(provider=provider)
    if request.GET.get("v") == version:
        return HttpResponse(status=204)
    context = _in_progress_context(provider, version)
    audit.audit_record_many(request, audit.Action.LIST, _card_visits(context))
    response = _render(request, f"{DASHBOARD}#in_progress", context)
    return trigger_client_event(response, IN_PROGRESS_CHANGED)


@require_GET
@provider_required
def today(request):
    context = _today_context(request.user.provider)
    audit.audit_record_many(request, audit.Action.LIST, context["today"])
    return _render(request, f"{DASHBOARD}#today", context)


def _changed() -> HttpResponse:
    """The acted-on row or card goes away (an empty swap); the sections listening reload."""
    return trigger_client_event(HttpResponse(""), VISITS_CHANGED)


@require_POST
@provider_required
def accept(request):
    """Take the patient (`id` in the body, as POST /visits/accept) with the API's race-free service."""
    visit_id = request.POST.get("id", "")
    try:
        visit = services.visit_accept(account=request.user.account, actor=request.user, visit_id=visit_id)
    except (Conflict, NotAllowed, NotFound) as exc:
        # Shown in place of the row; the row itself goes at the next poll.
        return _render(request, "visits/_queue_message.html", {"visit_id": visit_id, "message": str(exc)})
    audit.audit_record(request, audit.Action.UPDATE, visit, detail="accepted")
    return _changed()


def _on_detail_page(request) -> bool:
    return request.GET.get("page") == "detail"


def _done(request, visit_id: int) -> HttpResponse:
    """After a successful complete, close or notes: the dashboard's card goes; the visit page reloads
    (without htmx, a plain form post, the page it came from comes back)."""
    if not request.htmx:
        return (
            redirect("visits:detail", visit_id) if _on_detail_page(request) else redirect("visits:dashboard")
        )
    return HttpResponseClientRefresh() if _on_detail_page(request) else _changed()


def _card_after_error(request, visit_id: int, *, form_name: str, error: str = "") -> HttpResponse:
    user = request.user
    try:
        visit = selectors.visit_get(account=user.account, user=user, visit_id=visit_id)
    except NotFound:
        return _changed()
    audit.audit_record(request, audit.Action.READ, visit)
    if _on_detail_page(request):
        actions = _detail_actions(user, visit, data=request.POST, error=error, form_name=form_name)
        if actions["actions"] is None:
            return HttpResponseClientRefresh()  # nothing left to do here (finished elsewhere): show it
        return _render(request, "visits/visit_detail.html#actions", actions)
    card = _card(
        visit,
        provider=user.provider,
        draft=selectors.note_draft_of(visit=visit, provider=user.provider),
        data=request.POST,
        error=error,
        form_name=form_name,
    )
    return _render(request, f"{DASHBOARD}#in_progress_card", {"card": card})


def _error_words(exc: ServiceError) -> str:
    """A service's refusal as a sentence (an InvalidInput's own sentence, not "field: problem")."""
    if isinstance(exc, InvalidInput) and exc.errors:
        return next(iter(exc.errors.values()))[0]
    return str(exc)


@require_POST
@provider_required
def complete(request, visit_id: int):
    form = VisitCompleteForm(request.POST, visit_id=visit_id)
    if not form.is_valid():
        return _card_after_error(request, visit_id, form_name="complete")
    try:
        visit = services.visit_complete(
            account=request.user.account,
            actor=request.user,
            visit_id=visit_id,
            notes=form.cleaned_data["notes"],
        )
    except (Conflict, NotAllowed, NotFound) as exc:
        # The patient left first: the card turns into "Patient left" with the notes as typed.
        return _card_after_error(request, visit_id, form_name="complete", error=str(exc))
    notes = ", with notes" if visit.notes else ""
    audit.audit_record(request, audit.Action.UPDATE, visit, detail=f"completed{notes}")
    return _done(request, visit.pk)


@require_POST
@provider_required
def close(request, visit_id: int):
    form = VisitCloseForm(request.POST, visit_id=visit_id)
    if not form.is_valid():
        return _card_after_error(request, visit_id, form_name="close")
    try:
        visit, changed = services.visit_close(
            account=request.user.account,
            actor=request.user,
            visit_id=visit_id,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
    except (Conflict, InvalidInput, NotAllowed, NotFound) as exc:
        return _card_after_error(request, visit_id, form_name="close", error=str(exc))
    if changed:
        audit.audit_record(
            request, audit.Action.UPDATE, visit, detail=f"closed: {form.cleaned_data['reason']}"
        )
    return _done(request, visit.pk)


@require_POST
@provider_required
def notes_draft(request, visit_id: int):
    """The notes textarea's draft, saved as the provider types (static/js/notes.js): JSON, for a script."""
    try:
        draft = services.note_draft_save(
            account=request.user.account,
            actor=request.user,
            visit_id=visit_id,
            text=request.POST.get("notes", ""),
        )
    except (Conflict, InvalidInput, NotAllowed, NotFound) as exc:
        return JsonResponse({"message": _error_words(exc)}, status=exc.status_code)
    if cache.add(f"audit:draft:{request.user.pk}:{draft.visit_id}", True, timeout=DRAFT_AUDIT_SECONDS):
        audit.audit_record(request, audit.Action.UPDATE, draft.visit, detail="notes draft saved")
    saved = timezone.localtime(draft.saved, zoneinfo.ZoneInfo(request.user.provider.time_zone))
    return JsonResponse({"revision": draft.revision, "saved": f"{saved:%H:%M}"})


@require_POST
@provider_required
def notes_add(request, visit_id: int):
    """Notes on the provider's visit that ended before they completed it (the patient left)."""
    form = VisitNotesForm(request.POST, visit_id=visit_id)
    if not form.is_valid():
        return _card_after_error(request, visit_id, form_name="notes")
    try:
        visit = services.visit_notes_add(
            account=request.user.account,
            actor=request.user,
            visit_id=visit_id,
            notes=form.cleaned_data["notes"],
        )
    except (Conflict, InvalidInput, NotAllowed, NotFound) as exc:
        return _card_after_error(request, visit_id, form_name="notes", error=_error_words(exc))
    audit.audit_record(request, audit.Action.UPDATE, visit, detail="notes added")
    return _done(request, visit.pk)


@require_POST
@provider_required
def notes_dismiss(request, visit_id: int):
    """Take a "Patient left" card off the dashboard (its draft stays, for the visit page)."""
    # Nothing of theirs to dismiss: the card goes either way.
    with contextlib.suppress(NotAllowed, NotFound):
        services.note_draft_dismiss(account=request.user.account, actor=request.user, visit_id=visit_id)
    return _done(request, visit_id)


def _detail_actions(user, visit, *, data=None, error: str = "", form_name: str = "") -> dict:
    """The visit page's Complete and Close (a visit the provider holds in progress), or its notes form
    (their visit that ended before notes were saved): the dashboard card's forms and services."""
    if not user.is_provider or not services.visit_notes_open(provider=user.provider, visit=visit):
        return {"actions": None}
    draft = selectors.note_draft_of(visit=visit, provider=user.provider)
    card = _card(
        visit, provider=user.provider, draft=draft, data=data, error=error, form_name=form_name, page="detail"
    )
    return {"actions": card, "visit": visit}


@require_GET
@login_required
@permission_required("visits.view_visit", raise_exception=True)
def visit_detail(request, visit_id: int):
    user = request.user
    try:
        visit = selectors.visit_get(account=user.account, user=user, visit_id=visit_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    audit.audit_record(request, audit.Action.READ, visit, *([visit.intake] if visit.intake else []))
    zone = user.provider.time_zone if user.is_provider else visit.room.time_zone
    clinical = selectors.sees_clinical_content(user)
    context = {
        "visit": visit,
        "events": selectors.visit_events(visit=visit),
        "clinical": clinical,
        "facts": patient_facts(visit.member, timezone.localdate(timezone=zoneinfo.ZoneInfo(zone))),
        "addenda": list(visit.intake.addenda.select_related("author")) if visit.intake_id else [],
        # Stored sanitised; cleaned again here because this page marks it safe.
        "notes_html": mark_safe(sanitise_html(visit.notes)) if clinical else "",
        # The room's names and order for its intake fields (derived labels for the rest), as on the rows.
        "custom_fields": [
            (answer.label, answer.value)
            for answer in visit.room.intake_answers(visit.intake.custom if visit.intake else {})
        ],
        "zone": zone,
        **(_detail_actions(user, visit) if clinical else {"actions": None}),
    }
    with timezone.override(zone):
        return render(request, "visits/visit_detail.html", context)
