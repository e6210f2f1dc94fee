"""PDF visit summaries: who may fetch one, when it is (re-)rendered, how, and bulk ZIP exports.

A summary is current while the visit, its intake and its patient have not changed since it was
rendered (`source_modified`). Rendering happens in a Celery task; these functions are what it calls.
"""

import datetime as dt
import functools
import json
import logging
import mimetypes
import statistics
import tempfile
import threading
import uuid
import zipfile
import zoneinfo
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import slugify

from clinic.errors import NotAllowed, NotFound
from clinic.models import Account, Room, User
from visits.attachments import attachment_thumbnail
from visits.html import sanitise_html
from visits.models import (
    QUEUE_TYPES,
    Attachment,
    SummaryDownload,
    SummaryExport,
    Visit,
    VisitEvent,
    VisitStatus,
    VisitSummary,
    summary_upload_to,
)
from visits.selectors import visit_get

log = logging.getLogger(__name__)

# Seconds a client is asked to wait before asking again for a summary still rendering.
RETRY_AFTER_SECONDS = 2
# A summary pending longer than this lost its task (broker outage, worker killed): enqueue it again.
PENDING_RETRY_AFTER = dt.timedelta(seconds=60)
# One ZIP export holds at most this many summaries; the page says so when the filter matches more.
EXPORT_MAX_VISITS = 500


# --- who may fetch which summary ---------------------------------------------------------------------


def summary_visit_for(*, account: Account, user: User, visit_id) -> Visit:
    """The visit whose summary `user` may download: admins any of the account, providers and
    patients their own. Another account's visit, or one the user cannot see at all, is NotFound."""
    visit = visit_get(account=account, user=user, visit_id=visit_id)
    if user.has_perm("visits.export_visit_summary"):
        return visit
    if user.is_provider and visit.provider_id == user.provider.pk:
        return visit
    if user.is_member and visit.member_id == user.member.pk:
        return visit
    raise NotAllowed("You may not download this visit's summary.")


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


def _stored_and_current(summary: VisitSummary | None, visit: Visit) -> bool:
    # A file lost from storage (restored database, wiped media) is rendered again, not a 500.
    return summary_is_current(summary=summary, visit=visit) and summary.file.storage.exists(summary.file.name)


def summary_of(visit: Visit) -> VisitSummary | None:
    return VisitSummary.objects.filter(visit=visit).first()


# --- requesting and rendering ------------------------------------------------------------------------


def _enqueue_render(visit_id: int) -> None:
    # A late import: visits.tasks imports this module.
    from visits.tasks import render_visit_summary

    try:
        render_visit_summary.delay(visit_id)
    except Exception:  # the broker is down: the summary stays pending and is enqueued again on demand
        log.exception("Could not enqueue the summary of visit %s", visit_id)


@transaction.atomic
def summary_request(*, visit: Visit, dedupe: bool = True) -> VisitSummary:
    """Make sure a current summary exists or is on its way; enqueue the render after commit.

    With `dedupe`, a render requested moments ago is not enqueued again (clients poll). Enqueued
    through on_commit with broker errors caught rather than delay_on_commit: a broker outage must not
    turn a visit that was just completed into an error after it committed."""
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
    transaction.on_commit(partial(_enqueue_render, visit.pk))
    return summary


def summary_request_for(*, visit_id: int) -> None:
    """The lifecycle hook: visit_complete and visit close call this inside their transaction; the
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
    if not force and _stored_and_current(summary, visit):
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


def download_file_name(visit: Visit) -> str:
    patient = slugify(visit.member.full_name) if visit.member_id else "patient"
    day = timezone.localtime(visit.start or visit.created, visit.room.zone).date().isoformat()
    return f"visit-summary-{visit.pk}-{patient}-{day}.pdf"


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
    if _stored_and_current(summary, visit):
        return SummaryState(visit=visit, summary=summary, ready=True)
    if summary is not None and summary.status == VisitSummary.Status.READY:
        VisitSummary.objects.filter(pk=summary.pk).update(source_modified=None)
    return SummaryState(visit=visit, summary=summary_request(visit=visit), ready=False)


# --- the PDF -------------------------------------------------------------------------------------------


def _static_roots() -> list[Path]:
    roots = [Path(p).resolve() for p in settings.STATICFILES_DIRS]
    if settings.STATIC_ROOT:
        roots.append(Path(settings.STATIC_ROOT).resolve())
    return roots


@functools.cache
def _fetcher_class():
    # WeasyPrint loads slowly: only the processes that render import it.
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalOnlyFetcher(URLFetcher):
        """Everything WeasyPrint loads goes through here: our static files, data: URLs and the
        visit's own image attachments (`attachment:<id>`, read from Django's storage). Anything
        else, http(s) above all, is refused and remembered in `refused`."""

        def __init__(self, attachments: dict[str, "AttachmentRow"] | None = None):
            super().__init__(timeout=2)
            self.attachments = attachments or {}
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = Path(unquote(urlsplit(url).path)).resolve()
                if any(path.is_relative_to(root) for root in _static_roots()) and path.is_file():
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": _guess_type(path)})
            if scheme == "attachment":
                row = self.attachments.get(url.split(":", 1)[1])
                if row is not None and row.is_image:
                    # A small JPEG, not the phone's full-size photo: the PDF stays small and fast.
                    body = attachment_thumbnail(attachment=row.attachment)
                    return URLFetcherResponse(url, body, {"Content-Type": "image/jpeg"})
            self.refused.append(url)
            raise ValueError(f"Refused to fetch {url}: summaries only load local files.")

    return LocalOnlyFetcher


def _guess_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def local_only_fetcher(attachments: dict[str, "AttachmentRow"] | None = None):
    return _fetcher_class()(attachments)


_weasy = threading.local()


def _weasy_shared():
    """One font configuration and one parsed summary stylesheet per thread: building them for every
    document (WeasyPrint's default) was more than half of a summary's render time."""
    if not hasattr(_weasy, "fonts"):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        _weasy.fonts = FontConfiguration()
        css_path = _static_roots()[0] / "css" / "summary.css"
        _weasy.css = CSS(filename=str(css_path), font_config=_weasy.fonts, url_fetcher=local_only_fetcher())
    return _weasy.fonts, _weasy.css


def html_to_pdf(html: str, *, fetcher=None, summary_css: bool = False) -> bytes:
    """WeasyPrint with our fetcher; relative URLs resolve against the static directory."""
    from weasyprint import HTML

    fonts, css = _weasy_shared()
    base_url = _static_roots()[0].as_uri() + "/"
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher or local_only_fetcher())
    return document.write_pdf(font_config=fonts, stylesheets=[css] if summary_css else None)


def render_summary_pdf(visit: Visit) -> bytes:
    context = summary_context(visit)
    html = render_to_string("visits/pdf/summary.html", context)
    fetcher = local_only_fetcher({str(a.pk): a for a in context["attachments"] if a.is_image})
    return html_to_pdf(html, fetcher=fetcher, summary_css=True)


def custom_field_label(name: str) -> str:
    """`custom_symptoms_duration` → "Symptoms duration"."""
    words = name.removeprefix("custom_").replace("_", " ").replace("-", " ").split()
    label = " ".join(words)
    return label[:1].upper() + label[1:] if label else name


def _answer_text(value) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(_answer_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def format_local(value: dt.datetime | None, zone) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value, zone)
    return local.strftime("%a %d %b %Y, %H:%M %Z")


def format_duration(value: dt.timedelta | None) -> str:
    if value is None:
        return ""
    seconds = max(int(value.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s"


def visit_wait(visit: Visit, events: list[VisitEvent]) -> dt.timedelta | None:
    """From the created event to the first in-progress event. An appointment's wait is that of the
    session that started it (its own 'created' is the booking)."""
    if visit.type not in QUEUE_TYPES:
        session = visit.sessions.order_by("created").first()
        if session is None:
            return None
        events = list(session.events.all())
    created = next((e.created for e in events if e.from_status is None), None)
    started = next((e.created for e in events if e.to_status == VisitStatus.IN_PROGRESS), None)
    if created is None or started is None:
        return None
    return started - created


# For people reading the PDF, not the API's status_name.
STATUS_TEXT = {
    VisitStatus.WAITING: "Waiting",
    VisitStatus.IN_PROGRESS: "In progress",
    VisitStatus.COMPLETED: "Completed",
    VisitStatus.CANCELLED: "Cancelled",
}


@dataclass
class AttachmentRow:
    pk: str
    name: str
    size: str
    content_type: str
    is_image: bool
    attachment: Attachment


def summary_context(visit: Visit) -> dict:
    zone = visit.room.zone
    events = list(visit.events.select_related("actor").order_by("created", "id"))
    intake = visit.intake
    # An appointment is carried out in the session(s) started from it: their providers and notes count.
    sessions = list(visit.sessions.select_related("provider__user").order_by("created"))
    providers = []
    for candidate in [visit.provider, visit.appointment.provider if visit.appointment_id else None] + [
        s.provider for s in sessions
    ]:
        if candidate is not None and candidate not in providers:
            providers.append(candidate)
    consultation = (
        visit.consultation
        or (intake.consultation if intake else None)
        or (visit.visit_group.consultation if visit.visit_group_id else None)
    )
    answers = [
        (custom_field_label(name), _answer_text(value))
        for name, value in (intake.custom if intake else {}).items()
    ]
    attachments = [
        AttachmentRow(
            pk=str(a.pk),
            name=a.name,
            size=filesizeformat(a.size),
            content_type=a.content_type,
            is_image=a.content_type.startswith("image/"),
            attachment=a,
        )
        for a in (intake.attachments.all() if intake else [])
    ]
    timeline = [
        {
            "at": format_local(e.created, zone),
            "from": STATUS_TEXT[e.from_status] if e.from_status is not None else "",
            "to": STATUS_TEXT[e.to_status],
            "actor": (e.actor.get_full_name() or e.actor.username) if e.actor else "system",
            "reason": e.reason.replace("_", " "),
        }
        for e in events
    ]
    member = visit.member
    generated = timezone.localtime(timezone.now(), zone)
    return {
        "visit": visit,
        "clinic": visit.account.name,
        "room": visit.room,
        "zone_name": visit.room.time_zone,
        "member": member,
        "dob": member.dob.isoformat() if member and member.dob else "",
        "phone": (intake.phone if intake and intake.phone else member.phone if member else ""),
        "location": (intake.location if intake and intake.location else member.state if member else ""),
        "providers": [f"{p.display_name}{', ' + p.title if p.title else ''}" for p in providers],
        "type": visit.get_type_display(),
        "status": STATUS_TEXT[visit.status],
        "scheduled_start": format_local(visit.start, zone),
        "scheduled_end": format_local(visit.end, zone),
        "actual_start": format_local(visit.actual_start, zone),
        "actual_end": format_local(visit.actual_end, zone),
        "wait": format_duration(visit_wait(visit, events)),
        "reason": intake.reason_for_visit if intake else "",
        "answers": answers,
        "consultation": consultation,
        # Sanitised again here: the template renders it as html, whatever wrote the row.
        "notes": mark_safe(sanitise_html(visit.notes or next((s.notes for s in sessions if s.notes), ""))),
        "timeline": timeline,
        "close_reason": visit.get_close_reason_display() if visit.close_reason else "",
        "closed_by": (visit.closed_by.get_full_name() or visit.closed_by.username) if visit.closed_by else "",
        "attachments": attachments,
        "generated": generated.strftime("%Y-%m-%d %H:%M %Z"),
        "page_size": settings.VISIT_SUMMARY_PAGE_SIZE,
    }


# --- bulk ZIP exports ----------------------------------------------------------------------------------


@transaction.atomic
def export_create(*, account: Account, actor: User, visit_ids: list[int], filters: dict) -> SummaryExport:
    if not actor.has_perm("visits.export_visit_summary"):
        raise NotAllowed("Only clinic admins export visit summaries.")
    ids = list(visit_ids[:EXPORT_MAX_VISITS])
    export = SummaryExport.objects.create(
        account=account, requested_by=actor, filters=filters, visit_ids=ids, total=len(ids)
    )
    from visits.tasks import build_summary_export  # late: visits.tasks imports this module

    build_summary_export.delay_on_commit(str(export.pk))
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


@transaction.atomic
def export_download_record(*, export: SummaryExport, user: User) -> int:
    """A ZIP download is a download of every summary in it: one log row per visit."""
    visit_ids = (
        Visit.objects.for_account(export.account_id)
        .filter(pk__in=export.visit_ids)
        .values_list("pk", flat=True)
    )
    rows = [SummaryDownload(account_id=export.account_id, visit_id=pk, user=user) for pk in visit_ids]
    return len(SummaryDownload.objects.bulk_create(rows))


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


# --- the admin's visits page: reads ---------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: percentile_cont(q) WITHIN GROUP (ORDER BY expr)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _first_event_at(**conditions) -> Subquery:
    return Subquery(
        VisitEvent.objects.filter(visit=OuterRef("pk"), **conditions)
        .order_by("created", "id")
        .values("created")[:1]
    )


def with_wait(visits: QuerySet[Visit]) -> QuerySet[Visit]:
    """Annotate `waited`: from the created event to the first in-progress event (null if never)."""
    return visits.annotate(
        queued_at=_first_event_at(from_status__isnull=True),
        started_at=_first_event_at(to_status=VisitStatus.IN_PROGRESS),
    ).annotate(waited=ExpressionWrapper(F("started_at") - F("queued_at"), output_field=DurationField()))


def percentile_cont(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks: the same figure as PostgreSQL's percentile_cont."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class RoomWait:
    room_code: str
    room_name: str
    visits: int
    median: dt.timedelta
    p90: dt.timedelta

    @property
    def median_display(self) -> str:
        return format_duration(self.median)

    @property
    def p90_display(self) -> str:
        return format_duration(self.p90)


def wait_stats(visits: QuerySet[Visit]) -> list[RoomWait]:
    """Median and 90th percentile wait by room for the walk-ins and e-consults of `visits` that were
    accepted. In the database on PostgreSQL; in Python elsewhere (SQLite has no percentile_cont)."""
    waited = with_wait(visits.order_by().filter(type__in=QUEUE_TYPES)).filter(
        started_at__isnull=False, queued_at__isnull=False
    )
    if connection.vendor == "postgresql":
        rows = (
            waited.values("room__code", "room__name")
            .annotate(
                n=Count("pk"),
                median=PercentileCont(F("waited"), 0.5, output_field=DurationField()),
                p90=PercentileCont(F("waited"), 0.9, output_field=DurationField()),
            )
            .order_by("room__code")
        )
        return [
            RoomWait(
                room_code=r["room__code"],
                room_name=r["room__name"],
                visits=r["n"],
                median=r["median"],
                p90=r["p90"],
            )
            for r in rows
        ]
    return wait_stats_in_python(waited)


def wait_stats_in_python(waited: QuerySet[Visit]) -> list[RoomWait]:
    by_room: dict[tuple[str, str], list[float]] = {}
    for code, name, queued, started in waited.values_list(
        "room__code", "room__name", "queued_at", "started_at"
    ):
        by_room.setdefault((code, name), []).append(
            (_as_datetime(started) - _as_datetime(queued)).total_seconds()
        )
    return [
        RoomWait(
            room_code=code,
            room_name=name,
            visits=len(values),
            median=dt.timedelta(seconds=statistics.median(values)),
            p90=dt.timedelta(seconds=percentile_cont(values, 0.9)),
        )
        for (code, name), values in sorted(by_room.items())
    ]


def _as_datetime(value) -> dt.datetime:
    # SQLite hands subquery annotations back as strings.
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def admin_zone(*, account: Account, room=None) -> zoneinfo.ZoneInfo:
    """The zone the admin's dates are read in: the chosen room's, else the one most of the account's
    rooms use (a clinic's rooms are usually in one zone)."""
    if room is not None:
        return room.zone
    common = (
        Room.objects.for_account(account)
        .values("time_zone")
        .annotate(n=Count("pk"))
        .order_by("-n", "time_zone")
        .first()
    )
    return zoneinfo.ZoneInfo(common["time_zone"] if common else "UTC")


ADMIN_SORTS = {
    "start": ("start", "created"),
    "patient": ("member__last_name", "member__first_name"),
    "room": ("room__code",),
    "provider": ("provider__user__last_name",),
    "type": ("type",),
    "status": ("status",),
}


def admin_visit_search(
    *,
    account: Account,
    user: User,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    zone=None,
    room=None,
    provider=None,
    type: int | None = None,
    status: int | None = None,
    patient: str = "",
    sort: str = "-start",
) -> QuerySet[Visit]:
    """The clinic admin's search: every visit of the account, dates read in `zone`."""
    if not user.has_perm("visits.view_all_visits"):
        raise NotAllowed("Only clinic admins search all visits.")
    visits = Visit.objects.for_account(account)
    zone = zone or zoneinfo.ZoneInfo("UTC")
    if date_from:
        visits = visits.filter(start__gte=dt.datetime.combine(date_from, dt.time(), tzinfo=zone))
    if date_to:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        visits = visits.filter(start__lt=end)
    if room is not None:
        visits = visits.filter(room=room)
    if provider is not None:
        visits = visits.filter(provider=provider)
    if type:
        visits = visits.filter(type=type)
    if status:
        visits = visits.filter(status=status)
    if patient := (patient or "").strip():
        query = Q(member__code__iexact=patient)
        for word in patient.split():
            query |= Q(member__first_name__icontains=word) | Q(member__last_name__icontains=word)
        if len(patient.split()) > 1:
            first, *rest = patient.split()
            query |= Q(member__first_name__icontains=first, member__last_name__icontains=" ".join(rest))
        visits = visits.filter(query)
    key = sort.lstrip("-")
    fields = ADMIN_SORTS.get(key, ADMIN_SORTS["start"])
    descending = sort.startswith("-") if key in ADMIN_SORTS else True
    order = [f"-{f}" if descending else f for f in fields]
    return visits.order_by(*order, "-id")


def row_wait(visit: Visit) -> dt.timedelta | None:
    """The wait of one row of a `with_wait` queryset (SQLite returns the subqueries as strings)."""
    if visit.type not in QUEUE_TYPES or not visit.queued_at or not visit.started_at:
        return None
    return _as_datetime(visit.started_at) - _as_datetime(visit.queued_at)


def status_counts(visits: QuerySet[Visit]) -> dict[str, int]:
    counts = dict(visits.order_by().values_list("status").annotate(n=Count("pk")))
    return {VisitStatus(s).label: counts.get(s, 0) for s in VisitStatus.values}


def recent_downloads(*, account: Account, user: User) -> QuerySet[SummaryDownload]:
    if not user.has_perm("visits.view_all_visits"):
        raise NotAllowed("Only clinic admins see the download log.")
    return SummaryDownload.objects.for_account(account).select_related("user", "visit__member", "visit__room")


def summaries_by_visit(visit_ids) -> dict[int, VisitSummary]:
    return {s.visit_id: s for s in VisitSummary.objects.filter(visit_id__in=list(visit_ids))}
