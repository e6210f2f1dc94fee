"""The front desk puts a patient on the waitlist in Chromium and watches the offer made after a cancel."""

import datetime as dt
import zoneinfo

import pytest
from django.core import mail
from playwright.sync_api import expect

from clinic.demo import DEMO_PASSWORD, seed_demo_clinic
from clinic.models import Member, Provider, Room, User
from messaging.models import Channel, Message
from messaging.services import consent_record
from scheduling import services
from waitlist import views

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LA = zoneinfo.ZoneInfo("America/Los_Angeles")
HOSTILE = "Zoë-Ångström <img src=x onerror=alert(1)> " + "Longname" * 6


def next_weekday() -> dt.datetime:
    day = dt.datetime.now(LA).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(10), tzinfo=LA)


@pytest.mark.parametrize("width", [1440, 390])
def test_the_front_desk_adds_a_patient_and_sees_the_offer_after_a_cancel(staff_page, width, monkeypatch):
    monkeypatch.setattr(views, "OFFERS_REFRESH_SECONDS", 1)
    seed_demo_clinic()
    desk = User.objects.get(account__code="demo", username="frontdesk")
    room = Room.objects.get(account__code="demo", code="main")
    waiting = Member.objects.create(
        account=room.account, code="W-1", first_name=HOSTILE, last_name="O'Brien", email="w1@example.org"
    )
    consent_record(patient=waiting, channel=Channel.EMAIL, granted=True, source="asked at the desk")
    start = next_weekday()
    booked = services.appointment_book(
        account=room.account, actor=desk, room_code="main", member_code="P-1001", start=start,
        end=start + dt.timedelta(minutes=15), provider_id=Provider.objects.get(user__username="dr.lee").pk,
    )  # fmt: skip

    page = staff_page(desk, DEMO_PASSWORD)
    page.set_viewport_size({"width": width, "height": 1000})
    if width < 992:
        page.get_by_role("button", name="Menu").click()  # the navbar is collapsed on a phone
    page.get_by_role("link", name="Waitlist").click()
    page.get_by_label("Patient").fill("W-1")
    page.get_by_role("button", name="Add to the waitlist").click()
    expect(page.get_by_role("alert")).to_contain_text("is on the waitlist of")
    entries = page.locator("#waitlist-entries")
    expect(entries).to_contain_text("Zoë-Ångström <img src=x onerror=alert(1)>")
    expect(entries).to_contain_text("Any day · any time")
    expect(page.locator("#waitlist-offers")).to_contain_text("No offers yet.")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    mail.outbox.clear()
    services.appointment_cancel(account=room.account, actor=desk, visit_id=booked.pk, reason="Feels better")
    # The page's live part reloads (on its stream's word, or polling where the test server serves none):
    # the offer shows without a reload of the page.
    offers = page.locator("#waitlist-offers")
    expect(offers).to_contain_text("Waiting for an answer", timeout=15_000)
    expect(offers).to_contain_text(start.strftime("%a %-d %b, 10:00"))
    expect(offers).to_contain_text("Dr. Lee")
    # The offer by its kind: the cancelled patient may be told of the cancellation too.
    offered = Message.objects.filter(kind="waitlist_offer").values_list("recipient", flat=True)
    assert list(offered) == ["w1@example.org"] and ["w1@example.org"] in [m.to for m in mail.outbox]
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.get_by_role("button", name="Stop offering this slot").click()
    expect(page.get_by_role("alert")).to_contain_text("Offers stopped (1 withdrawn)")
    expect(page.locator("#waitlist-offers")).to_contain_text("Stopped by the front desk")
