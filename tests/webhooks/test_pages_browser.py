"""The webhooks page in Chromium on a 390 px wide phone: add an endpoint, copy its secret, read the log."""

import pytest
from playwright.sync_api import expect

from tests.browser import wait_for_htmx
from webhooks import services
from webhooks.models import Endpoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_admin_adds_an_endpoint_and_reads_its_log_on_a_phone(
    chromium, live_server, admin, account, receiver
):
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=account]", account.code)
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit], input[type=submit]")
    page.goto("/manage/webhooks/")
    assert no_sideways_scroll(page)

    page.get_by_label("Receiver URL").fill(receiver.url("/a-rather-long-path/for-the-clinic-crm/hooks"))
    page.get_by_label("User created").check()
    page.get_by_role("button", name="Add endpoint").click()
    wait_for_htmx(page)
    secret = Endpoint.objects.get().secret
    expect(page.get_by_test_id("new-secret").locator("input")).to_have_value(secret)
    assert no_sideways_scroll(page)

    services.webhook_event_record(
        account=account, event_type="user.created", data={"id": 1}, ordering_key="user:1"
    )
    page.get_by_role("link", name="Delivery log").click()
    expect(page.get_by_test_id("delivery-log")).to_contain_text("User created")
    expect(page.get_by_test_id("delivery-log")).to_contain_text("Delivered")
    assert no_sideways_scroll(page)

    page.reload()
    page.goto("/manage/webhooks/")
    expect(page.get_by_test_id("new-secret")).to_have_count(0)  # shown once
    context.close()
