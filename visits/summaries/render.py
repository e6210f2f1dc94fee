"""The PDF of a visit summary: what it shows (`summary_context`) and how WeasyPrint builds it.

WeasyPrint only ever loads local files through `LocalOnlyFetcher`: our static files, data: URLs and
the visit's own image attachments."""

import datetime as dt
import functools
import json
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from visits.attachments import attachment_thumbnail
from visits.formatting import format_duration, format_local
from visits.html import sanitise_html
from visits.models import QUEUE_TYPES, Attachment, Visit, VisitEvent, VisitStatus


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
    # The room's names and order for its intake fields, as on the pages; a derived label otherwise.
    answers = [
        (custom_field_label(answer.label) if answer.derived else answer.label, _answer_text(answer.value))
        for answer in visit.room.intake_answers(intake.custom if intake else {})
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
            "reason": e.reason_words if e.from_status != e.to_status else e.reason,
        }
        for e in events
    ]
    addenda = [
        {
            "at": format_local(a.created, zone),
            "by": (a.author.get_full_name() or a.author.username) if a.author else "",
            "text": a.text,
        }
        for a in (intake.addenda.select_related("author") if intake else [])
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
        "addenda": addenda,
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
