"""A provider's notes in Chromium, at 1440 and 390 px: typed, saved as a draft, back after a reload and
after a lost connection, kept when the patient hangs up, finished on the ended visit and in its timeline."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser import wait_for_htmx
from visits.models import Visit, VisitStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<script>alert(1)</script>"
LONG_LINE = "Rash" + "x" * 4_500  # one word of 4,504 characters: it must wrap, not widen the page
URL = "https://example.org/" + "a" * 400


@pytest.fixture(autouse=True)
def fast_refresh(settings):
    settings.QUEUE_REFRESH_SECONDS = 1  # "In progress" rechecks every 5 s


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_notes_survive_a_reload_a_lost_connection_and_the_patient_leaving(
    staff_page, provider, member, member_api, room
):
    intake = member_api.post(
        "intakes",
        {"room_code": room.code, "reason_for_visit": f"{HOSTILE} {'y' * 4_000} {URL}", "location": "CA"},
    )
    assert intake.status_code == 201, intake.json()
    walkin = member_api.post(
        "visits/add_walkin", {"intake_id": intake.json()["data"]["id"], "room_code": room.code}
    )
    visit_id = int(walkin.json()["data"]["id"])

    page = staff_page(provider.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    row = page.locator(f"#visit-{visit_id}")
    wait_for_htmx(page)
    row.get_by_role("button", name="Accept").click()
    card = page.locator(f"#in-progress-{visit_id}")
    expect(card).to_contain_text("Pat Jones")

    # Typed notes are saved as a draft about a second after the typing stops.
    notes = card.locator("textarea[name=notes]")
    typed = f"Seen for a rash.\n{HOSTILE}\n\n{LONG_LINE}"
    notes.fill(typed)
    status = card.locator(".notes-status")
    expect(status).to_have_text(re.compile(r"^Draft saved \d\d:\d\d$"))
    assert no_sideways_scroll(page)

    page.reload()
    card = page.locator(f"#in-progress-{visit_id}")
    expect(card.locator("textarea[name=notes]")).to_have_value(typed)
    expect(card.locator(".notes-status")).to_have_text(re.compile(r"^Draft saved \d\d:\d\d$"))

    # Offline: the page says the draft is not saved and keeps trying; back online, it is saved.
    wait_for_htmx(page)
    page.context.set_offline(True)
    card.locator("textarea[name=notes]").press("Control+End")
    card.locator("textarea[name=notes]").press_sequentially(" Itchy.")
    expect(card.locator(".notes-status")).to_have_text("Draft not saved, retrying", timeout=5000)
    page.context.set_offline(False)
    expect(card.locator(".notes-status")).to_have_text(re.compile(r"^Draft saved"), timeout=10_000)
    typed += " Itchy."

    # Typed while the drafts cannot reach the server, then reloaded: this tab's copy is put back (it is
    # newer than the server's draft) and saved once the server answers again.
    page.route("**/draft/", lambda route: route.abort())
    card.locator("textarea[name=notes]").press("Control+End")
    card.locator("textarea[name=notes]").press_sequentially(" Warm.")
    expect(card.locator(".notes-status")).to_have_text("Draft not saved, retrying")
    page.reload()
    card = page.locator(f"#in-progress-{visit_id}")
    typed += " Warm."
    expect(card.locator("textarea[name=notes]")).to_have_value(typed)
    assert " Warm." not in Visit.objects.get(pk=visit_id).note_drafts.get().text
    page.unroute("**/draft/")
    expect(card.locator(".notes-status")).to_have_text(re.compile(r"^Draft saved"), timeout=10_000)
    assert Visit.objects.get(pk=visit_id).note_drafts.get().text == typed
    wait_for_htmx(page)

    # The Bold button inserts the tag the notes keep.
    card.get_by_role("button", name="Bold").click()
    page.keyboard.type("cream")
    typed += "<b>cream</b>"
    # List, with nothing selected, starts a list with the cursor in its first item.
    page.keyboard.press("Control+End")
    card.get_by_role("button", name="List").click()
    page.keyboard.type("rest")
    typed += "<ul>\n<li>rest</li>\n</ul>"
    expect(card.locator(".notes-status")).to_have_text(re.compile(r"^Draft saved"))

    # The patient hangs up: the card stays, now asking for the notes, with them as typed.
    assert member_api.post("visits/close", {"id": visit_id, "reason": "patient_end_call"}).status_code == 200
    page.set_viewport_size({"width": 390, "height": 844})
    expect(card).to_contain_text("Patient left: finish your notes", timeout=10_000)
    expect(card).to_contain_text("Patient ended the call")
    expect(card.locator("textarea[name=notes]")).to_have_value(typed)
    assert no_sideways_scroll(page)

    wait_for_htmx(page)
    card.get_by_role("button", name="Save notes").click()
    expect(card).to_have_count(0)

    visit = Visit.objects.get(pk=visit_id)
    assert visit.status == VisitStatus.CANCELLED
    assert visit.notes.startswith("<p>Seen for a rash.<br></p><p>Rashxxx")
    assert (
        visit.notes.endswith(" Itchy. Warm.<b>cream</b></p><ul>\n<li>rest</li>\n</ul>")
        and "script" not in visit.notes
    )

    page.goto(f"/dashboard/visits/{visit_id}/")
    expect(page.locator(".visit-notes")).to_contain_text("Seen for a rash.")
    expect(page.locator(".visit-notes b")).to_have_text("cream")
    expect(page.locator(".visit-notes li")).to_have_text("rest")
    expect(page.locator(".events")).to_contain_text("Notes added")
    expect(page.locator(".events li").last).to_contain_text("by Grace Lee")
    assert no_sideways_scroll(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    assert no_sideways_scroll(page)
    assert dialogs == []
