"""Reminders sent by the beat's sweep, on a controlled clock across the spring DST change (Los Angeles,
Sunday 14 March 2027 at 02:00)."""

import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection

from messaging.models import Message, MessageStatus
from reminders.models import ReminderPlan, ScheduledReminder
from reminders.services import reminders_sweep
from scheduling import services as scheduling
from tests.reminders.conftest import links_in
from tests.scheduling.conftest import la

pytestmark = pytest.mark.usefixtures("clock")

SUNDAY_TEN = la(2027, 3, 14, 10)  # PDT, the morning the clocks went forward


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweep at a local time; its messages are delivered at commit. Returns the reminders sent."""

    def at(when):
        before = len(mail.outbox)
        with time_machine.travel(when, tick=False), django_capture_on_commit_callbacks(execute=True):
            reminders_sweep()
        return mail.outbox[before:]

    return at


def test_a_day_before_and_two_hours_before_across_the_dst_change(book, sweep):
    book(SUNDAY_TEN)
    assert len(mail.outbox) == 1  # the confirmation
    assert sweep(la(2027, 3, 13, 9, 59)) == []
    [day_before] = sweep(la(2027, 3, 13, 10))  # 10:00 PST, 23 hours before
    assert day_before.subject == "Reminder: your appointment at Clinic acme, Sunday 14 March 2027, 10:00 PDT"
    assert set(links_in(day_before.body)) == {"confirm", "cancel", "reschedule"}
    assert sweep(la(2027, 3, 13, 10, 1)) == []  # sent once, whatever the number of beats
    assert sweep(la(2027, 3, 14, 7, 59)) == []
    [two_hours] = sweep(la(2027, 3, 14, 8))
    assert two_hours.subject == day_before.subject
    assert sweep(la(2027, 3, 14, 9, 59)) == []


def test_a_reschedule_replaces_the_pending_reminders(book, sweep, account, front_desk):
    visit = book(SUNDAY_TEN)
    scheduling.appointment_update(
        account=account, actor=front_desk, visit_id=visit.pk, start=la(2027, 3, 15, 10)
    )
    # The move's task ran at commit only in the booking's capture; run this one's too.
    from reminders.services import appointment_sync

    appointment_sync(visit_id=visit.pk)
    assert sweep(la(2027, 3, 13, 10)) == []
    assert sweep(la(2027, 3, 14, 8)) == []
    [reminder] = sweep(la(2027, 3, 14, 10))
    assert "Monday 15 March 2027, 10:00 PDT" in reminder.subject


def test_no_reminder_after_a_cancellation(
    book, sweep, account, front_desk, django_capture_on_commit_callbacks
):
    visit = book(SUNDAY_TEN)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.appointment_cancel(account=account, actor=front_desk, visit_id=visit.pk, reason="Phoned")
    assert not ScheduledReminder.objects.filter(done_at__isnull=True).exists()
    assert sweep(la(2027, 3, 13, 10)) == [] and sweep(la(2027, 3, 14, 8)) == []


def test_a_reminder_written_before_a_cancellation_is_not_sent_after_it(
    book, account, front_desk, django_capture_on_commit_callbacks
):
    visit = book(SUNDAY_TEN)
    with time_machine.travel(la(2027, 3, 13, 10), tick=False):
        with django_capture_on_commit_callbacks(execute=False) as deliveries:
            assert reminders_sweep() == 1
        with django_capture_on_commit_callbacks(execute=True):
            scheduling.appointment_cancel(
                account=account, actor=front_desk, visit_id=visit.pk, reason="Phoned"
            )
        for deliver in deliveries:
            deliver()
    reminder = Message.objects.get(kind="appointment_reminder")
    assert (reminder.status, reminder.reason) == (
        MessageStatus.CANCELLED,
        "The appointment is no longer booked.",
    )
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "Your appointment at Clinic acme",
        "Your appointment at Clinic acme on Sunday 14 March 2027, 10",
    ]


def test_a_rooms_own_plan_and_quiet_hours(book, sweep, account, room):
    ReminderPlan.objects.create(account=account, offsets=[24 * 60])  # the clinic's
    ReminderPlan.objects.create(
        account=account, room=room, offsets=[150], quiet_start=dt.time(20), quiet_end=dt.time(8, 30)
    )
    book(SUNDAY_TEN)
    # 150 minutes before 10:00 is 07:30, in the room's quiet hours: sent at their end, 08:30.
    assert sweep(la(2027, 3, 13, 10)) == [] and sweep(la(2027, 3, 14, 8, 29)) == []
    assert len(sweep(la(2027, 3, 14, 8, 30))) == 1


def test_no_reminder_without_consent(book, sweep, patient):
    from messaging.services import consent_record

    book(SUNDAY_TEN)
    consent_record(patient=patient, channel="email", granted=False, source="unsubscribed by phone")
    assert sweep(la(2027, 3, 13, 10)) == []
    assert (
        Message.objects.get(kind="appointment_reminder").reason
        == "Not sent: no consent to email; no consent to text message."
    )


@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_send_one_reminder(book):
    book(SUNDAY_TEN)
    barrier, written = threading.Barrier(2), []

    def beat():
        barrier.wait()
        try:
            written.append(reminders_sweep(now=la(2027, 3, 13, 10)))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(written) == [0, 1]
    assert Message.objects.filter(kind="appointment_reminder").count() == 1
