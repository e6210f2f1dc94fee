import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from clinic.models import Room
from scheduling import services
from tests.clinic.factories import ConsultationFactory, MemberFactory
from tests.conftest import client_for
from tests.scheduling.conftest import la, ts
from tests.scheduling.factories import work
from tests.visits.factories import IntakeFactory, VisitFactory
from visits.models import Visit, VisitEvent, VisitGroup, VisitStatus, VisitType

pytestmark = pytest.mark.usefixtures("clock")

TEN = la(2027, 3, 8, 10)  # Monday 10:00, three hours from now
QUARTER = 900


@pytest.fixture
def hours(provider, other_provider, room):
    work(provider, room)
    work(other_provider, room)


@pytest.fixture
def intake(account, room, member, consultation):
    return IntakeFactory(account=account, room=room, member=member, consultation=consultation, location="CA")


def book(api, intake, start=TEN, length=QUARTER, **extra):
    return api.post(
        "visits",
        {
            "room_code": "main",
            "type": 2,
            "intake_id": str(intake.pk),
            "start": ts(start),
            "end": ts(start) + length,
            **extra,
        },
    )


def free_at(api, start, provider_id=None) -> list[int]:
    params = {"room_code": "main", "start": ts(start), "end": ts(start) + QUARTER}
    if provider_id:
        params["provider_id"] = provider_id
    data = api.get("availability", params).json()["data"]
    return data[0]["provider_ids"] if data else []


def test_a_patient_books_a_free_slot_and_it_is_no_longer_offered(
    member_api, hours, intake, provider, other_provider
):
    response = book(member_api, intake, provider_id=provider.user_id)
    assert response.status_code == 201, response.json()
    visit = response.json()["data"]
    assert (visit["type"], visit["status"], visit["provider"]["id"]) == (2, 10, provider.user_id)
    assert visit["start"] == ts(TEN) and visit["intake"]["consultation"]["duration"] == QUARTER
    assert "visit_group_id" not in visit
    assert free_at(member_api, TEN) == [other_provider.user_id]
    listed = member_api.get("visits", {"type": 2}).json()
    assert [v["id"] for v in listed["data"]] == [visit["id"]]


def test_a_time_that_is_not_a_slot_is_409_in_the_envelope(member_api, hours, intake, provider):
    for start in (la(2027, 3, 8, 10, 5), la(2027, 3, 8, 18), la(2027, 3, 7, 10), la(2027, 3, 8, 7)):
        response = book(member_api, intake, start=start, provider_id=provider.user_id)
        assert response.status_code == 409, start
        assert response.json()["code"] == 409 and response.json()["errors"]["start"]
    wrong_length = book(member_api, intake, length=1800, provider_id=provider.user_id)
    assert wrong_length.status_code == 409 and "15 minutes" in wrong_length.json()["message"]
    assert not Visit.objects.filter(type=VisitType.SCHEDULED).exists()


def test_the_second_booking_of_a_slot_is_409(
    member_api, front_desk_api, hours, intake, provider, account, room
):
    assert book(member_api, intake, provider_id=provider.user_id).status_code == 201
    someone = MemberFactory(account=account, code="P-2002")
    again = front_desk_api.post(
        "visits",
        {
            "room_code": "main",
            "member_id": someone.code,
            "provider_id": provider.user_id,
            "start": ts(TEN),
            "end": ts(TEN) + QUARTER,
        },
    )
    assert again.status_code == 409
    assert again.json()["message"] == "That time is not an available slot."


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the exclusion constraint exists on PostgreSQL only"
)


@postgres_only
def test_the_exclusion_constraint_refuses_a_double_booking_even_past_the_check(
    member_api, hours, intake, provider, monkeypatch
):
    assert book(member_api, intake, provider_id=provider.user_id).status_code == 201
    # As if two requests had both passed the availability check: the database still says no, as a 409.
    monkeypatch.setattr(services, "providers_free_for", lambda **kw: [provider.pk])
    overlapping = book(member_api, intake, start=TEN + dt.timedelta(minutes=5), provider_id=provider.user_id)
    assert overlapping.status_code == 409
    assert overlapping.json() == {
        "code": 409,
        "message": "That time is no longer available.",
        "errors": {"start": ["That time is no longer available."]},
    }
    assert Visit.objects.filter(type=VisitType.SCHEDULED, status=VisitStatus.WAITING).count() == 1


@postgres_only
def test_the_constraint_ignores_cancelled_group_and_other_providers_visits(
    account, room, provider, other_provider
):
    def appointment(**kw):
        with transaction.atomic():
            return VisitFactory(
                account=account,
                room=room,
                type=VisitType.SCHEDULED,
                busy_start=TEN,
                busy_end=TEN + dt.timedelta(minutes=15),
                **kw,
            )

    first = appointment(provider=provider)
    appointment(provider=other_provider)
    appointment(provider=provider, status=VisitStatus.CANCELLED)
    with pytest.raises(IntegrityError, match="visit_no_double_booking"):
        appointment(provider=provider)
    first.status = VisitStatus.CANCELLED
    first.save()
    appointment(provider=provider)  # the cancelled one no longer holds the time


def test_buffers_are_part_of_the_held_time(member_api, hours, intake, provider, room):
    Room.objects.filter(pk=room.pk).update(buffer_after=15 * 60)
    assert book(member_api, intake, provider_id=provider.user_id).status_code == 201
    assert (
        book(
            member_api, intake, start=TEN + dt.timedelta(minutes=15), provider_id=provider.user_id
        ).status_code
        == 409
    )
    assert (
        book(
            member_api, intake, start=TEN + dt.timedelta(minutes=30), provider_id=provider.user_id
        ).status_code
        == 201
    )


def test_cancelling_frees_the_slot_at_once(member_api, hours, intake, provider):
    visit_id = book(member_api, intake, provider_id=provider.user_id).json()["data"]["id"]
    assert provider.user_id not in free_at(member_api, TEN)
    closed = member_api.post("visits/close", {"id": visit_id, "reason": "patient_cancel_appointment"})
    assert closed.json()["data"]["status"] == 40
    assert provider.user_id in free_at(member_api, TEN)
    assert book(member_api, intake, provider_id=provider.user_id).status_code == 201


def test_a_tbd_appointment_gets_a_provider_only_if_free_and_loses_it_with_zero(
    member_api, front_desk_api, hours, intake, provider, other_provider, account
):
    tbd = book(member_api, intake)
    assert tbd.status_code == 201 and tbd.json()["data"]["provider"] is None
    visit_id = tbd.json()["data"]["id"]
    someone = MemberFactory(account=account, code="P-3003")
    taken = front_desk_api.post(
        "visits",
        {
            "room_code": "main",
            "member_id": someone.code,
            "provider_id": provider.user_id,
            "start": ts(TEN),
            "end": ts(TEN) + QUARTER,
        },
    )
    assert taken.status_code == 201
    busy = front_desk_api.post(f"visits/{visit_id}?version=2", {"provider_id": provider.user_id})
    assert busy.status_code == 409 and "not free" in busy.json()["message"]
    assigned = front_desk_api.post(f"visits/{visit_id}?version=2", {"provider_id": other_provider.user_id})
    assert assigned.status_code == 200 and assigned.json()["data"]["provider"]["id"] == other_provider.user_id
    assert free_at(member_api, TEN) == []
    removed = front_desk_api.post(f"visits/{visit_id}?version=2", {"provider_id": 0})
    assert removed.json()["data"]["provider"] is None
    # Dr. Patel's time is free again, but the TBD appointment needs the only free provider: not offered.
    assert free_at(member_api, TEN) == []
    front_desk_api.post("visits/close", {"id": visit_id, "reason": "patient_cancel_appointment"})
    assert free_at(member_api, TEN) == [other_provider.user_id]


def test_rescheduling_goes_through_the_same_guard(
    member_api, front_desk_api, hours, intake, provider, other_provider
):
    visit_id = book(member_api, intake, provider_id=provider.user_id).json()["data"]["id"]
    eleven = la(2027, 3, 8, 11)
    other_patients = IntakeFactory(account=intake.account, room=intake.room, consultation=intake.consultation)
    assert book(front_desk_api, other_patients, start=eleven, provider_id=provider.user_id).status_code == 201
    taken = member_api.post(
        f"visits/{visit_id}?version=2", {"start": ts(eleven), "end": ts(eleven) + QUARTER}
    )
    assert taken.status_code == 409
    off_grid = member_api.post(f"visits/{visit_id}?version=2", {"start": ts(eleven) + 60})
    assert off_grid.status_code == 409
    noon = la(2027, 3, 8, 12)
    moved = member_api.post(f"visits/{visit_id}?version=2", {"start": ts(noon)})
    assert moved.status_code == 200
    assert (moved.json()["data"]["start"], moved.json()["data"]["end"]) == (ts(noon), ts(noon) + QUARTER)
    assert provider.user_id in free_at(member_api, TEN)
    assert provider.user_id not in free_at(member_api, noon)
    # Moving onto its own current time (a no-op retry) is fine: it does not collide with itself.
    assert member_api.post(f"visits/{visit_id}?version=2", {"start": ts(noon)}).status_code == 200
    assert VisitEvent.objects.filter(visit_id=visit_id, reason="rescheduled").count() == 1


def test_group_visit_seats_until_full_and_the_group_holds_its_provider(
    member_api, front_desk, front_desk_api, hours, provider, account, room
):
    group_consultation = ConsultationFactory(room=room, duration=3600, capacity=2, description="Sleep class")
    group = services.visit_group_create(
        account=account,
        actor=front_desk,
        room=room,
        consultation=group_consultation,
        provider=provider,
        start=TEN,
    )
    assert provider.user_id not in free_at(member_api, TEN + dt.timedelta(minutes=30))
    window = {
        "room_code": "main",
        "visit_group_id": str(group.pk),
        "start": ts(group.start),
        "end": ts(group.end),
    }
    seats = [
        front_desk_api.post("visits", {**window, "member_id": MemberFactory(account=account).code})
        for _ in range(3)
    ]
    assert [r.status_code for r in seats] == [201, 201, 409]
    assert seats[2].json()["message"] == "The group visit is full."
    seat = seats[0].json()["data"]
    assert seat["visit_group_id"] == str(group.pk)
    assert (
        seat["visit_group"]["capacity"] == 2
        and seat["visit_group"]["consultation"]["description"] == "Sleep class"
    )
    detail = front_desk_api.get(f"visits/{seat['id']}").json()["data"]
    assert detail["visit_group"]["start"] == ts(TEN)
    front_desk_api.post("visits/close", {"id": seat["id"], "reason": "patient_cancel_appointment"})
    again = front_desk_api.post("visits", {**window, "member_id": MemberFactory(account=account).code})
    assert again.status_code == 201  # a cancelled seat is free again
    with pytest.raises(Exception, match="not free"):
        services.visit_group_create(
            account=account,
            actor=front_desk,
            room=room,
            consultation=group_consultation,
            provider=provider,
            start=TEN,
        )
    assert VisitGroup.objects.count() == 1


def test_starting_a_booked_appointment_puts_the_patient_in_that_providers_queue(
    member_api, hours, intake, provider
):
    appointment = book(member_api, intake, provider_id=provider.user_id).json()["data"]
    walkin = member_api.post(
        "visits/add_walkin",
        {"intake_id": str(intake.pk), "room_code": "main", "appointment_id": appointment["id"]},
    )
    assert walkin.status_code == 201
    assert walkin.json()["data"]["appointment_id"] == appointment["id"]
    assert walkin.json()["data"]["provider"]["id"] == provider.user_id


def test_who_may_book(provider_api, member_api, hours, account, room, provider):
    stranger_intake = IntakeFactory(account=account, room=room)
    assert book(provider_api, stranger_intake, provider_id=provider.user_id).status_code == 403
    assert book(member_api, stranger_intake, provider_id=provider.user_id).status_code == 404
    other = client_for(MemberFactory(account=account).user)
    assert (
        other.post(
            "visits", {"room_code": "main", "member_id": "P-1001", "start": ts(TEN), "end": ts(TEN) + QUARTER}
        ).status_code
        == 403
    )
    assert member_api.post("visits", {"room_code": "main", "start": ts(TEN)}).status_code == 400
    walkin_type = member_api.post(
        "visits", {"room_code": "main", "type": 1, "start": ts(TEN), "end": ts(TEN) + 900}
    )
    assert walkin_type.status_code == 400 and walkin_type.json()["errors"]["type"]
