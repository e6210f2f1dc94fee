"""A patient on a phone (390 px) opens the reschedule link of their confirmation and picks another time."""

import datetime as dt

import pytest
from django.core import mail
from playwright.sync_api import expect

from messaging.services import consent_record
from scheduling import services as scheduling
from tests.clinic.factories import MemberFactory
from tests.reminders.conftest import links_in
from tests.scheduling.factories import work
from visits.models import Visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Bartholomew-Maximiliana <script>alert('x')</script>"


def test_a_patient_moves_their_appointment_on_a_phone(
    chromium, live_server, settings, account, room, provider, front_desk
):
    settings.PUBLIC_URL = live_server.url
    work(provider, room, days=range(7))
    patient = MemberFactory(account=account, first_name=LONG_NAME, email="pat@example.org")
    consent_record(patient=patient, channel="email", granted=True, source="intake form")
    day = dt.datetime.now(room.zone).date() + dt.timedelta(days=2)
    start = dt.datetime.combine(day, dt.time(10), tzinfo=room.zone)
    visit = scheduling.appointment_book(
        account=account,
        actor=front_desk,
        room_code=room.code,
        start=start,
        end=start + dt.timedelta(minutes=15),
        provider_id=provider.pk,
        member_code=patient.code,
    )
    path = links_in(mail.outbox[0].body)["reschedule"]

    context = chromium.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    page.goto(path)
    expect(page.get_by_role("heading", name="Choose another time")).to_be_visible()
    expect(page.locator(".appointment-when")).to_contain_text(
        f"{day:%A} {day.day} {day:%B} {day.year}, 10:00"
    )
    expect(page.locator("main")).to_contain_text(LONG_NAME)  # shown as text, never run
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    choice = page.get_by_role("button", name="11:00").first
    assert choice.bounding_box()["height"] >= 44  # a finger's target
    choice.click()
    expect(page.get_by_role("heading", name="Your appointment has moved")).to_be_visible()
    expect(page.locator(".appointment-when")).to_contain_text("11:00")
    assert Visit.objects.get(pk=visit.pk).start.astimezone(room.zone).time() == dt.time(11)
    # The link worked once: going back and choosing again says so.
    page.goto(path)
    expect(page.locator("main")).to_contain_text("This link was already used.")
    assert dialogs == []
    context.close()
