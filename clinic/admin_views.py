"""The clinic admin's audit trail page: who saw or changed which patient's data, with a CSV export."""

import csv

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic import audit, selectors
from clinic.admin_forms import AuditFilterForm

PAGE = "clinic/audit.html"
PAGE_SIZE = 50

admins_only = permission_required("clinic.view_auditevent", raise_exception=True)


def _filtered(request, form: AuditFilterForm, zone):
    return audit.audit_events(account=request.user.account, user=request.user, **form.search_kwargs(zone))


@require_GET
@login_required
@admins_only
def audit_log(request):
    form = AuditFilterForm(request.GET)  # every filter is optional: no parameters lists everything
    zone = selectors.account_zone(account=request.user.account)
    context = {"form": form, "zone": zone}
    if form.is_valid():
        page = Paginator(_filtered(request, form, zone), PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(page=page, export_query=request.GET.urlencode())
    return render(request, PAGE, context)


class _Echo:
    """csv.writer's file: each row goes straight out of the streaming response."""

    def write(self, value: str) -> str:
        return value


# A cell a spreadsheet would run as a formula (OWASP's CSV injection) is written as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _csv_rows(events, zone):
    writer = csv.writer(_Echo())
    header = ["User", "Username", "Action", "What", "Object id", "Patient", "Patient code", "Via", "Address"]
    yield writer.writerow([f"When ({zone.key})", *header, "Detail"])
    for e in events.iterator(chunk_size=2000):
        yield writer.writerow(
            _cell(value)
            for value in (
                timezone.localtime(e.at, zone).strftime("%Y-%m-%d %H:%M:%S %Z"),
                e.actor_words,
                e.user.username if e.user else "",
                e.get_action_display(),
                e.get_object_type_display(),
                e.object_id,
                e.member.full_name if e.member else e.patient_words,
                e.member.code if e.member else "",
                e.get_via_display(),
                e.ip,
                e.detail,
            )
        )


@require_GET
@login_required
@admins_only
def audit_csv(request):
    """The filtered rows as CSV (all of them, not one page), streamed."""
    form = AuditFilterForm(request.GET)
    zone = selectors.account_zone(account=request.user.account)
    events = _filtered(request, form, zone) if form.is_valid() else None
    if events is None:
        return render(request, PAGE, {"form": form, "zone": zone}, status=400)
    response = StreamingHttpResponse(_csv_rows(events, zone), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(timezone.now(), zone).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response
