"""The audit trail page in Chromium on a phone-sized screen: it fits, filters, and exports what it shows."""

import pytest
from playwright.sync_api import expect

from clinic import audit
from clinic.models import AuditEvent
from tests.clinic.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_reads_the_trail_on_a_390_px_screen(
    staff_page, clinic_admin, account, room, provider, member
):
    other = MemberFactory(account=account, first_name="Ada", last_name="Okafor-Wellington", code="P-2002")
    for patient, action in (
        (member, audit.Action.READ),
        (other, audit.Action.LIST),
        (member, audit.Action.DOWNLOAD),
    ):
        actor = audit.Actor(
            account_id=account.pk, user_id=provider.user_id, ip="2001:db8::1234:5678", via="page"
        )
        audit.audit_record(actor, action, patient, detail="a detail long enough to need wrapping on a phone")

    page = staff_page(clinic_admin)
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Menu").click()  # the navbar is collapsed on a phone
    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_test_id("audit-total")).to_have_text("3 events")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.get_by_placeholder("Name or code").fill("Jones")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.get_by_test_id("audit-total")).to_have_text("2 events")
    expect(page.get_by_test_id("audit-list")).to_contain_text("Downloaded")
    expect(page.get_by_test_id("audit-list")).not_to_contain_text("Okafor")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    with page.expect_download() as download:
        page.get_by_role("link", name="Export these as CSV").click()
    rows = download.value.path().read_text().splitlines()
    assert len(rows) == 3 and all("Pat Jones" in row for row in rows[1:])
    assert AuditEvent.objects.count() == 3  # reading the trail is not recorded again
