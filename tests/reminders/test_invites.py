import datetime as dt

import pytest
import time_machine
from django.core import mail

from messaging.models import Message, MessageStatus
from messaging.services import consent_record
from reminders.services import appointments_catch_up
from scheduling import services as scheduling
from tests.reminders.conftest import invite_of, links_in
from tests.scheduling.conftest import la
from visits.models import CloseReason
from visits.services import visit_close

pytestmark = pytest.mark.usefixtures("clock")

TUESDAY_TEN = la(2027, 3, 9, 10)


def event_of(message):
    calendar = invite_of(message)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_a_booking_sends_the_patient_a_confirmation_with_a_calendar_invite(book, smtp, patient):
    visit = book(TUESDAY_TEN)
    [received] = smtp.messages
    assert smtp.recipients == [["pat@example.org"]]
    assert received["Subject"] == "Your appointment at Clinic acme: Tuesday 9 March 2027, 10:00 PST"
    text = smtp.text_of(received)
    assert "Hello Pat," in text and "Jones" not in text
    links = links_in(text)
    assert set(links) == {"confirm", "cancel", "reschedule"}
    # Sent, the message's row keeps no clear token: only the links' digests remain.
    stored = Message.objects.get()
    assert "/a/…/confirm/" in stored.body_text and links["confirm"].split("/")[2] not in stored.body_html
    calendar, event = event_of(received)
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"appointment-{visit.pk}@clinic.example"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == TUESDAY_TEN
    assert event.decoded("DTEND") == la(2027, 3, 9, 10, 15)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "Rash" not in invite_of(received).to_ical().decode()  # never the reason for the visit


def test_a_move_and_a_cancellation_update_the_same_calendar_event(
    book, account, front_desk, django_capture_on_commit_callbacks
):
    visit = book(TUESDAY_TEN)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.appointment_update(
            account=account, actor=front_desk, visit_id=visit.pk, start=la(2027, 3, 9, 11)
        )
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.appointment_cancel(account=account, actor=front_desk, visit_id=visit.pk, reason="Phoned")

    booked, moved, cancelled = mail.outbox
    events = [event_of(m) for m in (booked, moved, cancelled)]
    assert [c["METHOD"] for c, _ in events] == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({str(e["UID"]) for _, e in events}) == 1
    assert [e["SEQUENCE"] for _, e in events] == [0, 1, 2]
    assert events[1][1].decoded("DTSTART") == la(2027, 3, 9, 11)
    assert str(events[2][1]["STATUS"]) == "CANCELLED"
    assert moved.subject == "Your appointment at Clinic acme has moved: Tuesday 9 March 2027, 11:00 PST"
    assert "Links in earlier messages no longer work" in moved.body
    assert cancelled.subject.endswith("is cancelled")
    assert links_in(cancelled.body) == {}


def test_a_patient_cancelling_through_the_api_hears_of_it_too(
    book, account, patient, django_capture_on_commit_callbacks
):
    visit = book(TUESDAY_TEN)
    with django_capture_on_commit_callbacks(execute=True):
        visit_close(
            account=account,
            actor=patient.user,
            visit_id=visit.pk,
            reason=CloseReason.PATIENT_CANCEL_APPOINTMENT,
        )
    assert [invite_of(m)["METHOD"] for m in mail.outbox] == ["REQUEST", "CANCEL"]


def test_nothing_without_consent_and_the_reason_is_kept(book, patient):
    consent_record(patient=patient, channel="email", granted=False, source="patient asked at the desk")
    book(TUESDAY_TEN)
    assert mail.outbox == []
    assert Message.objects.get().status == MessageStatus.REFUSED


def test_a_change_whose_task_was_lost_is_told_by_the_catch_up(
    account, front_desk, provider, patient, hours, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the broker was down: nothing enqueued
        scheduling.appointment_book(
            account=account,
            actor=front_desk,
            room_code="main",
            start=TUESDAY_TEN,
            end=TUESDAY_TEN + dt.timedelta(minutes=15),
            provider_id=provider.pk,
            member_code=patient.code,
        )
    assert appointments_catch_up() == 0  # its task may still come
    later = la(2027, 3, 8, 7, 3)
    with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert appointments_catch_up() == 1
        assert appointments_catch_up() == 0
    [confirmation] = mail.outbox
    assert invite_of(confirmation)["METHOD"] == "REQUEST"
