"""Bulk ZIP exports of PDF visit summaries, for clinic admins."""

import datetime as dt
import tempfile
import uuid
import zipfile

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from clinic.errors import NotAllowed, NotFound
from clinic.jobs import enqueue_on_commit
from clinic.models import Account, User
from visits.models import SummaryDownload, SummaryExport, Visit
from visits.summaries.selectors import download_file_name
from visits.summaries.services import summary_render

# One ZIP export holds at most this many summaries; the page says so when the filter matches more.
EXPORT_MAX_VISITS = 500


@transaction.atomic
def export_create(*, account: Account, actor: User, visit_ids: list[int], filters: dict) -> SummaryExport:
    if not actor.has_perm("visits.export_visit_summary"):
        raise NotAllowed("Only clinic admins export visit summaries.")
    ids = list(visit_ids[:EXPORT_MAX_VISITS])
    export = SummaryExport.objects.create(
        account=account, requested_by=actor, filters=filters, visit_ids=ids, total=len(ids)
    )
    enqueue_on_commit("visits.tasks.build_summary_export", str(export.pk))
    return export


def export_get(*, account: Account, export_id) -> SummaryExport:
    try:
        export_uuid = uuid.UUID(str(export_id))
    except ValueError as exc:
        raise NotFound("No such export.") from exc
    export = SummaryExport.objects.for_account(account).filter(pk=export_uuid).first()
    if export is None:
        raise NotFound("No such export.")
    return export


def export_build(*, export_id) -> SummaryExport | None:
    """Render what is stale, zip every summary, and count progress in `done`. Running it twice
    builds the same ZIP again; a finished export is left alone."""
    export = SummaryExport.objects.filter(pk=export_id).first()
    if export is None or export.status == SummaryExport.Status.READY:
        return export
    SummaryExport.objects.filter(pk=export.pk).update(status=SummaryExport.Status.RUNNING, done=0)
    visits = {
        v.pk: v
        for v in Visit.objects.for_account(export.account_id).with_related().filter(pk__in=export.visit_ids)
    }
    try:
        with tempfile.TemporaryFile() as spool:
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for done, visit_id in enumerate(export.visit_ids, start=1):
                    if visit_id in visits:
                        summary = summary_render(visit_id=visit_id)
                        with summary.file.open("rb") as pdf:
                            archive.writestr(download_file_name(visits[visit_id]), pdf.read())
                    SummaryExport.objects.filter(pk=export.pk).update(done=done)
            spool.seek(0)
            name = f"{export.account_id}/visit-summaries-{export.pk}.zip"
            export.refresh_from_db()
            export.file.save(name, File(spool), save=False)
    except Exception as exc:
        SummaryExport.objects.filter(pk=export.pk).update(
            status=SummaryExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    export.status = SummaryExport.Status.READY
    export.finished = timezone.now()
    export.error = ""
    export.save(update_fields=["file", "status", "finished", "error"])
    return export


def export_download_record(*, export: SummaryExport, user: User) -> SummaryDownload:
    """A ZIP download is one entry in the download log, with the number of summaries it holds (the
    audit trail records each visit read, at the view)."""
    count = Visit.objects.for_account(export.account_id).filter(pk__in=export.visit_ids).count()
    return SummaryDownload.objects.create(
        account_id=export.account_id, export=export, visit_count=count, user=user
    )


def exports_cleanup(*, now: dt.datetime | None = None) -> int:
    """Remove bulk exports (their ZIP and row) older than SUMMARY_EXPORT_TTL; the summaries stay."""
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=settings.SUMMARY_EXPORT_TTL)
    removed = 0
    for export in SummaryExport.objects.filter(created__lt=cutoff).only("pk", "file").iterator():
        if export.file:
            export.file.delete(save=False)  # a file already gone from storage is no error
        removed += SummaryExport.objects.filter(pk=export.pk).delete()[0]
    return removed


def export_file_name(export: SummaryExport) -> str:
    return f"visit-summaries-{timezone.localtime(export.created):%Y%m%d-%H%M}.zip"
