"""Dashboards in Chromium on uvicorn web nodes sharing the test database and Redis: a change made on one
node reaches a page on the other within a second (a patient hanging up on a provider too); without its
stream a page polls; a page whose node restarted gets what it missed."""

import re

import pytest
from playwright.sync_api import expect

from clinic.services import api_token_issue
from tests.browser import wait_for_htmx
from tests.push.conftest import WebNode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STREAM = re.compile(r"/events/")
# Polling every minute: whatever arrives sooner came over the stream.
NO_POLLING = {"QUEUE_REFRESH_SECONDS": "60"}


def add_walkin(node: WebNode, member, room) -> int:
    """The patient's app joins the walk-in queue through the API on `node`."""
    token = api_token_issue(user=member.user)["token"]
    account = member.account.code
    intake = node.api(
        "intakes",
        account_code=account,
        token=token,
        data={"room_code": room.code, "reason_for_visit": "Sprained ankle", "location": "CA"},
    )
    visit = node.api(
        "visits/add_walkin",
        account_code=account,
        token=token,
        data={"intake_id": intake["id"], "room_code": room.code},
    )
    return int(visit["id"])


def stream_open(page) -> None:
    expect(page.locator("#queues-refresh")).to_have_attribute("data-stream", "open")


def test_a_change_on_one_node_reaches_pages_on_both_within_a_second(
    web_nodes, node_page, provider, other_provider, member, room
):
    node_a, node_b = web_nodes(**NO_POLLING), web_nodes(**NO_POLLING)
    lee_on_b = node_page(node_b, provider.user)
    patel_on_a = node_page(node_a, other_provider.user)
    stream_open(lee_on_b)
    stream_open(patel_on_a)

    visit_id = add_walkin(node_a, member, room)

    lee_row, patel_row = lee_on_b.locator(f"#visit-{visit_id}"), patel_on_a.locator(f"#visit-{visit_id}")
    expect(lee_row).to_contain_text("Sprained ankle", timeout=1000)
    expect(patel_row).to_be_visible(timeout=1000)
    wait_for_htmx(lee_on_b)
    lee_row.get_by_role("button", name="Accept").click()
    expect(patel_row).to_have_count(0, timeout=1000)
    expect(patel_on_a.get_by_test_id("walkin-count")).to_have_text("0")
    expect(lee_on_b.locator("#in-progress")).to_contain_text("Sprained ankle")

    # The patient hangs up (their app, on the other node): Dr. Lee's card says so at once, not at the
    # section's slow poll (five queue periods: five minutes here).
    token = api_token_issue(user=member.user)["token"]
    node_a.api(
        "visits/close",
        account_code=member.account.code,
        token=token,
        data={"id": visit_id, "reason": "patient_end_call"},
    )
    expect(lee_on_b.locator(f"#in-progress-{visit_id}")).to_contain_text(
        "Patient left: finish your notes", timeout=1000
    )


def test_a_page_whose_stream_is_blocked_polls_instead(web_nodes, node_page, provider, member, room):
    node = web_nodes(QUEUE_REFRESH_SECONDS="1")
    page = node_page(node, provider.user, blocked=STREAM)
    expect(page.locator("#queues-refresh")).to_have_attribute("data-stream", "closed")

    visit_id = add_walkin(node, member, room)

    expect(page.locator(f"#visit-{visit_id}")).to_be_visible(timeout=3000)  # one period and the request
    expect(page.locator("#connection-lost")).to_be_hidden()
    expect(page.locator("#queues-refresh")).to_have_attribute("data-stream", "closed")


def test_a_page_whose_node_restarts_shows_it_and_gets_what_it_missed(
    web_nodes, node_page, provider, member, room
):
    node, other = web_nodes(**NO_POLLING), web_nodes(**NO_POLLING)
    page = node_page(node, provider.user)
    stream_open(page)

    node.stop()
    # The stream drops; the page's poll finds no server: the queues are marked out of date.
    expect(page.locator("#connection-lost")).to_be_visible(timeout=5000)
    expect(page.locator("#queues")).to_have_class(re.compile("queues-stale"))
    visit_id = add_walkin(other, member, room)  # while the page cannot hear it

    node.start()
    # The browser reconnects with its Last-Event-ID and is sent what it missed.
    stream_open(page)
    expect(page.locator(f"#visit-{visit_id}")).to_be_visible(timeout=3000)
    expect(page.locator("#connection-lost")).to_be_hidden()


def test_the_clinic_board_follows_the_queue_and_the_visits_in_progress(
    web_nodes, node_page, front_desk, provider, member, room
):
    node = web_nodes(BOARD_REFRESH_SECONDS="60")
    board = node_page(node, front_desk, path="/board/")
    expect(board.locator("#board-refresh")).to_have_attribute("data-stream", "open")

    visit_id = add_walkin(node, member, room)
    expect(board.locator("#board")).to_contain_text("Pat Jones", timeout=1000)
    token = api_token_issue(user=provider.user)["token"]
    node.api("visits/accept", account_code=room.account.code, token=token, data={"id": visit_id})
    expect(board.locator("#board")).to_contain_text("In progress", timeout=1000)
    node.api("visits/complete", account_code=room.account.code, token=token, data={"id": visit_id})
    expect(board.locator("#board")).not_to_contain_text("Pat Jones", timeout=1000)
