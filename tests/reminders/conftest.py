import datetime as dt
import re

import icalendar
import pytest
from django.core import mail

from messaging.models import Channel
from messaging.services import consent_record
from scheduling import services as scheduling
from tests.messaging.conftest import messaging_settings, smtp  # noqa: F401 (fixtures)
from tests.scheduling.conftest import clock  # noqa: F401 (fixture)
from tests.scheduling.factories import work

LINK = re.compile(r"https?://[\w.:-]+(/a/[\w-]+/(confirm|cancel|reschedule)/)")


@pytest.fixture
def hours(provider, room):
    work(provider, room, days=range(7))


@pytest.fixture
def patient(member):
    member.email = "pat@example.org"
    member.save()
    consent_record(patient=member, channel=Channel.EMAIL, granted=True, source="intake form")
    return member


@pytest.fixture
def book(account, front_desk, provider, patient, hours, django_capture_on_commit_callbacks):
    """Book `patient` with `provider` at `start`, for 15 minutes; the confirmation is sent at commit."""

    def booked(start, member=None):
        with django_capture_on_commit_callbacks(execute=True):
            return scheduling.appointment_book(
                account=account,
                actor=front_desk,
                room_code="main",
                start=start,
                end=start + dt.timedelta(minutes=15),
                provider_id=provider.pk,
                member_code=(member or patient).code,
            )

    return booked


def links_in(text: str) -> dict[str, str]:
    return {purpose: path for path, purpose in LINK.findall(text)}


def invite_of(message) -> icalendar.Calendar:
    """The calendar invite attached to a sent email (django.core.mail's or the SMTP server's)."""
    if hasattr(message, "attachments"):
        parts = [part for part in message.attachments if not isinstance(part, tuple)]
        return icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    return icalendar.Calendar.from_ical(part.get_content())


def sent(kind_subject: str = "") -> list:
    return [m for m in mail.outbox if kind_subject in m.subject]
