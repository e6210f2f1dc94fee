"""The front desk's calendar in Chromium, at 1440 and 390 px: read it, move an appointment by button, by
time field and by dragging, and book a free gap."""

import datetime as dt
import zoneinfo

import pytest
from playwright.sync_api import expect

from clinic.demo import DEMO_PASSWORD, seed_demo_clinic
from clinic.models import Member, Provider, Room, User
from scheduling import services
from tests.browser import wait_for_htmx
from tests.clinic.factories import ProviderFactory
from visits.models import Visit, VisitStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LA = zoneinfo.ZoneInfo("America/Los_Angeles")


def next_weekday() -> dt.date:
    day = dt.datetime.now(LA).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LA)


@pytest.fixture
def clinic():
    seed_demo_clinic()
    desk = User.objects.get(account__code="demo", username="frontdesk")
    room = Room.objects.get(account__code="demo", code="main")
    lee, patel = (Provider.objects.get(user__username=u) for u in ("dr.lee", "dr.patel"))
    day = next_weekday()
    pat = Member.objects.get(code="P-1001")

    def book(provider, start):
        end = start + dt.timedelta(minutes=15)
        return services.appointment_book(
            account=room.account, actor=desk, room_code="main", member_code=pat.code, start=start, end=end,
            provider_id=provider.pk,
        )  # fmt: skip

    visit = book(lee, at(day, 10))
    gone = book(patel, at(day, 11))
    services.appointment_cancel(account=room.account, actor=desk, visit_id=gone.pk, reason="Feels better")
    return {"desk": desk, "room": room, "day": day, "visit": visit, "lee": lee, "patel": patel}


def open_calendar(staff_page, clinic, width: int, height: int = 900):
    page = staff_page(clinic["desk"], DEMO_PASSWORD)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"/scheduling/calendar/?room={clinic['room'].pk}&day={clinic['day'].isoformat()}")
    return page


def confirm(page, question: str) -> None:
    """Every move is asked before it is saved: check the question, then say yes."""
    asked = page.locator("#confirm-move")
    expect(asked).to_contain_text(question)
    wait_for_htmx(page)
    asked.get_by_role("button", name="Yes, move").click()


def test_the_calendar_at_1440_px_moves_by_button_time_field_and_drag(staff_page, clinic):
    page = open_calendar(staff_page, clinic, 1440, height=1600)
    headers = page.locator("table.calendar th.provider")
    expect(headers).to_have_text(["Dr. Lee", "Dr. Patel"])
    block = page.locator(f"#block-{clinic['visit'].pk}")
    expect(block).to_contain_text("10:00\N{EN DASH}10:15")
    expect(block).to_contain_text("Pat Jones")
    expect(block).to_contain_text("booked")
    cancelled = page.locator(".block.status-cancelled")
    expect(cancelled.locator("s")).to_have_text("Pat Jones")
    expect(cancelled).to_contain_text("Cancelled by Frank Desk: Feels better")

    wait_for_htmx(page)
    block.get_by_role("link", name="Move Pat Jones").click()
    wait_for_htmx(page)
    page.locator("#move-card").get_by_role("button", name="Move to next free slot").click()
    confirm(page, "to " + clinic["day"].strftime("%a %d %b") + ", 10:15 with Dr. Lee?")
    expect(page.locator("#message")).to_contain_text("10:15 with Dr. Lee")
    expect(page.locator(f"#block-{clinic['visit'].pk}")).to_contain_text("10:15\N{EN DASH}10:30")

    wait_for_htmx(page)
    page.locator(f"#block-{clinic['visit'].pk}").get_by_role("link", name="Move Pat Jones").click()
    card = page.locator("#move-card")
    expect(card).to_be_visible()
    wait_for_htmx(page)
    card.get_by_label("Time").fill("11:00")
    card.get_by_role("button", name="Move", exact=True).click()
    confirm(page, "11:00 with Dr. Lee?")
    expect(page.locator("#message")).to_contain_text("11:00 with Dr. Lee")

    wait_for_htmx(page)
    target = page.get_by_label("Book Dr. Patel at 14:00").locator("xpath=..")
    # Both ends in view before the pointer goes down (scrolling the grid mid-drag would lose the block).
    target.scroll_into_view_if_needed()
    page.locator(f"#block-{clinic['visit'].pk}").drag_to(target)
    confirm(page, "from " + clinic["day"].strftime("%a %d %b") + ", 11:00 with Dr. Lee to")
    expect(page.locator("#message")).to_contain_text("14:00 with Dr. Patel")
    visit = Visit.objects.get(pk=clinic["visit"].pk)
    assert (visit.start, visit.provider_id) == (at(clinic["day"], 14), clinic["patel"].pk)

    # The week view keeps the columns, a set per day; a free gap opens the booking form prefilled.
    wait_for_htmx(page)
    page.get_by_role("navigation", name="Days").get_by_role("link", name="Week view").click()
    expect(page.locator("table.calendar th.day-head")).to_have_count(7)
    assert "view=week" in page.url  # pushed into the address bar
    page.get_by_role("navigation", name="Days").get_by_role("link", name="Day view").click()
    wait_for_htmx(page)
    page.get_by_label("Book Dr. Lee at 09:30").click()
    expect(page.locator("#book-card")).to_contain_text("09:30")
    expect(page.locator("#book-card")).to_contain_text("Dr. Lee")


def test_the_calendar_at_390_px_scrolls_inside_its_box(staff_page, clinic):
    for last in ("Okafor", "Silva"):  # four columns: wider than a phone
        ProviderFactory(account=clinic["room"].account, rooms=[clinic["room"]], user__last_name=last)
    page = open_calendar(staff_page, clinic, 390)
    expect(page.locator("table.calendar th.provider")).to_have_count(4)
    expect(page.locator(f"#block-{clinic['visit'].pk}")).to_be_attached()
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390, page_width  # the page itself does not scroll sideways
    box = page.locator(".calendar-scroll")
    assert box.evaluate("el => el.scrollWidth > el.clientWidth")
    gap = page.get_by_label("Book Dr. Patel at 09:00")
    gap.scroll_into_view_if_needed()
    expect(gap).to_be_in_viewport()
    expect(page.locator("table.calendar th.time").first).to_be_visible()

    # Cancel on the phone: the block stays struck through, with who and why, and Undo books it again.
    wait_for_htmx(page)
    block = page.locator(f"#block-{clinic['visit'].pk}")
    block.get_by_role("link", name="Move Pat Jones").click()
    card = page.locator("#move-card")
    expect(card).to_be_visible()
    wait_for_htmx(page)
    card.get_by_label("Cancellation reason").fill("Car broke down <b>again</b>")
    card.get_by_role("button", name="Cancel appointment").click()
    expect(page.locator("#message")).to_contain_text("Undo is offered for 5 minutes")
    expect(block.locator("s")).to_have_text("Pat Jones")
    expect(block).to_contain_text("Cancelled by Frank Desk: Car broke down <b>again</b>")
    wait_for_htmx(page)
    block.get_by_role("button", name="Undo the cancellation of Pat Jones").click()
    expect(page.locator("#message")).to_contain_text("Booked Pat Jones again")
    again = Visit.objects.get(member__code="P-1001", status=VisitStatus.WAITING)
    expect(page.locator(f"#block-{again.pk}")).to_contain_text("booked")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # The date field follows the day shown.
    wait_for_htmx(page)
    page.get_by_role("navigation", name="Days").get_by_role("link", name="Next day").click()
    following = clinic["day"] + dt.timedelta(days=1)
    expect(page.locator("#calendar-form input[name=day]")).to_have_value(following.isoformat())
