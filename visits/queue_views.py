"""A queue row's preview on the provider dashboard: every intake answer and the patient's files, fetched
(and audited as a read) only when the provider expands the row."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic import audit
from clinic.errors import NotFound
from visits import selectors
from visits.views import provider_required


@require_GET
@provider_required
def queue_preview(request, visit_id: int):
    user = request.user
    try:
        visit = selectors.visit_get(account=user.account, user=user, visit_id=visit_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    audit.audit_record(request, audit.Action.READ, visit, *([visit.intake] if visit.intake else []))
    intake = visit.intake
    context = {
        "visit": visit,
        "answers": visit.room.intake_answers(intake.custom if intake else {}),
        "clinical": selectors.sees_clinical_content(user),
    }
    return render(request, "visits/_queue_preview.html", context)
