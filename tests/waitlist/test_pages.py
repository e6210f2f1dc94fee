"""The front desk's waitlist page and the patient's public offer page."""

import pytest
from django.core import mail
from django.test import Client

from clinic.models import AuditEvent
from tests.waitlist.conftest import QUARTER, TEN, patient, wait
from tests.waitlist.test_offers import link_of
from visits.models import Visit
from waitlist import services
from waitlist.models import Offer, WaitlistEntry

pytestmark = pytest.mark.usefixtures("clock", "hours")


@pytest.fixture
def desk(front_desk):
    client = Client()
    client.force_login(front_desk)
    return client


@pytest.fixture
def offered(account, room, consultation, provider, front_desk, django_capture_on_commit_callbacks):
    """Ada and Ben were offered TEN; their links, by first name."""
    people = [patient(account, n, "O'Waiting <b>") for n in ("Ada", "Ben")]
    for person in people:
        wait(account, room, consultation, front_desk, person)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.offers_make(
            account_id=account.pk, room_id=room.pk, provider_id=provider.pk, consultation_id=consultation.pk,
            start=TEN, end=TEN + QUARTER,
        )  # fmt: skip
    return {m.to[0].split("@")[0]: link_of(m) for m in mail.outbox}


def test_the_front_desk_adds_a_patient_and_sees_them_waiting(desk, account, room, consultation, front_desk):
    person = patient(account, "Dora", "Long-Name-" + "x" * 60)
    response = desk.post(
        "/waitlist/",
        {"room": room.pk, "patient": person.code, "consultation": consultation.pk, "earliest": "2027-03-08",
         "latest": "2027-03-12", "weekdays": ["1", "4"], "times_of_day": ["1"], "note": "Prefers <mornings>"},
    )  # fmt: skip
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get()
    assert (entry.member, entry.weekdays, entry.times_of_day) == (person, 1 | 4, 1)
    page = desk.get(response.url).content.decode()
    assert "Dora Long-Name-" in page and "Monday, Wednesday" in page and "Prefers &lt;mornings&gt;" in page
    assert AuditEvent.objects.filter(member=person, action="list", user=front_desk).exists()


def test_an_unknown_patient_or_backwards_dates_are_said_beside_the_field(desk, room, consultation):
    response = desk.post(
        "/waitlist/",
        {"room": room.pk, "patient": "nobody-here", "consultation": consultation.pk, "earliest": "2027-03-12",
         "latest": "2027-03-08"},
    )  # fmt: skip
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors == {"latest": ["The last day is before the first."]}
    response = desk.post(
        "/waitlist/",
        {"room": room.pk, "patient": "nobody-here", "consultation": consultation.pk, "earliest": "2027-03-08",
         "latest": "2027-03-12"},
    )  # fmt: skip
    assert response.context["form"].errors == {"patient": ["No patient matches."]}
    assert WaitlistEntry.objects.count() == 0


def test_the_live_part_shows_the_offers_and_the_front_desk_stops_them(desk, room, offered):
    live = desk.get(f"/waitlist/offers/?room={room.pk}", HTTP_HX_REQUEST="true").content.decode()
    assert live.strip().startswith('<div id="waitlist-live"') and "<h1" not in live
    assert live.count("Waiting for an answer") == 2 and "Ada O&#x27;Waiting &lt;b&gt;" in live
    assert live.count("Stop offering this slot") == 1  # one button per slot, not per patient
    hold_id = Offer.objects.first().hold_id
    response = desk.post(f"/waitlist/holds/{hold_id}/stop/", {"room": room.pk})
    assert response.status_code == 302
    live = desk.get(f"/waitlist/offers/?room={room.pk}", HTTP_HX_REQUEST="true").content.decode()
    assert live.count("Stopped by the front desk") == 2 and "Stop offering" not in live


def test_only_the_front_desk_and_admins_see_the_waitlist(provider):
    client = Client()
    client.force_login(provider.user)
    assert client.get("/waitlist/").status_code == 403


def test_the_patient_sees_the_offer_without_using_it_then_accepts(account, offered, provider):
    page = Client()
    link = offered["ada"]
    for _ in range(2):  # a mail scanner opening the link first uses nothing
        shown = page.get(link)
        assert shown.status_code == 200
    text = shown.content.decode()
    assert "Monday 8 March 2027, 10:00" in text and "America/Los_Angeles" in text
    assert "Dr. Lee" in text and "Ada" not in text and "Waiting" not in text
    accepted = page.post(link, {"answer": "accept"}).content.decode()
    assert "You are booked" in accepted
    visit = Visit.objects.get(member__first_name="Ada")
    event = AuditEvent.objects.get(object_id=str(visit.pk), action="create", via="link")
    assert event.member_id == visit.member_id and event.user_id is None
    assert "another patient took this time first" in page.get(offered["ben"]).content.decode()
    again = page.get(link)
    assert again.status_code == 410 and "already used" in again.content.decode()


def test_the_patient_declines_and_an_unknown_link_is_404(account, offered):
    page = Client()
    assert "Choose Accept" in page.post(offered["ben"], {"answer": "maybe"}).content.decode()
    assert Offer.objects.get(entry__member__first_name="Ben").status == Offer.Status.PENDING
    declined = page.post(offered["ben"], {"answer": "decline"}).content.decode()
    assert "the time goes to the next patient" in declined
    assert Offer.objects.get(entry__member__first_name="Ben").status == Offer.Status.DECLINED
    assert AuditEvent.objects.filter(via="link", action="update", member__first_name="Ben").exists()
    assert page.get("/offer/not-a-token/").status_code == 404


def test_a_patient_no_message_can_reach_is_flagged_and_skipped(
    desk, account, room, consultation, provider, front_desk, django_capture_on_commit_callbacks
):
    from tests.clinic.factories import MemberFactory

    silent = MemberFactory(account=account, first_name="Quiet", last_name="One", email="quiet@example.org")
    wait(account, room, consultation, front_desk, silent)  # no consent recorded
    heard = patient(account, "Loud", "Two")
    wait(account, room, consultation, front_desk, heard)
    page = desk.get(f"/waitlist/?room={room.pk}").content.decode()
    assert page.count("No email or text message can reach them") == 1
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.offers_make(
            account_id=account.pk, room_id=room.pk, provider_id=provider.pk, consultation_id=None,
            start=TEN, end=TEN + QUARTER,
        )  # fmt: skip
    assert [m.to for m in mail.outbox] == [["loud@example.org"]]
