"""The patients' public link pages (confirm, cancel, reschedule, a waitlist offer): what caches and other
sites may keep of them, and how far guessing links gets."""

import logging

import pytest
from django.core import mail
from django.test import Client

from reminders import views
from scheduling import services as scheduling
from tests.messaging.conftest import messaging_settings  # noqa: F401 (autouse: eager delivery)
from tests.reminders.conftest import book, hours, links_in, patient  # noqa: F401 (fixtures)
from tests.reminders.test_pages import TUESDAY_TEN
from tests.scheduling.conftest import clock, la  # noqa: F401 (fixture)
from visits.models import Visit, VisitStatus

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def links(book):  # noqa: F811
    book(TUESDAY_TEN)
    return links_in(mail.outbox[0].body)


def test_link_pages_are_kept_by_no_cache_and_their_url_goes_to_no_other_site(links):
    for purpose in ("confirm", "cancel", "reschedule"):
        page = Client().get(links[purpose])
        assert page.status_code == 200
        assert "no-store" in page["Cache-Control"]
        assert page["Referrer-Policy"] == "same-origin"
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


def test_a_link_acts_only_for_its_purpose_and_only_with_the_pages_csrf_token(links):
    cancel_token = links["cancel"].split("/")[2]
    assert Client().post(f"/a/{cancel_token}/confirm/").status_code == 404
    assert Client().post(f"/offer/{cancel_token}/", {"answer": "accept"}).status_code == 404
    forged = Client(enforce_csrf_checks=True).post(links["cancel"])  # another site's form
    assert forged.status_code == 403
    assert Visit.objects.get().status == VisitStatus.WAITING
    assert Client().post(links["cancel"]).status_code == 200
    assert Visit.objects.get().status == VisitStatus.CANCELLED


def test_a_live_link_never_reaches_the_logs(links, caplog):
    token = links["reschedule"].split("/")[2]
    with caplog.at_level(logging.INFO):
        refused = Client().post(links["reschedule"], {"start": "not-a-time"})  # 400: Django logs the path
        assert refused.status_code == 400
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "203.0.113.9:5000", "GET", links["reschedule"], "1.1", 200
        )
    assert caplog.records and token not in caplog.text
    assert "/a/[secret]/reschedule/" in caplog.text


def test_an_appointment_moved_while_the_patient_clicks_is_not_confirmed_at_its_new_time(
    links, account, front_desk, monkeypatch
):
    real_redeem = views.link_redeem

    def redeem_as_the_desk_moves_it(**kwargs):
        scheduling.appointment_update(
            account=account, actor=front_desk, visit_id=Visit.objects.get().pk, start=la(2027, 3, 9, 14)
        )
        return real_redeem(**kwargs)

    monkeypatch.setattr(views, "link_redeem", redeem_as_the_desk_moves_it)
    answer = Client().post(links["confirm"])
    assert answer.status_code == 409 and "has moved" in answer.content.decode()
    visit = Visit.objects.get()
    assert visit.confirmed_at is None and visit.start == TUESDAY_TEN  # the move went back with the refusal
