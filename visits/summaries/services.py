"""PDF visit summaries: requesting one, rendering and storing it, and recording downloads.

Rendering happens in a Celery task (visits.tasks.render_visit_summary), which calls summary_render."""

import datetime as dt
from dataclasses import dataclass
from functools import partial

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from clinic.jobs import enqueue_on_commit
from clinic.models import Account, User
from visits.models import SummaryDownload, Visit, VisitSummary
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
# Summaries one sweep enqueues at most (it runs every minute; the rest wait for the next).
SWEEP_BATCH = 2000
# Celery priorities on the render queue (the Redis transport's priority steps: lower runs first).
RENDER_PRIORITY = 3
BACKGROUND_PRIORITY = 9


@transaction.atomic
def summary_request(*, visit: Visit, dedupe: bool = True) -> VisitSummary:
    """Make sure a current summary exists or is on its way; enqueue the render after commit.

    The pending row is the record of the work (written in the caller's transaction): if its task is
    lost, `summaries_sweep` enqueues it again once `due` has passed. With `dedupe`, a render requested
    moments ago is not enqueued again (clients poll). A broker outage must not turn a visit that was
    just completed into an error after it committed: enqueue errors are logged, the sweep catches up."""
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
    summary.due = timezone.now() + PENDING_RETRY_AFTER
    summary.background = False
    summary.save(update_fields=["status", "error", "requested", "due", "background"])
    enqueue_on_commit("visits.tasks.render_visit_summary", visit.pk, priority=RENDER_PRIORITY)
    return summary


def summaries_request_background(*, visit_ids: list[int], now: dt.datetime) -> None:
    """Pending summaries for visits the system ended in bulk (the max-wait closer), in the caller's
    transaction and one insert: the sweep renders them after everything else, so a clinic admin's
    renders and exports never wait behind thousands of walk-ins nobody took."""
    VisitSummary.objects.bulk_create(
        [VisitSummary(visit_id=pk, due=now, background=True) for pk in visit_ids], ignore_conflicts=True
    )


def summaries_sweep(*, now: dt.datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Enqueue every pending summary whose `due` has passed (a lost task, or a background request),
    oldest first, and push its `due` on; returns how many. Two sweeps never take the same rows."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            VisitSummary.objects.filter(status=VisitSummary.Status.PENDING, due__lte=now)
            .order_by("due")
            .select_for_update(skip_locked=True)
            .values_list("pk", "visit_id", "background")[:limit]
        )
        VisitSummary.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(due=now + PENDING_RETRY_AFTER)
        for _, visit_id, background in rows:
            enqueue_on_commit(
                "visits.tasks.render_visit_summary",
                visit_id,
                priority=BACKGROUND_PRIORITY if background else RENDER_PRIORITY,
            )
    return len(rows)


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
        replaced = summary.file.name
        summary.file.save("summary.pdf", ContentFile(pdf), save=False)  # named by summary_upload_to
        summary.status = VisitSummary.Status.READY
        summary.source_modified = stamp
        summary.rendered = timezone.now()
        summary.error = ""
        summary.save()
        if replaced:
            transaction.on_commit(partial(default_storage.delete, replaced))
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
