"""Cached availability stays exact: every change between two identical calls shows in the second one."""

import datetime as dt
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduling import selectors, services
from tests.clinic.factories import ConsultationFactory, MemberFactory
from tests.conftest import client_for
from tests.scheduling.conftest import la, ts
from tests.visits.factories import IntakeFactory
from visits.models import VisitStatus

pytestmark = pytest.mark.usefixtures("clock")

TEN = la(2027, 3, 8, 10)  # Monday 10:00, three hours from now
QUARTER = 900
MONDAY = {"room_code": "main", "start": ts(la(2027, 3, 8)), "end": ts(la(2027, 3, 9))}


@pytest.fixture
def hours(provider, other_provider, room, clinic_admin):
    """Both providers work Monday 09:00-17:00, set up on the admin's page (the service), as in real use."""
    for who in (provider, other_provider):
        services.working_hours_add(
            account=room.account,
            actor=clinic_admin,
            provider_id=who.pk,
            room_id=room.pk,
            weekday=0,
            start_time=dt.time(9),
            end_time=dt.time(17),
        )


@pytest.fixture
def intake(account, room, member, consultation):
    return IntakeFactory(account=account, room=room, member=member, consultation=consultation, location="CA")


def slots(api, **params) -> dict[int, list[int]]:
    """The answer, and a second identical call proven to come from the cache (it reads no held time), so
    that the next change meets a cached answer."""
    response = api.get("availability", {**MONDAY, **params})
    assert response.status_code == 200, response.json()
    answer = {s["start"]: s["provider_ids"] for s in response.json()["data"]}
    with CaptureQueriesContext(connection) as queries:
        again = api.get("availability", {**MONDAY, **params}).json()["data"]
    assert not [q for q in queries if "visits_visitgroup" in q["sql"]], "not served from the cache"
    assert {s["start"]: s["provider_ids"] for s in again} == answer
    return answer


def book(api, intake=None, start=TEN, **extra):
    if intake is not None:
        extra["intake_id"] = str(intake.pk)
    response = api.post(
        "visits", {"room_code": "main", "type": 2, "start": ts(start), "end": ts(start) + QUARTER, **extra}
    )
    assert response.status_code == 201, response.json()
    return response.json()["data"]


def test_a_booking_between_two_calls_shows(member_api, hours, intake, provider, other_provider):
    assert slots(member_api)[ts(TEN)] == [provider.user_id, other_provider.user_id]
    book(member_api, intake, provider_id=provider.user_id)
    assert slots(member_api)[ts(TEN)] == [other_provider.user_id]


def test_cancelling_between_two_calls_frees_the_time(
    member_api, front_desk, hours, intake, provider, other_provider
):
    visit = book(member_api, intake, provider_id=provider.user_id)
    assert slots(member_api)[ts(TEN)] == [other_provider.user_id]
    services.appointment_cancel(account=intake.account, actor=front_desk, visit_id=visit["id"], reason="Ill")
    assert slots(member_api)[ts(TEN)] == [provider.user_id, other_provider.user_id]


def test_closing_an_appointment_through_the_visit_api_frees_the_time(
    member_api, hours, intake, provider, other_provider
):
    visit = book(member_api, intake, provider_id=provider.user_id)
    assert slots(member_api)[ts(TEN)] == [other_provider.user_id]
    closed = member_api.post("visits/close", {"id": visit["id"], "reason": "patient_cancel_appointment"})
    assert closed.status_code == 200
    assert slots(member_api)[ts(TEN)] == [provider.user_id, other_provider.user_id]


def test_rescheduling_between_two_calls_frees_the_old_time_and_takes_the_new(
    member_api, hours, intake, provider, other_provider
):
    visit = book(member_api, intake, provider_id=provider.user_id)
    noon = la(2027, 3, 8, 12)
    assert slots(member_api)[ts(noon)] == [provider.user_id, other_provider.user_id]
    moved = member_api.post(f"visits/{visit['id']}?version=2", {"start": ts(noon)})
    assert moved.status_code == 200, moved.json()
    now = slots(member_api)
    assert (now[ts(TEN)], now[ts(noon)]) == (
        [provider.user_id, other_provider.user_id],
        [other_provider.user_id],
    )
    given = member_api.post(f"visits/{visit['id']}?version=2", {"provider_id": other_provider.user_id})
    assert given.status_code == 200, given.json()
    assert slots(member_api)[ts(noon)] == [provider.user_id]


def test_hours_and_exceptions_changed_between_two_calls_show(
    member_api, clinic_admin, hours, room, provider, other_provider
):
    assert ts(la(2027, 3, 8, 17)) not in slots(member_api)
    services.working_hours_add(
        account=room.account,
        actor=clinic_admin,
        provider_id=provider.pk,
        room_id=room.pk,
        weekday=0,
        start_time=dt.time(17),
        end_time=dt.time(18),
    )
    assert slots(member_api)[ts(la(2027, 3, 8, 17))] == [provider.user_id]
    services.schedule_exception_add(
        account=room.account,
        actor=clinic_admin,
        provider_id=other_provider.pk,
        room_id=None,
        kind="off",
        start_date=dt.date(2027, 3, 8),
        end_date=None,
        start_time=dt.time(9),
        end_time=dt.time(12),
    )
    assert slots(member_api)[ts(TEN)] == [provider.user_id]
    off = other_provider.schedule_exceptions.get()
    services.schedule_entry_delete(
        account=room.account, actor=clinic_admin, kind="exception", entry_id=off.pk
    )
    assert slots(member_api)[ts(TEN)] == [provider.user_id, other_provider.user_id]


def test_a_provider_taking_a_booked_appointment_moves_its_held_time(
    member_api, hours, intake, provider, other_provider
):
    """The visit lifecycle's transitions bump too: here the appointment booked with one provider is started
    with the other, who accepts it; then it is completed."""
    appointment = book(member_api, intake, provider_id=provider.user_id)
    assert slots(member_api)[ts(TEN)] == [other_provider.user_id]
    walkin = member_api.post(
        "visits/add_walkin",
        {"intake_id": str(intake.pk), "room_code": "main", "appointment_id": appointment["id"],
         "provider_id": other_provider.user_id},
    )  # fmt: skip
    assert walkin.status_code == 201, walkin.json()
    other_api = client_for(other_provider.user)
    assert other_api.post("visits/accept", {"id": walkin.json()["data"]["id"]}).status_code == 200
    assert slots(member_api)[ts(TEN)] == [provider.user_id]  # the appointment is now the other provider's
    assert other_api.post("visits/complete", {"id": walkin.json()["data"]["id"]}).status_code == 200
    assert slots(member_api)[ts(TEN)] == [provider.user_id, other_provider.user_id]


def test_tbd_appointments_between_two_calls_count(front_desk_api, account, hours, provider, other_provider):
    """An appointment without a provider bumps no version: the room's TBD appointments are in the key."""
    assert slots(front_desk_api)[ts(TEN)] == [provider.user_id, other_provider.user_id]
    book(front_desk_api, member_id=MemberFactory(account=account).code)
    assert slots(front_desk_api)[ts(TEN)] == [
        provider.user_id,
        other_provider.user_id,
    ]  # one of them is still free
    book(front_desk_api, member_id=MemberFactory(account=account).code)
    assert ts(TEN) not in slots(front_desk_api)  # two TBD appointments hold both providers


def test_the_cached_answer_equals_a_fresh_reading_after_random_bookings_and_cancellations(
    account, room, front_desk, hours, provider, other_provider, member
):
    """Against free_slots (no cache) after each change, on several spans and slot lengths."""
    rng = random.Random(14)
    long_one = ConsultationFactory(room=room, duration=1800)
    now = dt.datetime.now(dt.UTC)
    spans = [(la(2027, 3, 8), la(2027, 3, 9)), (la(2027, 3, 8, 11, 20), la(2027, 3, 8, 15))]
    booked = []
    for step in range(12):
        if booked and rng.random() < 0.3:
            services.appointment_cancel(account=account, actor=front_desk, visit_id=booked.pop(), reason="x")
        else:
            free = selectors.free_slots(room=room, slot_length=QUARTER, start=spans[0][0], end=spans[0][1])
            slot = rng.choice(free)
            who = rng.choice([None, *slot.provider_ids])
            visit = services.appointment_book(
                account=account, actor=front_desk, room_code="main", member_code=member.code,
                start=dt.datetime.fromtimestamp(slot.start, dt.UTC),
                end=dt.datetime.fromtimestamp(slot.end, dt.UTC), provider_id=who,
            )  # fmt: skip
            assert visit.status == VisitStatus.WAITING
            booked.append(visit.pk)
        for start, end in spans:
            for length in (QUARTER, long_one.duration):
                for who in (None, provider.pk):
                    ask = {
                        "room": room,
                        "slot_length": length,
                        "start": start,
                        "end": end,
                        "provider_id": who,
                    }
                    for _ in range(2):  # computed, then cached
                        assert selectors.available_slots(**ask, now=now) == selectors.free_slots(
                            **ask, now=now
                        ), step


def test_a_provider_moving_to_another_zone_between_two_calls_shows(
    member_api, hours, provider, other_provider
):
    """Hours are wall-clock in the provider's zone: 09:00 in New York is 06:00 in Los Angeles."""
    assert ts(la(2027, 3, 8, 14, 45)) in slots(member_api, provider_id=provider.user_id)
    provider.time_zone = "America/New_York"
    provider.save()
    moved = slots(member_api, provider_id=provider.user_id)
    assert ts(la(2027, 3, 8, 13, 45)) in moved and ts(la(2027, 3, 8, 14)) not in moved
