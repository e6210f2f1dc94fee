"""PDF visit summaries: requesting one, rendering and storing it, and recording downloads.

Rendering happens in a Celery task (visits.tasks.render_visit_summary), which calls summary_render."""

import datetime as dt
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from clinic.jobs import enqueue_on_commit
from clinic.models import Account, User
from visits.models import SummaryDownload, Visit, VisitSummary, summary_upload_to
from visits.summaries.render import render_summary_pdf
from visits.summaries.selectors import (
    source_stamp,
    summary_is_current,
    summary_of,
    summary_stored_and_current,
    summary_visit_for,
)

# Seconds a client is asked to wait before asking again for a summary still rendering.
RETRY_AFTER_SECONDS = 2
# A summary pending longer than this lost its task (broker outage, worker killed): enqueue it again.
PENDING_RETRY_AFTER = dt.timedelta(seconds=60)


@transaction.atomic
def summary_request(*, visit: Visit, dedupe: bool = True) -> VisitSummary:
    """Make sure a current summary exists or is on its way; enqueue the render after commit.

    With `dedupe`, a render requested moments ago is not enqueued again (clients poll). A broker
    outage must not turn a visit that was just completed into an error after it committed: the
    summary stays pending and is enqueued again when asked for past PENDING_RETRY_AFTER."""
    summary, created = VisitSummary.objects.select_for_update().get_or_create(visit=visit)
    if summary_is_current(summary=summary, visit=visit):
        return summary
    on_its_way = (
        summary.status == VisitSummary.Status.PENDING
        and timezone.now() - summary.requested < PENDING_RETRY_AFTER
    )
    if dedupe and on_its_way and not created:
        return summary
    summary.status = VisitSummary.Status.PENDING
    summary.error = ""
    summary.save(update_fields=["status", "error", "requested"])
    enqueue_on_commit("visits.tasks.render_visit_summary", visit.pk)
    return summary


def summary_request_for(*, visit_id: int) -> None:
    """The lifecycle's hook (visits.lifecycle): called inside the transaction that ended the visit; the
    render it enqueues runs after the commit, so it sees the finished visit."""
    visit = Visit.objects.with_related().get(pk=visit_id)
    summary_request(visit=visit, dedupe=False)


def summary_render(*, visit_id: int, force: bool = False) -> VisitSummary | None:
    """Render and store the visit's summary unless the stored one is current. Idempotent.

    The PDF is built outside any lock (it takes a while); the row is then locked to store it, so two
    workers rendering the same visit never both write."""
    visit = Visit.objects.with_related().filter(pk=visit_id).first()
    if visit is None:
        return None  # deleted meanwhile: nothing to render
    summary, _ = VisitSummary.objects.get_or_create(visit=visit)
    if not force and summary_stored_and_current(summary, visit):
        return summary
    stamp = source_stamp(visit)
    try:
        pdf = render_summary_pdf(visit)
    except Exception as exc:
        VisitSummary.objects.filter(pk=summary.pk).update(
            status=VisitSummary.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    with transaction.atomic():
        summary = VisitSummary.objects.select_for_update().select_related("visit").get(pk=summary.pk)
        if not force and summary.status == VisitSummary.Status.READY and summary.source_modified == stamp:
            return summary  # another worker stored the same version meanwhile
        name = summary_upload_to(summary, "")
        # The stable name: replace the old file rather than let the storage pick a new name.
        if default_storage.exists(name):
            default_storage.delete(name)
        summary.file.save(name, ContentFile(pdf), save=False)
        summary.status = VisitSummary.Status.READY
        summary.source_modified = stamp
        summary.rendered = timezone.now()
        summary.error = ""
        summary.save()
    return summary


@transaction.atomic
def summary_download_record(*, account: Account, visit: Visit, user: User | None) -> SummaryDownload:
    return SummaryDownload.objects.create(account=account, visit=visit, user=user)


@dataclass
class SummaryState:
    visit: Visit
    summary: VisitSummary
    ready: bool


def summary_fetch(*, account: Account, user: User, visit_id) -> SummaryState:
    """What GET .../exports/visit_summary answers: the current summary, or a render on its way."""
    visit = summary_visit_for(account=account, user=user, visit_id=visit_id)
    summary = summary_of(visit)
    if summary_stored_and_current(summary, visit):
        return SummaryState(visit=visit, summary=summary, ready=True)
    if summary is not None and summary.status == VisitSummary.Status.READY:
        VisitSummary.objects.filter(pk=summary.pk).update(source_modified=None)
    return SummaryState(visit=visit, summary=summary_request(visit=visit), ready=False)
