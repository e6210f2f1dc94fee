"""In Chromium: every kind of page works under the Content-Security-Policy (no violation reported), and
the idle logout warns, can be put off, and is not put off by the dashboard's own polling."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser import wait_for_htmx
from tests.clinic.factories import clinic_admin_user
from tests.visits.factories import VisitFactory
from visits.models import VisitStatus, VisitType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Redoc's own template asks for Google's fonts and for its logo from its CDN: the policy blocks both (no
# third-party requests from our pages) and the docs work without them.
THIRD_PARTY = ("https://fonts.googleapis.com/", "https://cdn.redoc.ly/")


def _watch_policy(page) -> list[str]:
    violations = []

    def seen(message):
        text = message.text
        if ("Content Security Policy" in text or "Refused to" in text) and not any(
            host in text for host in THIRD_PARTY
        ):
            violations.append(text)

    page.on("console", seen)
    page.on("pageerror", lambda error: violations.append(str(error)))
    return violations


def test_pages_run_under_the_policy(
    staff_page, chromium, live_server, provider, front_desk, account, room, member
):
    VisitFactory(account=account, room=room, member=member, type=VisitType.WALKIN, status=VisitStatus.WAITING)
    pages = [
        (staff_page(provider.user), ["/dashboard/"]),
        (staff_page(front_desk), ["/scheduling/", "/scheduling/day/"]),
        (
            staff_page(clinic_admin_user(account)),
            ["/manage/visits/", "/manage/lockouts/", "/scheduling/hours/"],
        ),
    ]
    anonymous = chromium.new_context(base_url=live_server.url).new_page()
    pages.append((anonymous, ["/login/", "/admin/login/", "/api/v3/docs/", "/api/v3/redoc/"]))
    for page, paths in pages:
        violations = _watch_policy(page)
        for path in paths:
            page.goto(path)
            if path.startswith("/api/"):
                page.wait_for_load_state("networkidle")  # the docs fetch the schema, then render
            if not path.startswith(("/api/", "/admin/")):
                wait_for_htmx(page)
                assert page.evaluate("typeof window.htmx") == "object", path
                assert page.evaluate("document.querySelectorAll('style').length") == 0, path
        assert violations == [], (paths, violations)
    anonymous.context.close()


def test_the_idle_warning_can_be_put_off(staff_page, front_desk, settings):
    settings.SESSION_IDLE_TIMEOUT, settings.SESSION_IDLE_WARNING = 6, 4
    page = staff_page(front_desk)
    page.goto("/scheduling/day/")
    warning = page.locator("#session-warning")
    expect(warning).to_be_hidden()
    expect(warning).to_be_visible(timeout=5000)
    expect(warning).to_contain_text("You will be logged out in 0:0")
    page.get_by_role("button", name="Stay logged in").click()
    expect(warning).to_be_hidden()
    # Nothing more done: the session ends, and the page goes to the login, to come back here.
    page.wait_for_url(re.compile(r"/login/\?next=(/|%2F)scheduling(/|%2F)day"), timeout=10_000)
    expect(page.locator("main")).to_contain_text("logged out after 6 seconds without activity")


def test_the_dashboards_polling_does_not_keep_a_session_alive(staff_page, provider, settings):
    settings.QUEUE_REFRESH_SECONDS = 1
    settings.SESSION_IDLE_TIMEOUT, settings.SESSION_IDLE_WARNING = 5, 2
    page = staff_page(provider.user)
    expect(page.locator("#queues")).to_be_visible()
    page.wait_for_url(re.compile(r"/login/\?next=(/|%2F)dashboard"), timeout=12_000)
