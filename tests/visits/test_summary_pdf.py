"""The PDF visit summary: what it shows, in which time zone, and that it loads nothing remote."""

import datetime as dt
import http.server
import io
import re
import threading

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from tests.clinic.factories import RoomFactory
from tests.visits.summary_factories import eager_celery, media, pdf_text, walk_through  # noqa: F401
from visits.models import Attachment, Visit, VisitSummary
from visits.summaries import render as summary_pdf
from visits.summaries import selectors as summary_selectors
from visits.summaries import services as summary_services

pytestmark = pytest.mark.usefixtures("media")

SUMMER = dt.datetime(2026, 7, 15, 16, 0, tzinfo=dt.UTC)  # 09:00 PDT in Los Angeles
WINTER = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)  # 09:00 PST: the day after DST ended


def squashed(text: str) -> str:
    return "".join(text.split())


def _render(visit) -> str:
    summary = summary_services.summary_render(visit_id=visit.pk)
    with summary.file.open("rb") as handle:
        return pdf_text(handle.read())


def test_pdf_shows_patient_reason_answers_notes_and_local_times(
    account, room, member, provider, consultation
):
    member.dob = dt.date(1984, 3, 9)
    member.save()
    visit = walk_through(
        member=member,
        provider=provider,
        room=room,
        consultation=consultation,
        joined=SUMMER,
        notes="<p>Take <b>ibuprofen</b> twice daily.</p>",
        reason="Itchy rash on the left arm",
        custom={"custom_symptoms_duration": "2 weeks", "custom_is_allergic": "Yes"},
    )
    text = _render(visit)

    assert "Pat Jones" in text
    assert "P-1001" in text
    assert "1984-03-09" in text and "+14155550123" in text
    assert "Itchy rash on the left arm" in text
    assert "Symptoms duration" in text and "2 weeks" in text
    assert "Is allergic" in text
    assert "Takeibuprofentwicedaily." in squashed(text)  # pypdf splits kerned pairs: compare unspaced
    assert "custom_symptoms_duration" not in text
    # Local times in the room's zone, named: joined 09:00, accepted 09:12, completed 09:30 PDT.
    assert "America/Los_Angeles" in text
    assert "Wed 15 Jul 2026, 09:00 PDT" in text
    assert "09:12 PDT" in text and "09:30 PDT" in text
    assert "16:00" not in text  # the UTC time is not what a reader sees
    assert "12 min 00 s" in text  # the wait, from the event rows
    assert "Dr. Lee" in text
    assert "General consultation" in text and "50.00" in text
    assert "Waiting → In progress" in text and "In progress → Completed" in text
    assert "Page 1 of 1" in text
    assert "Generated " in text


def test_the_pdf_and_the_visit_page_use_the_rooms_names_for_its_intake_fields(
    client, account, room, member, provider
):
    room.intake_fields = [{"name": "custom_temp", "label": "Body temperature"}]
    room.save()
    visit = walk_through(
        member=member,
        provider=provider,
        room=room,
        joined=SUMMER,
        custom={"custom_is_allergic": "Yes", "custom_temp": "38.5"},
    )
    text = _render(visit)
    assert text.index("Body temperature") < text.index("Is allergic")  # the room's order, then the rest
    client.force_login(provider.user)
    page = client.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert page.index("Body temperature") < page.index("is allergic")


def test_times_follow_the_zone_across_dst_and_rooms(account, member, provider):
    new_york = RoomFactory(account=account, code="east", time_zone="America/New_York")
    provider.rooms.add(new_york)
    text = _render(walk_through(member=member, provider=provider, room=new_york, joined=WINTER))
    assert "Mon 02 Nov 2026, 12:00 EST" in text
    assert "America/New_York" in text


def test_closed_visit_shows_close_reason(account, room, member, provider):
    visit = walk_through(member=member, provider=provider, room=room, joined=WINTER, finish="close")
    text = _render(visit)
    assert "Call ended" in text
    assert "09:00 PST" in text


def test_attachments_are_listed_with_image_thumbnails_from_storage(
    monkeypatch, account, room, member, provider
):
    from django.core.files.base import ContentFile
    from PIL import Image
    from pypdf import PdfReader

    visit = walk_through(member=member, provider=provider, room=room, joined=SUMMER)
    buffer = io.BytesIO()
    Image.new("RGB", (2400, 1800), (200, 30, 30)).save(buffer, format="PNG")  # a phone-sized photo
    png = buffer.getvalue()
    image = Attachment(
        account=account,
        intake=visit.intake,
        name="rash-photo.png",
        size=len(png),
        ext="png",
        content_type="image/png",
    )
    image.file.save("x", ContentFile(png), save=True)
    report = Attachment(
        account=account,
        intake=visit.intake,
        name="lab-report.pdf",
        size=2048,
        ext="pdf",
        content_type="application/pdf",
    )
    report.file.save("y", ContentFile(b"%PDF-1.4 stub"), save=True)

    fetched = []
    original = summary_pdf.local_only_fetcher

    def spy(attachments=None):
        fetcher = original(attachments)
        fetch = fetcher.fetch

        def recording(url, headers=None):
            response = fetch(url, headers)
            fetched.append(url)
            return response

        fetcher.fetch = recording
        return fetcher

    monkeypatch.setattr(summary_pdf, "local_only_fetcher", spy)
    summary = summary_services.summary_render(visit_id=visit.pk)
    with summary.file.open("rb") as handle:
        pdf = handle.read()
    text = pdf_text(pdf)
    assert "rash-photo.png" in text and "lab-report.pdf" in text
    assert "2.0KB" in squashed(text)
    assert f"attachment:{image.pk}" in fetched  # the thumbnail came from Django's storage
    assert f"attachment:{report.pk}" not in fetched
    [embedded] = PdfReader(io.BytesIO(pdf)).pages[0].images
    assert max(embedded.image.size) <= 320  # a thumbnail, not the 2400-pixel original


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args):
        pass


@pytest.fixture
def remote_server():
    """A real HTTP server on localhost: any fetch the renderer made would show up in `hits`."""
    _CountingHandler.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _CountingHandler.hits
    server.shutdown()


def test_html_in_notes_cannot_inject_script_or_remote_fetches(remote_server, account, room, member, provider):
    base, hits = remote_server
    visit = walk_through(member=member, provider=provider, room=room, joined=SUMMER)
    # Written straight to the row, past the service's sanitiser: the renderer must still hold.
    Visit.objects.filter(pk=visit.pk).update(
        notes=(
            f'<p>Fine <b>today</b></p><script>alert("owned")</script>'
            f'<img src="{base}/pixel.png"><link rel="stylesheet" href="{base}/evil.css">'
            f'<p style="background: url({base}/bg.png)">styled</p>'
            f'<iframe src="{base}/frame"></iframe>'
        )
    )
    text = _render(visit)
    assert "Finetoday" in squashed(text)
    assert "owned" not in text and "alert" not in text
    assert hits == []


def test_the_fetcher_refuses_remote_and_non_static_urls(remote_server, settings):
    base, hits = remote_server
    fetcher = summary_pdf.local_only_fetcher()
    html = (
        f'<link rel="stylesheet" href="{base}/evil.css"><img src="{base}/pixel.png">'
        '<img src="file:///etc/passwd"><link rel="stylesheet" href="css/summary.css"><p>Hello</p>'
    )
    pdf = summary_pdf.html_to_pdf(html, fetcher=fetcher)
    assert "Hello" in pdf_text(pdf)
    assert hits == []
    assert f"{base}/evil.css" in fetcher.refused and f"{base}/pixel.png" in fetcher.refused
    assert "file:///etc/passwd" in fetcher.refused
    assert not any(url.endswith("css/summary.css") for url in fetcher.refused)  # our own CSS loads
    with pytest.raises(ValueError, match="Refused"):
        fetcher.fetch(f"{base}/direct")
    assert hits == []


def test_render_is_idempotent_and_stable_and_rerenders_when_the_visit_changed(
    django_capture_on_commit_callbacks, account, room, member, provider
):
    visit = walk_through(member=member, provider=provider, room=room, joined=SUMMER)
    first = summary_services.summary_render(visit_id=visit.pk)
    rendered_at, name = first.rendered, first.file.name
    assert re.fullmatch(rf"summaries/{account.pk}/[0-9a-f]{{32}}\.pdf", name)  # names no visit

    again = summary_services.summary_render(visit_id=visit.pk)
    assert again.rendered == rendered_at  # nothing changed: not rendered again

    member.last_name = "Jones-Okafor"  # the patient's record is corrected; the intake is closed
    member.save()
    visit = Visit.objects.with_related().get(pk=visit.pk)
    assert not summary_selectors.summary_is_current(
        summary=VisitSummary.objects.get(visit=visit), visit=visit
    )
    with django_capture_on_commit_callbacks(execute=True):
        third = summary_services.summary_render(visit_id=visit.pk)
    assert third.rendered > rendered_at
    assert third.file.name != name and not default_storage.exists(name)  # replaced, the old file gone
    with third.file.open("rb") as handle:
        text = pdf_text(handle.read())
    assert "Jones-Okafor" in text


@pytest.mark.usefixtures("eager_celery")
def test_completing_a_visit_renders_its_summary_in_the_background(
    django_capture_on_commit_callbacks, account, room, member, provider
):
    with django_capture_on_commit_callbacks(execute=True):
        visit = walk_through(member=member, provider=provider, room=room, joined=SUMMER)
    summary = VisitSummary.objects.get(visit=visit)
    assert summary.status == VisitSummary.Status.READY
    assert summary_selectors.summary_is_current(
        summary=summary, visit=Visit.objects.with_related().get(pk=visit.pk)
    )


@pytest.mark.usefixtures("eager_celery")
def test_closing_a_waiting_visit_renders_its_summary(
    django_capture_on_commit_callbacks, account, room, member, provider
):
    from visits import services

    visit = walk_through(member=member, provider=provider, room=room, joined=SUMMER, wait=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.visit_close(
            account=account, actor=member.user, visit_id=visit.pk, reason="patient_exit_room"
        )
    summary = VisitSummary.objects.get(visit=visit)
    assert summary.status == VisitSummary.Status.READY
    with summary.file.open("rb") as handle:
        assert "Patient left the waiting room" in pdf_text(handle.read())


def test_custom_field_labels():
    assert summary_pdf.custom_field_label("custom_symptoms_duration") == "Symptoms duration"
    assert summary_pdf.custom_field_label("custom_is_allergic") == "Is allergic"
    assert summary_pdf.custom_field_label("favourite-colour") == "Favourite colour"


@pytest.mark.parametrize(("size", "width_pt"), [("Letter", 612), ("A4", 595)])
def test_page_size_is_a_setting(settings, account, room, member, provider, size, width_pt):
    from pypdf import PdfReader

    settings.VISIT_SUMMARY_PAGE_SIZE = size
    visit = walk_through(member=member, provider=provider, room=room, joined=SUMMER)
    pdf = summary_pdf.render_summary_pdf(Visit.objects.with_related().get(pk=visit.pk))
    assert round(float(PdfReader(io.BytesIO(pdf)).pages[0].mediabox.width)) == width_pt


def test_an_appointment_shows_its_schedule_and_the_wait_of_the_session_that_started_it(
    account, room, member, provider
):
    import time_machine

    from tests.visits.factories import IntakeFactory, VisitFactory
    from visits import services
    from visits.models import VisitType

    start = dt.datetime(2026, 3, 9, 16, 0, tzinfo=dt.UTC)  # 09:00 PDT, the day after DST began
    intake = IntakeFactory(account=account, room=room, member=member, reason_for_visit="Follow-up")
    appointment = VisitFactory(
        account=account,
        room=room,
        intake=intake,
        member=member,
        provider=provider,
        type=VisitType.SCHEDULED,
        start=start,
        end=start + dt.timedelta(minutes=15),
    )
    with time_machine.travel(start - dt.timedelta(minutes=3), tick=False):
        session = services.visit_add_walkin(
            account=account,
            actor=member.user,
            intake_id=intake.pk,
            room_code=room.code,
            appointment_id=appointment.pk,
        )
    with time_machine.travel(start + dt.timedelta(minutes=2), tick=False):
        services.visit_accept(account=account, actor=provider.user, visit_id=session.pk)
    with time_machine.travel(start + dt.timedelta(minutes=14), tick=False):
        services.visit_complete(
            account=account, actor=provider.user, visit_id=session.pk, notes="<p>Healing well</p>"
        )

    text = _render(Visit.objects.get(pk=appointment.pk))
    assert "Scheduled start" in text and "Mon 09 Mar 2026, 09:00 PDT" in text
    assert "09:15 PDT" in text  # scheduled end
    assert "5 min 00 s" in text  # joined 08:57, accepted 09:02
    assert "appointment" in text and "Completed" in text
    assert "Healingwell" in squashed(text)  # the notes were written on the session


def test_corrections_to_the_intake_appear_in_the_summary_with_who_and_when(account, room, member, provider):
    from visits.services import intake_addendum_add

    visit = walk_through(member=member, provider=provider, room=room, joined=SUMMER)
    first = summary_services.summary_render(visit_id=visit.pk)
    intake_addendum_add(
        account=account, actor=provider.user, intake_id=visit.intake_id, text="Allergy: latex"
    )
    visit = Visit.objects.with_related().get(pk=visit.pk)
    assert not summary_selectors.summary_is_current(summary=first, visit=visit)
    again = summary_services.summary_render(visit_id=visit.pk)
    with again.file.open("rb") as handle:
        text = pdf_text(handle.read())
    assert "Corrections" in text and "Allergy: latex" in text and provider.user.get_full_name() in text
