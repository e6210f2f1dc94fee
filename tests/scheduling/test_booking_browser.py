"""The front desk in Chromium: book pat.jones with dr.lee, find it on the day view, move it, cancel it."""

import datetime as dt
import zoneinfo

import pytest
from playwright.sync_api import expect

from clinic.demo import DEMO_PASSWORD, seed_demo_clinic
from clinic.models import User
from tests.browser import wait_for_htmx
from visits.models import Visit, VisitStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def next_weekday() -> dt.date:
    day = dt.datetime.now(zoneinfo.ZoneInfo("America/Los_Angeles")).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def test_front_desk_books_reschedules_and_cancels(staff_page):
    seed_demo_clinic()
    day = next_weekday()
    page = staff_page(User.objects.get(account__code="demo", username="frontdesk"), DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="Book an appointment")).to_be_visible()

    # Each change reloads the slots (and the form) over htmx: wait for one before making the next.
    with page.expect_response(lambda r: "/scheduling/?" in r.url):
        page.select_option("select[name=provider]", label="Dr. Lee")
    with page.expect_response(lambda r: "/scheduling/?" in r.url):
        page.fill("input[name=day]", day.isoformat())
        page.locator("input[name=day]").dispatch_event("change")
    expect(page.get_by_role("heading", name=day.strftime("%A %-d %B %Y"))).to_be_visible()
    expect(page.locator("#workspace")).to_contain_text("America/Los_Angeles")
    wait_for_htmx(page)

    page.locator("#slots button", has_text="10:00").click()
    expect(page.locator("#book-card")).to_contain_text("10:00")
    wait_for_htmx(page)
    page.fill("#patient-q", "Jones")
    expect(page.get_by_label("Pat Jones · P-1001", exact=False)).to_be_checked()
    wait_for_htmx(page)
    page.get_by_role("button", name="Book").click()
    confirmation = page.locator("#confirmation")
    expect(confirmation).to_contain_text("Pat Jones")
    expect(confirmation).to_contain_text("Dr. Lee")
    expect(page.locator("#slots button", has_text="10:00")).to_have_count(0)

    confirmation.get_by_role("link", name="See the day").click()
    row = page.locator("tr.appointment", has_text="Pat Jones")
    expect(row).to_contain_text("10:00\N{EN DASH}10:15")
    expect(page.locator("#schedule h3", has_text="Dr. Lee")).to_be_visible()

    wait_for_htmx(page)
    row.get_by_role("button", name="Reschedule").click()
    wait_for_htmx(page)
    page.locator(".reschedule-panel button", has_text="11:00").click()
    expect(page.locator("#message")).to_contain_text("Moved Pat Jones")
    expect(row).to_contain_text("11:00\N{EN DASH}11:15")
    wait_for_htmx(page)

    row.get_by_label("Cancellation reason").fill("Patient phoned to cancel")
    row.get_by_role("button", name="Cancel").click()
    expect(page.locator("#message")).to_contain_text("Cancelled the appointment of Pat Jones")
    expect(page.locator("tr.appointment", has_text="Pat Jones")).to_have_count(0)

    visit = Visit.objects.get(member__code="P-1001")
    assert visit.status == VisitStatus.CANCELLED
    assert visit.start.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles")).time() == dt.time(11)
