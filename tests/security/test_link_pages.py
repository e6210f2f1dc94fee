"""The patients' public link pages (confirm, cancel, reschedule, a waitlist offer): what caches and other
sites may keep of them, and how far guessing links gets."""

import pytest
from django.core import mail
from django.test import Client

from tests.messaging.conftest import messaging_settings  # noqa: F401 (autouse: eager delivery)
from tests.reminders.conftest import book, hours, links_in, patient  # noqa: F401 (fixtures)
from tests.reminders.test_pages import TUESDAY_TEN
from tests.scheduling.conftest import clock  # noqa: F401 (fixture)
from visits.models import Visit, VisitStatus

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def links(book):  # noqa: F811
    book(TUESDAY_TEN)
    return links_in(mail.outbox[0].body)


def test_link_pages_are_kept_by_no_cache_and_send_no_referrer(links):
    for purpose in ("confirm", "cancel", "reschedule"):
        page = Client().get(links[purpose])
        assert page.status_code == 200
        assert "no-store" in page["Cache-Control"]
        assert page["Referrer-Policy"] == "no-referrer"
    unknown = Client().get("/a/not-a-token/confirm/")
    assert unknown.status_code == 404 and "no-store" in unknown["Cache-Control"]


def test_guessing_links_is_refused_past_the_limit_even_with_a_right_one(links, settings):
    settings.PUBLIC_PAGE_MISS_RATE = "3/min"
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(3):
        assert guesser.get(f"/a/guess{n}/cancel/").status_code == 404
    refused = guesser.get(links["cancel"])
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert guesser.post(links["cancel"]).status_code == 429
    assert Visit.objects.get().status == VisitStatus.WAITING
    assert guesser.get("/offer/guess/").status_code == 429
    # Another address, and the patient's right links, are not held back.
    patient_page = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(5):
        assert patient_page.get(links["confirm"]).status_code == 200
