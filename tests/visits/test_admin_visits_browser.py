"""The clinic admin in Chromium: filter the visits, download one PDF, export the filtered set as a ZIP."""

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import wait_for_htmx
from tests.clinic.factories import MemberFactory
from tests.visits.summary_factories import eager_celery, media, pdf_text, walk_through  # noqa: F401
from visits.models import SummaryDownload, SummaryExport, VisitSummary

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media", "eager_celery"),
]

JOINED = dt.datetime(2026, 5, 4, 16, 0, tzinfo=dt.UTC)


def test_admin_filters_downloads_a_pdf_and_exports_a_zip(
    staff_page, clinic_admin, account, room, member, provider
):
    first = walk_through(member=member, provider=provider, room=room, joined=JOINED, reason="Sore throat")
    walk_through(member=member, provider=provider, room=room, joined=JOINED + dt.timedelta(days=1))
    other = MemberFactory(account=account, first_name="Ada", last_name="Okafor")
    walk_through(member=other, provider=provider, room=room, joined=JOINED)
    VisitSummary.objects.all().delete()  # as for visits from before summaries existed: none rendered yet

    page = staff_page(clinic_admin)  # the home page sends a clinic admin to the visits page
    expect(page).to_have_url(re.compile(r"/manage/visits/$"))
    expect(page.get_by_test_id("visit-total")).to_have_text("3")

    page.get_by_placeholder("Name or code").fill("Jones")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.get_by_test_id("visit-total")).to_have_text("2")
    expect(page.locator("[data-testid=visit-table] tbody tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"patient=Jones"))  # the filter is in the address, no reload
    wait_for_htmx(page)

    # Sort oldest first by the column header, then filter again: the sort is kept.
    page.get_by_role("link", name="Time").click()
    expect(page.locator("[data-testid=visit-table] tbody tr").first).to_have_attribute(
        "data-visit-id", str(first.pk)
    )
    wait_for_htmx(page)
    page.get_by_role("combobox", name="Status").select_option(label="Completed")
    expect(page).to_have_url(re.compile(r"status=30"))
    expect(page).to_have_url(re.compile(r"sort=start"))
    expect(page.locator("[data-testid=visit-table] tbody tr").first).to_have_attribute(
        "data-visit-id", str(first.pk)
    )

    wait_for_htmx(page)
    row = page.locator(f"tr[data-visit-id='{first.pk}']")
    row.get_by_role("button", name="Prepare PDF").click()
    link = row.get_by_role("link", name="Download")
    expect(link).to_be_visible()  # the rendering cell polled until the PDF was there
    with page.expect_download() as download:
        link.click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"%PDF")
    assert "Sore throat" in pdf_text(data)
    assert download.value.suggested_filename == f"visit-summary-{first.pk}-pat-jones-2026-05-04.pdf"
    assert SummaryDownload.objects.filter(visit=first, user=clinic_admin).count() == 1

    wait_for_htmx(page)
    page.get_by_placeholder("Name or code").fill("Okafor")  # typed, not applied: the export follows the list
    page.get_by_role("button", name=re.compile("Export the filtered visits")).click()
    zip_link = page.get_by_role("link", name="Download ZIP (2 PDFs)")
    expect(zip_link).to_be_visible()
    with page.expect_download() as download:
        zip_link.click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert len(archive.namelist()) == 2
    assert all(archive.read(name).startswith(b"%PDF") for name in archive.namelist())
    assert SummaryExport.objects.get().filters == {"patient": "Jones", "status": "30", "sort": "start"}
