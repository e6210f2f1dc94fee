"""The front desk in Chromium: book pat.jones with dr.lee, find it on the day view, move it, cancel it."""

import datetime as dt
import zoneinfo

import pytest
from playwright.sync_api import expect

from clinic.demo import DEMO_PASSWORD, seed_demo_clinic
from clinic.models import Member, Provider, User
from scheduling import services
from tests.browser import wait_for_htmx
from visits.models import Visit, VisitStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def next_weekday() -> dt.date:
    day = dt.datetime.now(zoneinfo.ZoneInfo("America/Los_Angeles")).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def pick_ten_with_lee(page, day: dt.date) -> None:
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


def test_front_desk_books_reschedules_and_cancels(staff_page):
    seed_demo_clinic()
    day = next_weekday()
    page = staff_page(User.objects.get(account__code="demo", username="frontdesk"), DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="Book an appointment")).to_be_visible()

    pick_ten_with_lee(page, day)
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
    question = page.locator(".reschedule-panel [role=alertdialog]")
    expect(question).to_contain_text("to " + day.strftime("%a %-d %b") + ", 11:00?")
    wait_for_htmx(page)
    page.locator(".reschedule-panel").get_by_role("button", name="Yes, move").click()
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


@pytest.mark.parametrize("width", [1440, 390])
def test_a_slot_taken_meanwhile_offers_the_nearest_and_a_new_patient_is_checked_for_duplicates(
    staff_page, width
):
    seed_demo_clinic()
    day = next_weekday()
    desk = User.objects.get(account__code="demo", username="frontdesk")
    lee = Provider.objects.get(user__username="dr.lee")
    page = staff_page(desk, DEMO_PASSWORD)
    page.set_viewport_size({"width": width, "height": 900})
    pick_ten_with_lee(page, day)

    # A new patient, typed in the search first: the name is carried over and the code proposed.
    page.fill("#patient-q", "Pat Jones")
    expect(page.get_by_label("Pat Jones · P-1001", exact=False)).to_be_visible()
    wait_for_htmx(page)
    page.get_by_role("button", name="New patient").click()
    new = page.locator("#new-patient-form")
    expect(new.get_by_label("First name")).to_have_value("Pat")
    expect(new.get_by_label("Last name")).to_have_value("Jones")
    expect(new.get_by_label("Patient code")).to_have_value("P-1002")
    wait_for_htmx(page)
    new.get_by_label("Date of birth").fill("1985-04-12")
    new.get_by_role("button", name="Save patient").click()
    expect(page.locator("#duplicates")).to_contain_text("Pat Jones · P-1001 · born 1985-04-12")
    assert not Member.objects.filter(code="P-1002").exists()
    wait_for_htmx(page)
    new = page.locator("#new-patient-form")
    new.get_by_label("Last name").fill("Jones-<i>Okafor</i> " + "Long" * 20)
    new.get_by_label("Email", exact=True).fill("pat.okafor@example.com")
    new.get_by_label("Agrees to appointment messages by email").check()
    new.get_by_role("button", name="Save as a new patient anyway").click()
    expect(page.locator("#patient-saved")).to_contain_text("Saved Pat Jones-<i>Okafor</i>")
    chosen = page.locator("#patient-results input[name=member][value='P-1002']")
    expect(chosen).to_be_checked()
    wait_for_htmx(page)
    page.locator("#patient-results .form-check", has=page.locator("[value='P-1002']")).get_by_role(
        "button", name="Messages"
    ).click()
    expect(page.locator("#consent-now")).to_contain_text("Email: agreed")
    expect(page.locator("#consent-now")).to_contain_text("Text message: never asked")
    page.fill("#book-reason", "Rash on the left arm")

    # Meanwhile someone else books 10:00 with Dr. Lee.
    start = dt.datetime.combine(day, dt.time(10), tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles"))
    services.appointment_book(
        account=desk.account, actor=desk, room_code="main", start=start, end=start + dt.timedelta(minutes=15),
        provider_id=lee.pk, member_code="P-1001",
    )  # fmt: skip
    wait_for_htmx(page)
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.locator("#taken")).to_contain_text("Just booked by someone else.")
    nearest = page.locator("#nearest button")
    expect(nearest.first).to_contain_text("with Dr. Lee")
    expect(page.locator("#book-reason")).to_have_value("Rash on the left arm")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    wait_for_htmx(page)
    label = nearest.first.inner_text()
    nearest.first.click()
    expect(page.locator("#confirmation")).to_contain_text("Jones-<i>Okafor</i>")
    visit = Visit.objects.get(member__code="P-1002")
    assert visit.provider == lee and visit.intake.reason_for_visit == "Rash on the left arm"
    assert visit.start.astimezone(start.tzinfo).strftime("%H:%M") in label
