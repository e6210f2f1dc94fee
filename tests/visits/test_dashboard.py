"""The provider dashboard: what the queues show, the cheap unchanged refresh, accepting and finishing."""

import datetime as dt
from urllib.parse import unquote

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.clinic.factories import AccountFactory, MemberFactory, ProviderFactory, RoomFactory
from tests.visits.factories import IntakeFactory, VisitFactory
from visits import services
from visits.models import Visit, VisitEvent, VisitStatus, VisitType

pytestmark = pytest.mark.django_db

QUEUES = reverse("visits:queues")
ACCEPT = reverse("visits:accept")
HTMX = {"HTTP_HX_REQUEST": "true"}


def waiting(room, *, minutes_ago=0, type=VisitType.WALKIN, **intake):
    """A waiting visit that joined `minutes_ago` (created is auto_now_add, so it is set afterwards)."""
    visit = VisitFactory(
        account=room.account,
        room=room,
        type=type,
        intake=IntakeFactory(account=room.account, room=room, **intake),
    )
    Visit.objects.filter(pk=visit.pk).update(created=timezone.now() - dt.timedelta(minutes=minutes_ago))
    return Visit.objects.get(pk=visit.pk)


@pytest.fixture
def dr_lee(client, provider):
    client.force_login(provider.user)
    return client


def rows_of(html: str, queue_id: str) -> str:
    start = html.index(f'id="{queue_id}"')
    return html[start : html.index("</ul>", start)]


def version_of(response) -> str:
    html = response.content.decode()
    marker = 'data-version="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


# --- what the queues show ------------------------------------------------------------------------------


def test_queues_show_patient_reason_custom_fields_location_oldest_first_with_counts(dr_lee, room):
    newer = waiting(
        room,
        minutes_ago=2,
        member=MemberFactory(account=room.account, first_name="Newer", last_name="Walker"),
        reason_for_visit="Sore throat",
        custom={"custom_is_allergic": "Yes"},
    )
    older = waiting(
        room,
        minutes_ago=9,
        member=MemberFactory(account=room.account, first_name="Older", last_name="Walker"),
        reason_for_visit="Rash on the arm",
        custom={"custom_symptoms_duration": "2 weeks"},
    )
    waiting(
        room,
        minutes_ago=1,
        type=VisitType.ECONSULT,
        member=MemberFactory(account=room.account, first_name="Ellie", last_name="Consult"),
    )

    html = dr_lee.get(reverse("visits:dashboard")).content.decode()

    walkins = rows_of(html, "walkin-queue")
    assert walkins.index("Older Walker") < walkins.index("Newer Walker")
    assert "Rash on the arm" in walkins and "Sore throat" in walkins
    assert "is allergic" in walkins and "Yes" in walkins and "2 weeks" in walkins
    assert f'id="visit-{older.pk}"' in walkins and f'id="visit-{newer.pk}"' in walkins
    assert "Ellie Consult" in rows_of(html, "econsult-queue")
    assert "Ellie Consult" not in walkins
    assert 'data-testid="walkin-count">2<' in html
    assert 'data-testid="econsult-count">1<' in html
    assert 'Location <span class="location">CA</span>' in walkins


def test_other_rooms_other_clinics_and_other_providers_appointments_stay_out(dr_lee, account, room, provider):
    other_room = RoomFactory(account=account, code="other")
    waiting(other_room, member=MemberFactory(account=account, first_name="Elsewhere"))
    waiting(RoomFactory(account=AccountFactory(code="rival")), member=MemberFactory(first_name="Rival"))
    someone_elses = waiting(room, member=MemberFactory(account=account, first_name="Booked"))
    Visit.objects.filter(pk=someone_elses.pk).update(provider=ProviderFactory(account=account, rooms=[room]))

    html = dr_lee.get(reverse("visits:dashboard")).content.decode()

    assert "Elsewhere" not in html and "Rival" not in html and "Booked" not in html
    assert 'data-testid="walkin-count">0<' in html


def test_patient_outside_the_providers_licences_is_marked_and_cannot_be_accepted(dr_lee, room):
    texan = waiting(room, location="TX", member=MemberFactory(account=room.account, first_name="Tex"))
    html = dr_lee.get(reverse("visits:dashboard")).content.decode()
    row = rows_of(html, "walkin-queue")
    assert "Tex" in row
    assert "Not licensed in TX" in row
    assert f'"id": {texan.pk}' not in row
    assert "Cannot accept" in row

    refused = dr_lee.post(ACCEPT, {"id": texan.pk}, **HTMX)
    assert "not licensed in TX" in refused.content.decode()
    assert Visit.objects.get(pk=texan.pk).status == VisitStatus.WAITING


def test_time_waiting_and_closeness_to_the_max_waiting_time(dr_lee, room, settings):
    settings.QUEUE_WAIT_WARNING_FRACTION = 0.75
    room.max_waiting_time = 600
    room.save()
    with time_machine.travel(dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), tick=False):
        calm = waiting(room, minutes_ago=2, member=MemberFactory(account=room.account, first_name="Calm"))
        close = waiting(room, minutes_ago=8, member=MemberFactory(account=room.account, first_name="Close"))
        html = dr_lee.get(reverse("visits:dashboard")).content.decode()
    assert f'class="list-group-item queue-row wait-ok" id="visit-{calm.pk}"' in html
    assert f'class="list-group-item queue-row wait-warning" id="visit-{close.pk}"' in html
    assert 'data-waited="480" data-max="600"' in html
    assert "8:00" in html and "10:00" in html


def test_a_long_queue_shows_the_oldest_page_and_the_total(dr_lee, room, settings):
    settings.QUEUE_PAGE_SIZE = 3
    for minutes in range(5):
        waiting(
            room, minutes_ago=minutes, member=MemberFactory(account=room.account, first_name=f"P{minutes}")
        )
    html = dr_lee.get(reverse("visits:dashboard")).content.decode()
    walkins = rows_of(html, "walkin-queue")
    assert "P4" in walkins and "P3" in walkins and "P2" in walkins
    assert "P1" not in walkins and "P0" not in walkins
    assert "Showing the 3 longest waiting of 5." in html


def test_rendering_the_queues_takes_the_same_queries_for_3_or_30_patients(dr_lee, room):
    def queries_for_queue_partial() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert dr_lee.get(QUEUES, **HTMX).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(3):
        waiting(room)
        waiting(room, type=VisitType.ECONSULT)
    few = queries_for_queue_partial()
    # Session; user with account and role; Django's two permission lookups; the version; the rows (and who
    # left unseen today); the audit trail's one insert for all the rows shown.
    assert few <= 7
    for _ in range(27):
        waiting(room)
        waiting(room, type=VisitType.ECONSULT)
    assert queries_for_queue_partial() == few


# --- the refresh ---------------------------------------------------------------------------------------


def test_unchanged_refresh_is_204_with_no_body_and_one_query_beyond_the_session(dr_lee, room):
    waiting(room)
    version = version_of(dr_lee.get(QUEUES, **HTMX))
    with CaptureQueriesContext(connection) as ctx:
        response = dr_lee.get(QUEUES, {"v": version}, **HTMX)
    assert response.status_code == 204
    assert response.content == b""
    # The session, its user, and the one queue query.
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert len(sqls) == 3, sqls
    assert '"visits_visit"' in sqls[-1]


@pytest.mark.parametrize("change", ["new", "accepted", "closed", "overdue", "swap"])
def test_any_change_to_the_queue_changes_its_version(dr_lee, room, other_provider, change):
    first = waiting(room, minutes_ago=40)
    version = version_of(dr_lee.get(QUEUES, **HTMX))
    if change == "new":
        waiting(room, type=VisitType.ECONSULT)
    elif change == "accepted":
        services.visit_accept(account=room.account, actor=other_provider.user, visit_id=first.pk)
    elif change == "closed":
        services.visit_close(
            account=room.account, actor=first.member.user, visit_id=first.pk, reason="patient_exit_room"
        )
    elif change == "overdue":
        assert services.visits_close_overdue() == 1
    else:  # one leaves and another joins between two refreshes
        services.visit_accept(account=room.account, actor=other_provider.user, visit_id=first.pk)
        waiting(room)
    response = dr_lee.get(QUEUES, {"v": version}, **HTMX)
    assert response.status_code == 200
    assert version_of(response) != version
    assert (f'id="visit-{first.pk}"' in response.content.decode()) is (change == "new")


def test_session_expired_during_polling_sends_the_page_to_the_login_form(client):
    response = client.get(QUEUES, HTTP_HX_CURRENT_URL="http://testserver/dashboard/", **HTMX)
    assert response.status_code == 200
    assert unquote(response["HX-Redirect"]) == "/login/?next=/dashboard/"


def test_staff_who_are_not_providers_get_403(client, front_desk):
    client.force_login(front_desk)
    assert client.get(reverse("visits:dashboard")).status_code == 403
    assert client.get(QUEUES).status_code == 403


def test_anonymous_user_is_sent_to_log_in(client):
    response = client.get(reverse("visits:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_the_poll_only_answers_get(dr_lee):
    assert dr_lee.post(QUEUES).status_code == 405


# --- accept, complete, close ---------------------------------------------------------------------------


def test_accept_takes_the_patient_and_tells_the_page_to_reload_its_sections(dr_lee, room, provider):
    visit = waiting(
        room, type=VisitType.ECONSULT, member=MemberFactory(account=room.account, first_name="Ann")
    )
    response = dr_lee.post(ACCEPT, {"id": visit.pk}, **HTMX)
    assert response.status_code == 200
    assert response.content == b""  # the row is swapped out
    assert response["HX-Trigger"] == '{"visits-changed": {}}'
    visit.refresh_from_db()
    assert (visit.status, visit.provider) == (VisitStatus.IN_PROGRESS, provider)

    in_progress = dr_lee.get(reverse("visits:in-progress"), **HTMX).content.decode()
    assert "Ann" in in_progress and 'name="notes"' in in_progress and 'name="reason"' in in_progress
    assert "Ann" not in dr_lee.get(QUEUES, **HTMX).content.decode()


def test_the_late_provider_is_told_who_took_the_patient(client, room, provider, other_provider):
    visit = waiting(
        room,
        type=VisitType.ECONSULT,
        member=MemberFactory(account=room.account, first_name="Maria", last_name="Gonzalez"),
    )
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    client.force_login(other_provider.user)
    response = client.post(ACCEPT, {"id": visit.pk}, **HTMX)
    html = response.content.decode()
    assert f'id="visit-{visit.pk}"' in html
    assert "Maria Gonzalez was already taken by Dr. Lee." in html
    assert Visit.objects.get(pk=visit.pk).provider == provider


def test_accept_of_another_clinics_visit_is_not_found(dr_lee):
    foreign = waiting(RoomFactory(account=AccountFactory(code="rival")))
    assert "not found" in dr_lee.post(ACCEPT, {"id": foreign.pk}, **HTMX).content.decode()
    assert Visit.objects.get(pk=foreign.pk).status == VisitStatus.WAITING


def test_complete_keeps_only_the_allowed_html_in_the_notes(dr_lee, room, provider):
    visit = waiting(room)
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    response = dr_lee.post(
        reverse("visits:complete", args=[visit.pk]),
        {"notes": '<p onclick="x()">Rest <b>two</b> days</p><script>alert(1)</script>'},
        **HTMX,
    )
    assert response.status_code == 200 and response["HX-Trigger"] == '{"visits-changed": {}}'
    visit.refresh_from_db()
    assert visit.status == VisitStatus.COMPLETED
    assert visit.notes == "<p>Rest <b>two</b> days</p>"


def test_close_requires_a_reason(dr_lee, room, provider):
    visit = waiting(room)
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    response = dr_lee.post(reverse("visits:close", args=[visit.pk]), {"reason": ""}, **HTMX)
    html = response.content.decode()
    assert f'id="in-progress-{visit.pk}"' in html
    assert "Choose why the visit ends." in html
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.IN_PROGRESS

    closed = dr_lee.post(reverse("visits:close", args=[visit.pk]), {"reason": "call_ended"}, **HTMX)
    assert closed["HX-Trigger"] == '{"visits-changed": {}}'
    visit.refresh_from_db()
    assert (visit.status, visit.close_reason, visit.closed_by) == (
        VisitStatus.CANCELLED,
        "call_ended",
        provider.user,
    )


def test_completing_a_visit_the_patient_already_closed_says_so_in_the_card(dr_lee, room, provider, member):
    visit = waiting(room, member=member)
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    services.visit_close(
        account=room.account, actor=member.user, visit_id=visit.pk, reason="patient_end_call"
    )
    html = dr_lee.post(reverse("visits:complete", args=[visit.pk]), {"notes": "x"}, **HTMX).content.decode()
    # The card turns into "Patient left" and keeps the notes sent, to be saved on the ended visit.
    assert "Pat Jones&#x27;s visit cannot be completed: patient ended the call." in html
    assert "Patient left: finish your notes" in html and ">\nx</textarea>" in html


def test_another_providers_visit_cannot_be_completed(client, room, provider, other_provider):
    visit = waiting(room)
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    client.force_login(other_provider.user)
    html = client.post(reverse("visits:complete", args=[visit.pk]), {"notes": "x"}, **HTMX).content.decode()
    assert "Only the visit&#x27;s provider completes it." in html
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.IN_PROGRESS


# --- my visits today, the visit page -------------------------------------------------------------------


def test_my_visits_today_follow_the_providers_day_across_dst(client, room):
    provider = ProviderFactory(account=room.account, rooms=[room])  # America/Los_Angeles
    client.force_login(provider.user)
    # 8 March 2026: clocks go forward in Los Angeles; the local day is 23 hours long (08:00-07:00 UTC).
    day = [dt.datetime(2026, 3, 8, 8, 30, tzinfo=dt.UTC), dt.datetime(2026, 3, 9, 6, 30, tzinfo=dt.UTC)]
    outside = [dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC), dt.datetime(2026, 3, 9, 7, 30, tzinfo=dt.UTC)]
    for when, name in [
        *zip(day, ["Early", "Late"], strict=True),
        *zip(outside, ["Before", "After"], strict=True),
    ]:
        visit = waiting(room, member=MemberFactory(account=room.account, first_name=name))
        Visit.objects.filter(pk=visit.pk).update(
            provider=provider, status=VisitStatus.COMPLETED, actual_start=when, actual_end=when
        )
    with time_machine.travel(dt.datetime(2026, 3, 8, 20, 0, tzinfo=dt.UTC), tick=False):
        html = client.get(reverse("visits:today"), **HTMX).content.decode()
    assert "Early" in html and "Late" in html
    assert "Before" not in html and "After" not in html
    assert "00:30" in html  # 08:30 UTC shown as the provider's local time (PST)
    assert "23:30" in html  # 06:30 UTC the next day is 23:30 PDT


def test_visit_page_shows_intake_timeline_and_notes(dr_lee, room, provider):
    visit = waiting(room, reason_for_visit="Twisted ankle", custom={"custom_pain_level": "7"})
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    services.visit_complete(
        account=room.account, actor=provider.user, visit_id=visit.pk, notes="<p>Ice and <b>rest</b></p>"
    )
    VisitEvent.objects.create(
        visit=visit, from_status=None, to_status=10, reason="created", created=visit.created
    )
    html = dr_lee.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert "Twisted ankle" in html and "pain level" in html and "7" in html
    assert "<p>Ice and <b>rest</b></p>" in html
    timeline = html[html.index('id="events-heading"') :]
    assert timeline.index("Waiting") < timeline.index("accepted") < timeline.index("Completed")
    assert "by Grace Lee" in timeline
    assert "completed" not in timeline.lower().replace("completed", "", 1)  # no "Completed completed"


def test_the_timeline_says_why_in_words_never_in_codes(dr_lee, room, provider):
    visit = waiting(room)
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    services.visit_close(
        account=room.account, actor=visit.member.user, visit_id=visit.pk, reason="patient_end_call"
    )
    html = dr_lee.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    timeline = html[html.index('id="events-heading"') :]
    assert "Patient ended the call" in timeline
    assert "patient_end_call" not in timeline and "patient end call" not in timeline


def test_visit_page_says_in_progress_in_words(dr_lee, room, provider):
    visit = waiting(room)
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    html = dr_lee.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert 'data-testid="visit-status">In progress</span>' in html
    assert "In progress" in html[html.index('id="events-heading"') :]
    assert ">inprogress<" not in html  # the API's word never shows as text


def test_visit_page_of_another_clinic_is_404(dr_lee):
    foreign = waiting(RoomFactory(account=AccountFactory(code="rival")))
    assert dr_lee.get(reverse("visits:detail", args=[foreign.pk])).status_code == 404


def test_in_progress_answers_204_until_it_changes_elsewhere(dr_lee, room, provider):
    visit = waiting(room, member=MemberFactory(account=room.account, first_name="Leaving"))
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    page = dr_lee.get(reverse("visits:dashboard")).content.decode()
    marker = reverse("visits:in-progress") + "?v="
    start = page.index(marker) + len(marker)
    version = page[start : page.index('"', start)]
    assert dr_lee.get(reverse("visits:in-progress"), {"v": version}, **HTMX).status_code == 204

    services.visit_close(
        account=room.account, actor=visit.member.user, visit_id=visit.pk, reason="patient_end_call"
    )
    changed = dr_lee.get(reverse("visits:in-progress"), {"v": version}, **HTMX)
    assert changed.status_code == 200
    # The card stays, for the notes (tests/visits/test_notes.py).
    assert "Patient left: finish your notes" in changed.content.decode()
    assert changed["HX-Trigger"] == '{"in-progress-changed": {}}'  # "My visits today" reloads


def test_front_desk_sees_the_visit_page_in_the_rooms_time_zone(client, front_desk, room):
    visit = waiting(room, reason_for_visit="Back pain")
    client.force_login(front_desk)
    html = client.get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert "Back pain" in html and "America/Los_Angeles" in html
