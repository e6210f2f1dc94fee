"""Reads of PDF visit summaries: who may fetch which, and whether the stored one is current.

A summary is current while the visit, its intake and its patient have not changed since it was
rendered (`source_modified`)."""

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from clinic.errors import NotAllowed
from clinic.models import Account, User
from visits.models import SummaryExport, Visit, VisitSummary
from visits.selectors import sees_clinical_content, visit_get


def summary_visit_for(*, account: Account, user: User, visit_id) -> Visit:
    """The visit whose summary `user` may download: any visit they see, if they see clinical content
    (visits.selectors.sees_clinical_content). Another account's visit, or one the user cannot see at
    all, is NotFound."""
    visit = visit_get(account=account, user=user, visit_id=visit_id)
    if not sees_clinical_content(user):
        raise NotAllowed("Visit summaries hold clinical notes: providers and clinic admins download them.")
    return visit


def source_stamp(visit: Visit) -> dt.datetime:
    """The newest change among what the summary shows: the visit, its intake answers, the patient."""
    stamps = [visit.modified]
    if visit.intake_id:
        stamps.append(visit.intake.modified)
    if visit.member_id:
        stamps.append(visit.member.modified)
    return max(stamps)


def summary_is_current(*, summary: VisitSummary | None, visit: Visit) -> bool:
    return bool(
        summary is not None
        and summary.status == VisitSummary.Status.READY
        and summary.file
        and summary.source_modified == source_stamp(visit)
    )


def summary_stored_and_current(summary: VisitSummary | None, visit: Visit) -> bool:
    # A file lost from storage (restored database, wiped media) is rendered again, not a 500.
    return summary_is_current(summary=summary, visit=visit) and summary.file.storage.exists(summary.file.name)


def summary_of(visit: Visit) -> VisitSummary | None:
    return VisitSummary.objects.filter(visit=visit).first()


def summaries_by_visit(visit_ids) -> dict[int, VisitSummary]:
    return {s.visit_id: s for s in VisitSummary.objects.filter(visit_id__in=list(visit_ids))}


def download_file_name(visit: Visit) -> str:
    patient = slugify(visit.member.full_name) if visit.member_id else "patient"
    day = timezone.localtime(visit.start or visit.created, visit.room.zone).date().isoformat()
    return f"visit-summary-{visit.pk}-{patient}-{day}.pdf"


def export_visits(*, export: SummaryExport) -> QuerySet[Visit]:
    """The visits whose summaries a bulk export holds (for the audit trail of its download)."""
    return (
        Visit.objects.for_account(export.account_id)
        .filter(pk__in=export.visit_ids)
        .only("pk", "account_id", "member_id")
    )
