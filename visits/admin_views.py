"""The clinic admin's visits page: find visits, download their PDF summaries, export them in bulk."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clinic import audit
from clinic.decorators import htmx_login_required
from clinic.errors import NotAllowed, NotFound
from visits import analytics, formatting, selectors
from visits.admin_forms import VisitFilterForm
from visits.models import SummaryExport, VisitStatus, VisitSummary
from visits.summaries import exports
from visits.summaries import selectors as summary_selectors
from visits.summaries import services as summary_services

PAGE = "visits/admin_visits.html"
PAGE_SIZE = 25
# How often the page asks whether a PDF or a ZIP is ready.
POLL_SECONDS = 1
SORT_COLUMNS = [
    ("start", "Time"),
    ("patient", "Patient"),
    ("room", "Room"),
    ("provider", "Provider"),
    ("type", "Type"),
    ("status", "Status"),
]


def admins_only(view):
    """Clinic admins only (an expired htmx request, a polling cell, goes to the login page)."""
    return htmx_login_required(permission_required("visits.view_all_visits", raise_exception=True)(view))


def _form(request, data):
    return VisitFilterForm(data, account=request.user.account, results_url=reverse("visits:admin-visits"))


def _filtered(request, form):
    kwargs = form.search_kwargs()
    zone = selectors.admin_zone(account=request.user.account, room=kwargs["room"])
    visits = selectors.admin_visit_search(
        account=request.user.account, user=request.user, zone=zone, **kwargs
    )
    return visits, zone


def _cell(visit, summary: VisitSummary | None) -> dict:
    if not visit.has_happened:
        state = "not-happened"
    elif summary_selectors.summary_is_current(summary=summary, visit=visit):
        state = "ready"
    elif summary is not None and summary.status in (VisitSummary.Status.PENDING, VisitSummary.Status.FAILED):
        state = summary.status
    else:
        state = "none"
    return {"visit": visit, "state": state, "poll_seconds": POLL_SECONDS}


@require_GET
@admins_only
def admin_visits(request):
    form = _form(request, request.GET)  # every filter is optional: no parameters lists all visits
    context = {"form": form, "poll_seconds": POLL_SECONDS}
    if form.is_valid():
        visits, zone = _filtered(request, form)
        page = Paginator(
            analytics.with_wait(visits.with_related().prefetch_related(None)), PAGE_SIZE
        ).get_page(request.GET.get("page"))
        audit.audit_record_many(request, audit.Action.LIST, page.object_list)
        summaries_of = summary_selectors.summaries_by_visit(v.pk for v in page.object_list)
        now = timezone.now()
        for visit in page.object_list:
            visit.local_start = formatting.format_local(visit.start or visit.created, visit.room.zone)
            visit.wait_display = formatting.format_duration(analytics.row_wait(visit, now=now))
            visit.waiting_now = visit.status == VisitStatus.WAITING
        context.update(
            page=page,
            rows=[_cell(v, summaries_of.get(v.pk)) for v in page.object_list],
            zone=zone,
            counts=analytics.status_counts(visits),
            total=page.paginator.count,
            waits=analytics.with_left_unseen(analytics.wait_stats(visits), visits),
            sort=form.cleaned_data.get("sort") or "-start",
            sort_columns=SORT_COLUMNS,
            # The filters behind the list shown (not whatever was typed since) go with the export button.
            applied=[(name, form.data[name]) for name in form.fields if form.data.get(name)],
            export_limit=exports.EXPORT_MAX_VISITS,
        )
    # A history restore (back button, cache missed) needs the whole page, not the results.
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, f"{PAGE}#results", context)
    return render(request, PAGE, context)


def _summary_visit(request, visit_id):
    try:
        return summary_selectors.summary_visit_for(
            account=request.user.account, user=request.user, visit_id=visit_id
        )
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc


@require_POST
@admins_only
def admin_summary_request(request, visit_id: int):
    """The row's "Download PDF": start the render; the cell then polls until the link is there."""
    visit = _summary_visit(request, visit_id)
    summary = summary_services.summary_request(visit=visit)
    return render(request, "visits/_admin_summary_cell.html", _cell(visit, summary))


@require_GET
@admins_only
def admin_summary_status(request, visit_id: int):
    visit = _summary_visit(request, visit_id)
    return render(
        request, "visits/_admin_summary_cell.html", _cell(visit, summary_selectors.summary_of(visit))
    )


@require_GET
@admins_only
def admin_summary_download(request, visit_id: int):
    """Sends the stored PDF if it is current; a GET never starts a render (the row's button POSTs)."""
    visit = _summary_visit(request, visit_id)
    summary = summary_selectors.summary_of(visit)
    if not summary_selectors.summary_stored_and_current(summary, visit):
        messages.info(request, f"The summary of visit #{visit.pk} must be prepared first: press Prepare PDF.")
        return redirect("visits:admin-visits")
    summary_services.summary_download_record(account=request.user.account, visit=visit, user=request.user)
    audit.audit_record(request, audit.Action.DOWNLOAD, visit, detail="PDF summary")
    return FileResponse(
        summary.file.open("rb"),
        as_attachment=True,
        filename=summary_selectors.download_file_name(visit),
        content_type="application/pdf",
    )


def _export_context(export: SummaryExport) -> dict:
    percent = export.done * 100 // export.total if export.total else 100
    return {"export": export, "percent": percent, "poll_seconds": POLL_SECONDS}


@require_POST
@admins_only
def admin_export_create(request):
    """Export the visits the filters match (the form's fields come along with the button)."""
    form = _form(request, request.POST)
    if not form.is_valid():
        return render(request, "visits/_admin_export.html", {"error": "Fix the filters first."})
    visits, _ = _filtered(request, form)
    try:
        export = exports.export_create(
            account=request.user.account,
            actor=request.user,
            visit_ids=list(visits.values_list("pk", flat=True)[: exports.EXPORT_MAX_VISITS]),
            # As submitted (ids, not names): what the admin asked for, for the record.
            filters={name: form.data[name] for name in form.fields if form.data.get(name)},
        )
    except NotAllowed as exc:
        return render(request, "visits/_admin_export.html", {"error": exc.message})
    return render(request, "visits/_admin_export.html", _export_context(export))


def _export(request, export_id):
    try:
        return exports.export_get(account=request.user.account, export_id=export_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@require_GET
@admins_only
def admin_export_status(request, export_id):
    return render(request, "visits/_admin_export.html", _export_context(_export(request, export_id)))


@require_GET
@admins_only
def admin_export_download(request, export_id):
    export = _export(request, export_id)
    if export.status != SummaryExport.Status.READY:
        raise Http404("The export is not ready.")
    exports.export_download_record(export=export, user=request.user)
    audit.audit_record_many(
        request,
        audit.Action.DOWNLOAD,
        summary_selectors.export_visits(export=export),
        detail=f"PDF summary in ZIP export {export.pk}",
    )
    return FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=exports.export_file_name(export),
        content_type="application/zip",
    )


@require_GET
@admins_only
def admin_downloads(request):
    """Who downloaded which visit's summary, and when."""
    downloads = selectors.recent_downloads(account=request.user.account, user=request.user)
    page = Paginator(downloads, 50).get_page(request.GET.get("page"))
    # A ZIP's entry names no patient: only single downloads show patient data.
    audit.audit_record_many(request, audit.Action.LIST, [d.visit for d in page if d.visit_id])
    zone = selectors.admin_zone(account=request.user.account)
    return render(request, "visits/admin_visits_downloads.html", {"page": page, "zone": zone})
