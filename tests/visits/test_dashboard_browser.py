"""Two providers' dashboards in Chromium: a live e-consult race, finishing the visit, lost connection,
and a walk-in closed by the max-waiting-time task."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser import wait_for_htmx
from tests.visits.factories import VisitFactory
from visits.models import Visit, VisitStatus
from visits.tasks import close_overdue_visits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFRESH = 1  # seconds; "within one refresh" below allows for one period plus the request itself
ONE_REFRESH_MS = REFRESH * 1000 + 2000
QUEUE_POLL = re.compile(r"/dashboard/queues/")


@pytest.fixture(autouse=True)
def fast_refresh(settings):
    settings.QUEUE_REFRESH_SECONDS = REFRESH


def add_econsult_through_the_api(member_api, room) -> int:
    intake = member_api.post(
        "intakes",
        {
            "room_code": room.code,
            "reason_for_visit": "Persistent cough",
            "location": "CA",
            "custom_fever": "38.5",
        },
    )
    assert intake.status_code == 201, intake.json()
    econsult = member_api.post(
        "visits/add_econsult", {"intake_id": intake.json()["data"]["id"], "room_code": room.code}
    )
    assert econsult.status_code == 201, econsult.json()
    return int(econsult.json()["data"]["id"])


def test_two_providers_one_econsult(staff_page, provider, other_provider, member, member_api, room):
    lee = staff_page(provider.user)
    patel = staff_page(other_provider.user)
    expect(lee.locator("#econsult-queue")).to_contain_text("No e-consults waiting.")
    expect(patel.locator("#econsult-queue")).to_contain_text("No e-consults waiting.")

    visit_id = add_econsult_through_the_api(member_api, room)

    lee_row, patel_row = lee.locator(f"#visit-{visit_id}"), patel.locator(f"#visit-{visit_id}")
    expect(lee_row).to_contain_text("Pat Jones", timeout=ONE_REFRESH_MS)
    expect(patel_row).to_contain_text("Pat Jones", timeout=ONE_REFRESH_MS)
    expect(patel_row).to_contain_text("Persistent cough")
    expect(patel_row).to_contain_text("38.5")
    expect(patel.get_by_test_id("econsult-count")).to_have_text("1")

    # Dr. Patel's page will click late: its refreshes answer "unchanged" for now, as if slow.
    patel.route(QUEUE_POLL, lambda route: route.fulfill(status=204))
    wait_for_htmx(lee)
    wait_for_htmx(patel)
    lee_row.get_by_role("button", name="Accept").click()
    expect(lee.locator("#in-progress")).to_contain_text("Pat Jones")
    expect(lee_row).to_have_count(0)
    patel_row.get_by_role("button", name="Accept").click()
    expect(patel_row).to_contain_text("Pat Jones was already taken by Dr. Lee.")
    # Refreshing again, the row leaves Dr. Patel's queue within one refresh.
    patel.unroute(QUEUE_POLL)
    expect(patel_row).to_have_count(0, timeout=ONE_REFRESH_MS)
    expect(patel.get_by_test_id("econsult-count")).to_have_text("0")

    # A lost connection is shown, and goes away when the server answers again.
    patel.context.set_offline(True)
    expect(patel.locator("#connection-lost")).to_be_visible(timeout=5000)
    expect(patel.locator("#queues")).to_have_class(re.compile("queues-stale"))
    patel.context.set_offline(False)
    expect(patel.locator("#connection-lost")).to_be_hidden(timeout=5000)

    # Dr. Lee completes the visit with notes; only the allowed html is kept.
    card = lee.locator(f"#in-progress-{visit_id}")
    wait_for_htmx(lee)
    card.locator("textarea[name=notes]").fill("<p>Drink <b>water</b></p><script>alert(1)</script>")
    card.get_by_role("button", name="Complete").click()
    expect(card).to_have_count(0)
    expect(lee.locator("#today")).to_contain_text("completed")
    visit = Visit.objects.get(pk=visit_id)
    assert (visit.status, visit.provider, visit.notes) == (
        VisitStatus.COMPLETED,
        provider,
        "<p>Drink <b>water</b></p>",
    )


def test_walkin_outwaiting_the_max_waiting_time_vanishes_after_the_task(staff_page, provider, room):
    # 16 s: the warning lasts 4 s (75-100 %), wide enough for a loaded machine's ticks to land in it.
    room.max_waiting_time = 16
    room.save()
    visit = VisitFactory(account=room.account, room=room)
    page = staff_page(provider.user)
    row = page.locator(f"#visit-{visit.pk}")
    expect(row).to_have_class(re.compile(r"\bwait-ok\b"))
    # The waiting time ticks in the browser and changes colour past 75 %, then past the limit.
    expect(row).to_have_class(re.compile(r"\bwait-warning\b"), timeout=20_000)
    expect(row).to_have_class(re.compile(r"\bwait-overdue\b"), timeout=8000)

    assert close_overdue_visits.apply().get() == 1

    expect(row).to_have_count(0, timeout=ONE_REFRESH_MS)
    expect(page.get_by_test_id("walkin-count")).to_have_text("0")
