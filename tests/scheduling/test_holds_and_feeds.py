"""Slots held for someone (a waitlist offer) and providers' calendar feeds."""

import datetime as dt

import icalendar
import pytest
from django.test import Client
from django.urls import reverse

from clinic.errors import Conflict
from scheduling import selectors, services
from scheduling.models import CalendarFeed, SlotHold
from scheduling.signals import slot_freed
from tests.scheduling.conftest import la, ts
from tests.scheduling.factories import work
from tests.visits.factories import VisitFactory
from visits.models import VisitStatus, VisitType

pytestmark = pytest.mark.usefixtures("clock")

TEN = la(2027, 3, 8, 10)  # Monday 10:00, three hours from now
QUARTER = dt.timedelta(minutes=15)


@pytest.fixture
def hours(provider, other_provider, room):
    work(provider, room)
    work(other_provider, room)


def providers_at(room, start):
    slots = selectors.available_slots(room=room, slot_length=900, start=start, end=start + QUARTER)
    return slots[0].provider_ids if slots else []


def hold(account, room, provider, start=TEN):
    return services.slot_hold_create(
        account=account, room=room, provider=provider, start=start, end=start + QUARTER,
        expires=start - dt.timedelta(hours=2),
    )  # fmt: skip


def test_a_held_slot_is_busy_for_everyone_but_its_holder_until_released(
    account, room, hours, provider, other_provider, front_desk, member
):
    assert providers_at(room, TEN) == [provider.pk, other_provider.pk]  # cached from here on
    held = hold(account, room, provider)
    # The cached answer is not served: the hold bumped the provider's schedule version.
    assert providers_at(room, TEN) == [other_provider.pk]
    with pytest.raises(Conflict):
        services.appointment_book(
            account=account, actor=front_desk, room_code="main", start=TEN, end=TEN + QUARTER,
            provider_id=provider.pk, member_code=member.code,
        )  # fmt: skip
    visit = services.appointment_book(
        account=account, actor=front_desk, room_code="main", start=TEN, end=TEN + QUARTER,
        provider_id=provider.pk, member_code=member.code, hold=held,
    )  # fmt: skip
    assert visit.provider_id == provider.pk
    held.refresh_from_db()
    assert held.released is not None
    with pytest.raises(Conflict, match="no longer held"):
        services.appointment_book(
            account=account, actor=front_desk, room_code="main", start=TEN, end=TEN + QUARTER,
            provider_id=provider.pk, member_code=member.code, hold=held,
        )  # fmt: skip


def test_releasing_a_hold_offers_the_slot_again_and_a_taken_slot_cannot_be_held(
    account, room, hours, provider, other_provider
):
    held = hold(account, room, provider)
    assert providers_at(room, TEN) == [other_provider.pk]
    assert services.slot_hold_release(hold_id=held.pk) is True
    assert services.slot_hold_release(hold_id=held.pk) is False
    assert providers_at(room, TEN) == [provider.pk, other_provider.pk]
    VisitFactory(account=account, room=room, provider=other_provider, type=VisitType.SCHEDULED,
                 start=TEN, end=TEN + QUARTER, busy_start=TEN, busy_end=TEN + QUARTER)  # fmt: skip
    with pytest.raises(Conflict):
        hold(account, room, other_provider)
    assert SlotHold.objects.active().count() == 0


def test_cancel_and_reschedule_announce_the_freed_slot(account, room, hours, provider, front_desk, member):
    heard = []

    def listener(sender, **kwargs):
        heard.append((kwargs["provider_id"], kwargs["start"], kwargs["cause"]))

    slot_freed.connect(listener)
    try:
        visit = services.appointment_book(
            account=account, actor=front_desk, room_code="main", start=TEN, end=TEN + QUARTER,
            provider_id=provider.pk, member_code=member.code,
        )  # fmt: skip
        services.appointment_update(account=account, actor=front_desk, visit_id=visit.pk, start=TEN + QUARTER)
        services.appointment_cancel(account=account, actor=front_desk, visit_id=visit.pk, reason="Flu")
    finally:
        slot_freed.disconnect(listener)
    assert heard == [(provider.pk, TEN, "moved"), (provider.pk, TEN + QUARTER, "cancelled")]


# --- calendar feeds ----------------------------------------------------------------------------------------


def test_a_provider_feed_lists_visits_without_patient_data_and_dies_when_revoked(
    account, room, provider, member, other_provider
):
    member.first_name, member.last_name = "Zebediah", "<script>Quux"
    member.save()
    mine = VisitFactory(account=account, room=room, provider=provider, member=member,
                        type=VisitType.SCHEDULED, start=TEN, end=TEN + QUARTER, busy_start=TEN,
                        busy_end=TEN + QUARTER)  # fmt: skip
    VisitFactory(account=account, room=room, provider=provider, member=member, type=VisitType.SCHEDULED,
                 status=VisitStatus.CANCELLED, start=TEN + QUARTER, end=TEN + 2 * QUARTER,
                 busy_start=TEN + QUARTER, busy_end=TEN + 2 * QUARTER)  # fmt: skip
    VisitFactory(account=account, room=room, provider=other_provider, member=member, type=VisitType.SCHEDULED,
                 start=TEN, end=TEN + QUARTER, busy_start=TEN, busy_end=TEN + QUARTER)  # fmt: skip
    page = Client()
    page.force_login(provider.user)
    response = page.post(reverse("scheduling:feeds"))
    assert response.status_code == 200
    url = response.context["url"]
    assert url.startswith("http://testserver/scheduling/feeds/") and url.endswith(".ics")
    stored = CalendarFeed.objects.get()
    assert url.split("/")[-1].removesuffix(".ics") not in stored.secret_hash  # only the hash is kept

    body = Client().get(url)
    assert body.status_code == 200 and body["Content-Type"].startswith("text/calendar")
    assert b"Zebediah" not in body.content and b"Quux" not in body.content and b"P-1001" not in body.content
    events = icalendar.Calendar.from_ical(body.content).walk("VEVENT")
    assert [(str(e["summary"]), str(e["location"])) for e in events] == [("Visit, 15 min", room.name)]
    (event,) = events
    assert event.decoded("dtstart") == TEN and event.decoded("dtend") == TEN + QUARTER
    assert str(event["url"]) == f"http://testserver/dashboard/visits/{mine.pk}/"

    # A new URL replaces the old one; revoking kills it.
    newer = page.post(reverse("scheduling:feeds")).context["url"]
    assert Client().get(url).status_code == 404
    assert Client().get(newer).status_code == 200
    page.post(reverse("scheduling:feeds"), {"action": "revoke"})
    assert Client().get(newer).status_code == 404
    assert "You have no feed" in page.get(reverse("scheduling:feeds")).content.decode()


def test_only_providers_have_a_feed(front_desk):
    page = Client()
    page.force_login(front_desk)
    assert page.get(reverse("scheduling:feeds")).status_code == 403
    assert Client().get("/scheduling/feeds/not-a-secret.ics").status_code == 404


def test_a_held_slot_counts_in_the_booking_page_too(account, room, hours, provider, other_provider):
    hold(account, room, provider)
    hold(account, room, other_provider)
    assert providers_at(room, TEN) == []
    assert ts(TEN) not in [s.start for s in selectors.free_slots(room=room, slot_length=900, start=TEN,
                                                                  end=TEN + QUARTER)]  # fmt: skip
