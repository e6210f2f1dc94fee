"""Providers' notes that are never lost: drafts saved as they type, the "Patient left" card, notes added
to a visit that ended, typed line breaks; and the cards' facts (appointments, date of birth, two visits)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from tests.clinic.factories import MemberFactory, clinic_admin_user
from tests.visits.factories import IntakeFactory, VisitFactory
from tests.visits.summary_factories import eager_celery, media, pdf_text  # noqa: F401
from visits import services
from visits.html import notes_clean
from visits.models import NoteDraft, Visit, VisitEvent, VisitStatus, VisitSummary, VisitType
from visits.summaries import services as summary_services

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DASHBOARD = reverse("visits:dashboard")
IN_PROGRESS = reverse("visits:in-progress")


def taken(room, provider, *, member=None, **visit_fields) -> Visit:
    """A walk-in the provider has accepted."""
    intake = IntakeFactory(account=room.account, room=room, **({"member": member} if member else {}))
    visit = VisitFactory(account=room.account, room=room, intake=intake, **visit_fields)
    return services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)


def draft_url(visit) -> str:
    return reverse("visits:notes-draft", args=[visit.pk])


@pytest.fixture
def dr_lee(client, provider):
    client.force_login(provider.user)
    return client


# --- drafts -----------------------------------------------------------------------------------------------


def test_a_draft_is_saved_as_typed_and_back_in_the_textarea_after_a_reload(dr_lee, room, provider):
    visit = taken(room, provider)
    first = dr_lee.post(draft_url(visit), {"notes": "Rash since Monday"})
    assert first.status_code == 200
    assert first.json()["revision"] == 1 and first.json()["saved"]
    second = dr_lee.post(draft_url(visit), {"notes": "Rash since Monday\nNo fever"})
    assert second.json()["revision"] == 2
    # The same text again (a retry; a browser's form body sends CRLF) is not a new revision.
    assert dr_lee.post(draft_url(visit), {"notes": "Rash since Monday\r\nNo fever"}).json()["revision"] == 2

    html = dr_lee.get(DASHBOARD).content.decode()
    assert ">\nRash since Monday\nNo fever</textarea>" in html
    assert 'data-draft-revision="2"' in html
    assert Visit.objects.get(pk=visit.pk).notes == ""  # a draft is not the record


def test_only_the_provider_holding_the_visit_saves_drafts_of_its_notes(
    client, room, provider, other_provider
):
    visit = taken(room, provider)
    client.force_login(other_provider.user)
    refused = client.post(draft_url(visit), {"notes": "Not mine"})
    assert refused.status_code == 403
    assert "Only the provider of" in refused.json()["message"]
    assert not NoteDraft.objects.exists()


def test_a_draft_arriving_after_the_visit_was_completed_is_refused(dr_lee, room, provider):
    visit = taken(room, provider)
    dr_lee.post(draft_url(visit), {"notes": "Draft"})
    services.visit_complete(account=room.account, actor=provider.user, visit_id=visit.pk, notes="Done")
    assert not NoteDraft.objects.filter(visit=visit).exists()  # completing used it up
    late = dr_lee.post(draft_url(visit), {"notes": "Draft, later"})
    assert late.status_code == 409
    assert "Notes were already saved" in late.json()["message"]
    assert Visit.objects.get(pk=visit.pk).notes == "<p>Done</p>"


def test_draft_saves_are_audited_once_per_window_not_once_per_keystroke(dr_lee, room, provider):
    visit = taken(room, provider)
    saves = AuditEvent.objects.filter(object_id=str(visit.pk), detail="notes draft saved")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(5):
            dr_lee.post(draft_url(visit), {"notes": "x" * (n + 1)})
    assert saves.count() == 1
    assert saves.get().user_id == provider.user_id and saves.get().member_id == visit.member_id
    with time_machine.travel(start + dt.timedelta(minutes=6), tick=False):
        dr_lee.post(draft_url(visit), {"notes": "later"})
    assert saves.count() == 2


def test_drafts_are_bounded_like_the_apis_notes(dr_lee, room, provider):
    visit = taken(room, provider)
    refused = dr_lee.post(draft_url(visit), {"notes": "x" * 50_001})
    assert refused.status_code == 400 and refused.json()["message"] == "At most 50,000 characters."


# --- the patient leaves -----------------------------------------------------------------------------------


def test_a_patient_who_hangs_up_stays_on_the_dashboard_with_the_draft(
    dr_lee, room, provider, member, member_api
):
    visit = taken(room, provider, member=member)
    dr_lee.post(draft_url(visit), {"notes": "Rash on both arms"})

    closed = member_api.post("visits/close", {"id": visit.pk, "reason": "patient_end_call"})
    assert closed.status_code == 200

    html = dr_lee.get(IN_PROGRESS, **HTMX).content.decode()
    assert "Patient left: finish your notes" in html
    assert "Pat Jones" in html and "Patient ended the call" in html
    assert ">\nRash on both arms</textarea>" in html
    assert reverse("visits:notes-add", args=[visit.pk]) in html
    assert 'data-testid="in-progress-count">0<' in html  # no longer in progress


def test_an_admin_closing_the_visit_leaves_a_card_too_but_the_providers_own_close_does_not(
    dr_lee, room, provider, account
):
    by_admin = taken(room, provider)
    services.visit_force_cancel(account=account, actor=clinic_admin_user(account), visit_id=by_admin.pk)
    by_me = taken(room, provider)
    services.visit_close(account=account, actor=provider.user, visit_id=by_me.pk, reason="no_answer")

    html = dr_lee.get(IN_PROGRESS, **HTMX).content.decode()
    assert f'id="in-progress-{by_admin.pk}"' in html and "Cancelled by a clinic admin" in html
    assert f'id="in-progress-{by_me.pk}"' not in html


def test_notes_finished_after_the_patient_left_are_kept_with_who_and_when(
    dr_lee,
    room,
    provider,
    member,
    eager_celery,  # noqa: F811
    media,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    visit = taken(room, provider, member=member)
    services.visit_close(
        account=room.account, actor=member.user, visit_id=visit.pk, reason="patient_end_call"
    )
    rendered = summary_services.summary_render(visit_id=visit.pk)
    assert "No notes." in pdf_text(rendered.file.read())
    version = dr_lee.get(DASHBOARD).content.decode().split(IN_PROGRESS + "?v=")[1].split('"')[0]

    with django_capture_on_commit_callbacks(execute=True):  # the render, eagerly, after the commit
        saved = dr_lee.post(
            reverse("visits:notes-add", args=[visit.pk]),
            {"notes": "Rash on both arms.\nNo fever.\n\nCream twice a day."},
            **HTMX,
        )
    assert saved.status_code == 200 and saved["HX-Trigger"] == '{"visits-changed": {}}'

    visit.refresh_from_db()
    assert visit.status == VisitStatus.CANCELLED  # not a status change
    assert visit.notes == "<p>Rash on both arms.<br>No fever.</p><p>Cream twice a day.</p>"
    event = VisitEvent.objects.filter(visit=visit).last()
    assert (event.reason, event.actor, event.from_status, event.to_status) == (
        "notes added",
        provider.user,
        VisitStatus.CANCELLED,
        VisitStatus.CANCELLED,
    )
    assert not NoteDraft.objects.filter(visit=visit).exists()
    # The card is gone from the dashboard; the PDF summary was rendered again, with the notes.
    after = dr_lee.get(IN_PROGRESS, {"v": version}, **HTMX)
    assert after.status_code == 200 and "Patient left" not in after.content.decode()
    summary = VisitSummary.objects.get(visit=visit)
    assert summary.status == VisitSummary.Status.READY
    assert "Cream twice a day." in pdf_text(summary.file.read())
    # The visit page shows them, and the timeline says who added them.
    page = dr_lee.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert "<p>Rash on both arms.<br>No fever.</p>" in page
    assert "Notes added" in page and "Patient left: finish your notes" not in page
    # Notes once saved are the record: a second try is refused in words.
    again = dr_lee.post(reverse("visits:notes-add", args=[visit.pk]), {"notes": "Other"}, **HTMX)
    assert "Notes were already saved on Pat Jones&#x27;s visit." in again.content.decode()


def test_dismissing_the_card_keeps_the_draft_for_the_visit_page(dr_lee, room, provider, member):
    visit = taken(room, provider, member=member)
    dr_lee.post(draft_url(visit), {"notes": "Half a thought"})
    services.visit_close(
        account=room.account, actor=member.user, visit_id=visit.pk, reason="patient_exit_room"
    )

    dismissed = dr_lee.post(reverse("visits:notes-dismiss", args=[visit.pk]), **HTMX)
    assert dismissed["HX-Trigger"] == '{"visits-changed": {}}'
    assert "Patient left" not in dr_lee.get(IN_PROGRESS, **HTMX).content.decode()

    page = dr_lee.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert "Patient left: finish your notes" in page
    assert ">\nHalf a thought</textarea>" in page
    empty = dr_lee.post(reverse("visits:notes-add", args=[visit.pk]) + "?page=detail", {"notes": ""}, **HTMX)
    assert 'id="visit-actions"' in empty.content.decode()
    assert "Write the notes before saving them." in empty.content.decode()
    done = dr_lee.post(
        reverse("visits:notes-add", args=[visit.pk]) + "?page=detail", {"notes": "Done"}, **HTMX
    )
    assert done["HX-Refresh"] == "true"
    assert Visit.objects.get(pk=visit.pk).notes == "<p>Done</p>"


# --- typed notes keep their lines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed,stored",
    [
        ("Line one\nline two\n\nSecond paragraph", "<p>Line one<br>line two</p><p>Second paragraph</p>"),
        ("a < b, c > d & e", "<p>a &lt; b, c &gt; d &amp; e</p>"),
        ("<p>Drink <b>water</b></p><script>alert(1)</script>", "<p>Drink <b>water</b></p>"),
        # What the Bold and List buttons insert does not turn the lines into one.
        (
            "Take <b>two</b>\ndaily\n\n<ul>\n<li>rest</li>\n</ul>\nBack Monday",
            "<p>Take <b>two</b><br>daily</p><ul>\n<li>rest</li>\n</ul><p>Back Monday</p>",
        ),
        ("<script>alert(1)</script>", ""),
        ('<p onclick="x()">Kept</p>\n<img src=x onerror=alert(1)>', "<p>Kept</p>\n"),
    ],
)
def test_typed_notes_keep_their_line_breaks_and_only_the_allowed_tags(typed, stored):
    assert notes_clean(typed) == stored.strip()


def test_completing_with_typed_notes_keeps_the_paragraphs(dr_lee, room, provider):
    visit = taken(room, provider)
    dr_lee.post(reverse("visits:complete", args=[visit.pk]), {"notes": "Rest.\n\nFluids."}, **HTMX)
    assert Visit.objects.get(pk=visit.pk).notes == "<p>Rest.</p><p>Fluids.</p>"


# --- what the cards show ----------------------------------------------------------------------------------


@pytest.fixture
def booked(account, room, member, provider):
    """An appointment at 10:00 Los Angeles time today, started by the patient at 09:57 and accepted."""
    start = dt.datetime(2026, 6, 10, 17, 0, tzinfo=dt.UTC)
    with time_machine.travel(start - dt.timedelta(minutes=3), tick=False):
        appointment = VisitFactory(
            account=account,
            room=room,
            member=member,
            intake=IntakeFactory(account=account, room=room, member=member),
            provider=provider,
            type=VisitType.SCHEDULED,
            start=start,
            end=start + dt.timedelta(minutes=15),
        )
        session = services.visit_add_walkin(
            account=account,
            actor=member.user,
            intake_id=appointment.intake_id,
            room_code=room.code,
            appointment_id=appointment.pk,
        )
    with time_machine.travel(start + dt.timedelta(minutes=1), tick=False):
        services.visit_accept(account=account, actor=provider.user, visit_id=session.pk)
    return appointment, session


def test_a_started_appointment_is_one_appointment_on_the_card_and_in_my_day(dr_lee, booked):
    _appointment, session = booked
    with time_machine.travel(dt.datetime(2026, 6, 10, 17, 5, tzinfo=dt.UTC), tick=False):
        html = dr_lee.get(DASHBOARD).content.decode()
    card = html[html.index(f'id="in-progress-{session.pk}"') : html.index('id="today"')]
    assert "Appointment" in card and "booked 10:00" in card and "since 10:01" in card
    today = html[html.index('id="today"') :]
    assert today.count("Pat Jones") == 1
    assert f'href="{reverse("visits:detail", args=[session.pk])}"' in today
    assert "booked 10:00" in today and "Appointment" in today


def test_a_session_the_patient_ends_ends_its_appointment(dr_lee, booked, member):
    appointment, session = booked
    services.visit_close(
        account=session.account, actor=member.user, visit_id=session.pk, reason="patient_end_call"
    )
    appointment.refresh_from_db()
    assert (appointment.status, appointment.close_reason) == (VisitStatus.CANCELLED, "patient_end_call")
    assert appointment.actual_end is not None


def test_two_visits_in_progress_are_flagged(dr_lee, room, provider):
    taken(room, provider)
    html = dr_lee.get(DASHBOARD).content.decode()
    assert 'data-testid="several-in-progress"' not in html
    taken(room, provider)
    html = dr_lee.get(DASHBOARD).content.decode()
    assert "2 visits in progress." in html


def test_date_of_birth_age_and_sex_on_the_card_and_the_visit_page(dr_lee, room, provider):
    born = timezone.localdate() - dt.timedelta(days=7 * 365 + 100)  # 7 years and about 3 months
    child = MemberFactory(account=room.account, first_name="Mia", last_name="Park", dob=born, gender="female")
    visit = taken(room, provider, member=child)
    card = dr_lee.get(IN_PROGRESS, **HTMX).content.decode()
    page = dr_lee.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    facts = f"Born {born.day} {born:%b %Y} · 7 years · Female"
    assert facts in card and facts in page


def test_the_visit_page_completes_and_closes_a_visit_in_progress(dr_lee, room, provider):
    visit = taken(room, provider)
    page = dr_lee.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    complete_url = reverse("visits:complete", args=[visit.pk]) + "?page=detail"
    assert complete_url in page and reverse("visits:close", args=[visit.pk]) + "?page=detail" in page
    done = dr_lee.post(complete_url, {"notes": "Fine"}, **HTMX)
    assert done["HX-Refresh"] == "true"
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.COMPLETED
    assert 'id="visit-actions"' not in dr_lee.get(reverse("visits:detail", args=[visit.pk])).content.decode()

    other = taken(room, provider)
    close_url = reverse("visits:close", args=[other.pk]) + "?page=detail"
    refused = dr_lee.post(close_url, {"reason": ""}, **HTMX).content.decode()
    assert 'id="visit-actions"' in refused and "Choose why the visit ends." in refused
    # Without htmx, the form posts and the page comes back.
    closed = dr_lee.post(close_url, {"reason": "no_answer"})
    assert closed.status_code == 302 and closed["Location"] == reverse("visits:detail", args=[other.pk])
    assert Visit.objects.get(pk=other.pk).close_reason == "no_answer"


def test_the_visit_page_offers_no_actions_to_another_provider(client, room, provider, other_provider):
    visit = taken(room, provider)
    client.force_login(other_provider.user)
    page = client.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert 'id="visit-actions"' not in page


def test_a_patient_who_left_the_queue_is_named_when_accepting_fails(dr_lee, room, member):
    visit = VisitFactory(
        account=room.account, room=room, intake=IntakeFactory(account=room.account, room=room, member=member)
    )
    services.visit_close(
        account=room.account, actor=member.user, visit_id=visit.pk, reason="patient_exit_room"
    )
    html = dr_lee.post(reverse("visits:accept"), {"id": visit.pk}, **HTMX).content.decode()
    assert "Pat Jones is no longer waiting: patient left the waiting room." in html


def test_notes_added_after_the_patient_left_are_signed_and_sent_to_webhooks(
    settings, account, room, provider, member
):
    from webhooks.models import Delivery
    from webhooks.services import endpoint_create

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS, settings.WEBHOOK_HTTPS_ONLY = True, False
    endpoint_create(
        account=account,
        actor=clinic_admin_user(account),
        url="http://127.0.0.1:9/hook",
        events=["visit.updated", "visit.note.signed_and_sent"],
    )
    visit = taken(room, provider, member=member)
    services.visit_close(account=account, actor=member.user, visit_id=visit.pk, reason="patient_end_call")
    Delivery.objects.all().delete()

    services.visit_notes_add(account=account, actor=provider.user, visit_id=visit.pk, notes="Cream")

    sent = {d.event_type: d.payload for d in Delivery.objects.all()}
    assert set(sent) == {"visit.updated", "visit.note.signed_and_sent"}
    assert "<p>Cream</p>" in sent["visit.note.signed_and_sent"]


def test_a_visit_completed_without_notes_can_get_them_later_from_its_page(dr_lee, room, provider):
    visit = taken(room, provider)
    services.visit_complete(account=room.account, actor=provider.user, visit_id=visit.pk)
    page = dr_lee.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert "Add your notes" in page and "Patient left" not in page
    url = reverse("visits:notes-add", args=[visit.pk]) + "?page=detail"
    assert dr_lee.post(url, {"notes": "Forgot: allergy to latex"}, **HTMX)["HX-Refresh"] == "true"
    assert Visit.objects.get(pk=visit.pk).notes == "<p>Forgot: allergy to latex</p>"
    # Saved from another tab meanwhile: this one's page reloads to show them, nothing is overwritten.
    again = dr_lee.post(url, {"notes": "Other words"}, **HTMX)
    assert again["HX-Refresh"] == "true"
    assert Visit.objects.get(pk=visit.pk).notes == "<p>Forgot: allergy to latex</p>"


def test_without_htmx_finishing_comes_back_to_the_dashboard(dr_lee, room, provider, member):
    visit = taken(room, provider, member=member)
    services.visit_close(
        account=room.account, actor=member.user, visit_id=visit.pk, reason="patient_end_call"
    )
    dismissed = dr_lee.post(reverse("visits:notes-dismiss", args=[visit.pk]))
    assert (dismissed.status_code, dismissed["Location"]) == (302, DASHBOARD)
