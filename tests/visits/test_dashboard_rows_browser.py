"""A provider works the queue in Chromium at 1440 and 390 px with hostile content: the page never widens,
Accept stays on screen, a row expands to every answer, the keys accept, a new arrival shows in the title
and is announced, and patients the system closes are told."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser import wait_for_htmx
from tests.clinic.factories import MemberFactory
from tests.visits.factories import IntakeFactory
from visits import services
from visits.models import Visit, VisitStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_URL = "https://example.org/" + "a" * 400
LONG_REASON = ("Itchy rash " * 408)[:4080] + LONG_URL  # 4,500 characters, ending in a 420-character link
ONE_REFRESH_MS = 3000


@pytest.fixture(autouse=True)
def fast_refresh(settings):
    settings.QUEUE_REFRESH_SECONDS = 1


def walk_in(room, *, first, last, reason, custom=None, dob=None, gender=""):
    """A walk-in joining through the lifecycle, so that the dashboards hear of it on their stream."""
    member = MemberFactory(account=room.account, first_name=first, last_name=last, dob=dob, gender=gender)
    intake = IntakeFactory(
        account=room.account, room=room, member=member, reason_for_visit=reason, custom=custom or {}
    )
    return services.visit_add_walkin(
        account=room.account, actor=member.user, intake_id=intake.pk, room_code=room.code
    )


def page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


@pytest.mark.parametrize("width", [1440, 390])
def test_a_provider_works_a_hostile_queue_by_mouse_and_keys(staff_page, provider, room, width):
    room.intake_fields = [{"name": "custom_insurer", "label": "Insurer", "on_row": False}]
    room.save()
    long_name = "Maximiliana" * 6
    hostile = walk_in(
        room,
        first=long_name,
        last="<script>window.hacked = 1</script>",
        reason=LONG_REASON,
        custom={"custom_insurer": "Acme Health", "custom_note": LONG_URL},
        dob=timezone.localdate() - dt.timedelta(days=7 * 366),
        gender="female",
    )
    tom = walk_in(room, first="Tom", last="Small", reason="Sore throat")
    for name in ("Ana", "Ben", "Cleo", "Dev"):  # a queue longer than a phone's screen
        walk_in(room, first=name, last="Queue", reason="Cough and a sore throat for three days")

    page = staff_page(provider.user)
    page.set_viewport_size({"width": width, "height": 844})
    page.reload()
    row = page.locator(f"#visit-{hostile.pk}")
    expect(row).to_contain_text("<script>window.hacked = 1</script>")  # shown as text, never run
    expect(row).to_contain_text("7 y · Female")
    assert page.evaluate("() => window.hacked") is None
    assert page_width(page) <= width
    accept = row.get_by_role("button", name="Accept")
    box = accept.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    expect(page).to_have_title("(6) Queues · Clinic dashboard")

    # Two lines, then "more"; all of it on "more", still within the page.
    reason = row.locator(".reason")
    assert reason.evaluate("el => el.getBoundingClientRect().height") < 80
    row.get_by_role("button", name="more").click()
    assert reason.evaluate("el => el.getBoundingClientRect().height") > 200
    assert page_width(page) <= width

    # The navbar collapses on a phone.
    queues_link = page.get_by_role("navigation").get_by_role("link", name="Queues")
    if width < 992:
        expect(queues_link).to_be_hidden()
        page.get_by_role("button", name="Menu").click()
        expect(queues_link).to_be_visible()
        page.get_by_role("button", name="Menu").click()
    else:
        expect(queues_link).to_be_visible()

    # The keys: "?" lists them; j and k move between rows, e expands one.
    wait_for_htmx(page)
    page.locator("body").press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("Accept the patient")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    row.focus()
    page.keyboard.press("j")
    expect(page.locator(f"#visit-{tom.pk}")).to_be_focused()
    page.keyboard.press("k")
    expect(row).to_be_focused()
    page.keyboard.press("e")
    expect(row.get_by_role("button", name="Details (+1)")).to_have_attribute("aria-expanded", "true")
    preview = row.locator(".queue-preview")
    expect(preview).to_contain_text("Insurer")
    expect(preview).to_contain_text("Acme Health")
    assert page_width(page) <= width

    # A new arrival while the provider looks elsewhere: the title counts it, a screen reader hears it,
    # and the expanded row stays expanded.
    walk_in(room, first="Nia", last="Okafor", reason="Fever")
    expect(page).to_have_title("(7) Queues · Clinic dashboard", timeout=ONE_REFRESH_MS)
    expect(page.locator("#arrivals")).to_have_text("1 new walk-in")
    expect(preview).to_contain_text("Acme Health")

    # "a" accepts the focused row; the card is on screen (on a phone, scrolled to).
    row.focus()
    page.keyboard.press("a")
    card = page.locator(f"#in-progress-{hostile.pk}")
    expect(card).to_be_visible()
    expect(card).to_be_in_viewport()
    expect(row).to_have_count(0)
    expect(page).to_have_title("(6) Queues · Clinic dashboard", timeout=ONE_REFRESH_MS)
    assert Visit.objects.get(pk=hostile.pk).status == VisitStatus.IN_PROGRESS
    assert page_width(page) <= width

    # The system closes the patients who waited too long: they do not vanish silently.
    assert services.visits_close_overdue(now=timezone.now() + dt.timedelta(hours=2)) == 6
    notices = page.locator("#left-notices")
    expect(notices).to_contain_text("Tom Small left the queue after waiting", timeout=ONE_REFRESH_MS)
    expect(page).to_have_title("Queues · Clinic dashboard")
    expect(page.locator(".left-unseen summary")).to_have_text("Left without being seen today (6)")
