"""The patient's pages behind the links: confirm, cancel, reschedule (no login, single use, audited)."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import Client

from clinic.models import AuditEvent
from scheduling import services as scheduling
from tests.conftest import client_for
from tests.reminders.conftest import invite_of, links_in
from tests.scheduling.conftest import NOW, la, ts
from visits.models import Visit, VisitStatus

pytestmark = pytest.mark.usefixtures("clock")

TUESDAY_TEN = la(2027, 3, 9, 10)
WHEN = "Tuesday 9 March 2027, 10:00 PST"


@pytest.fixture
def links(book):
    book(TUESDAY_TEN)
    return links_in(mail.outbox[0].body)


@pytest.fixture
def patient_client():
    return Client()  # nobody logged in


def text(response) -> str:
    return response.content.decode()


def test_confirming_marks_the_appointment_on_the_calendar_and_the_link_works_once(
    links, patient_client, patient, front_desk
):
    page = patient_client.get(links["confirm"])
    assert page.status_code == 200
    assert "Pat, your appointment" in text(page) and WHEN in text(page)
    assert "Jones" not in text(page) and patient.code not in text(page)  # the least patient data
    assert Visit.objects.get().confirmed_at is None  # looking confirms nothing (mail scanners open links)
    unconfirmed = client_for(front_desk).get(f"visits/{Visit.objects.get().pk}").json()["data"]
    assert unconfirmed["confirmed_at"] is None

    done = patient_client.post(links["confirm"])
    assert done.status_code == 200 and "your appointment is confirmed" in text(done)
    visit = Visit.objects.get()
    assert visit.confirmed_at is not None
    trail = AuditEvent.objects.filter(via="link").order_by("id")
    assert [(e.action, e.member_id, e.user_id) for e in trail] == [
        ("read", patient.pk, None),
        ("read", patient.pk, None),
        ("update", patient.pk, None),
    ]

    again = patient_client.post(links["confirm"])
    assert again.status_code == 410 and "already used" in text(again)

    # The API's visit object says when (UNIX seconds): null before.
    api = client_for(front_desk).get(f"visits/{visit.pk}").json()["data"]
    assert api["confirmed_at"] == ts(visit.confirmed_at) == ts(NOW)

    desk = Client()
    desk.force_login(front_desk)
    calendar = desk.get(f"/scheduling/calendar/?room={visit.room_id}&day=2027-03-09")
    assert 'class="block status-confirmed"' in text(calendar)
    assert '<span class="badge">confirmed</span>' in text(calendar)


def test_cancelling_frees_the_time_and_sends_the_calendar_cancellation(
    links, patient_client, django_capture_on_commit_callbacks
):
    assert "Cancel the appointment" in text(patient_client.get(links["cancel"]))
    with django_capture_on_commit_callbacks(execute=True):
        done = patient_client.post(links["cancel"])
    assert done.status_code == 200 and "is cancelled" in text(done)
    assert Visit.objects.get().status == VisitStatus.CANCELLED
    assert invite_of(mail.outbox[-1])["METHOD"] == "CANCEL"
    # The other links of the message now say so.
    confirm = patient_client.get(links["confirm"])
    assert confirm.status_code == 410 and "This appointment is cancelled." in text(confirm)


def test_rescheduling_offers_the_free_times_and_moves_the_appointment(
    links, patient_client, django_capture_on_commit_callbacks
):
    page = patient_client.get(links["reschedule"])
    assert page.status_code == 200
    assert f'value="{ts(la(2027, 3, 9, 11))}"' in text(page)  # Tuesday 11:00 is free
    assert f'value="{ts(TUESDAY_TEN)}"' not in text(page)  # its own time is not offered
    assert "Tuesday 9 March" in text(page)

    with django_capture_on_commit_callbacks(execute=True):
        done = patient_client.post(links["reschedule"], {"start": ts(la(2027, 3, 9, 11))})
    assert done.status_code == 200, text(done)
    assert "Tuesday 9 March 2027, 11:00 PST" in text(done)
    visit = Visit.objects.get()
    assert visit.start == la(2027, 3, 9, 11)
    moved = mail.outbox[-1]
    assert "has moved" in moved.subject and invite_of(moved).walk("VEVENT")[0]["SEQUENCE"] == 1
    # The old message's links no longer act on the moved appointment.
    old = patient_client.get(links["confirm"])
    assert old.status_code == 410 and "has moved" in text(old)


def test_a_time_taken_meanwhile_is_said_beside_the_times_and_the_link_still_works(
    links, patient_client, book, account
):
    from messaging.services import consent_record
    from tests.clinic.factories import MemberFactory

    other = MemberFactory(account=account, first_name="Sam", code="P-2")
    consent_record(patient=other, channel="email", granted=True, source="intake form")
    book(la(2027, 3, 9, 11), member=other)
    refused = patient_client.post(links["reschedule"], {"start": ts(la(2027, 3, 9, 11))})
    assert refused.status_code == 409
    assert "That time is no longer available." in text(refused)
    assert Visit.objects.get(member__code="P-1001").start == TUESDAY_TEN
    done = patient_client.post(links["reschedule"], {"start": ts(la(2027, 3, 9, 12))})
    assert done.status_code == 200


def test_an_expired_or_unknown_link_says_so(links, patient_client):
    with time_machine.travel(TUESDAY_TEN + dt.timedelta(seconds=1), tick=False):
        expired = patient_client.get(links["confirm"])
    assert expired.status_code == 410 and "This link has expired." in text(expired)
    unknown = patient_client.get(links["confirm"].replace("/a/", "/a/x"))
    assert unknown.status_code == 404 and "not valid" in text(unknown)


def test_the_front_desk_moving_it_makes_the_patient_confirm_again(
    links, patient_client, account, front_desk, django_capture_on_commit_callbacks
):
    patient_client.post(links["confirm"])
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.appointment_update(
            account=account, actor=front_desk, visit_id=Visit.objects.get().pk, start=la(2027, 3, 9, 14)
        )
    assert Visit.objects.get().confirmed_at is None
    fresh = links_in(mail.outbox[-1].body)
    assert patient_client.post(fresh["confirm"]).status_code == 200
    assert Visit.objects.get().confirmed_at is not None
