"""TBD appointments (no provider yet) each hold one of the room's free providers: the room is never
promised more patients at a time than it has providers for."""

import datetime as dt

import pytest

from clinic.errors import Conflict
from scheduling.selectors import free_slots
from scheduling.services import visit_group_create
from tests.clinic.factories import ConsultationFactory, MemberFactory, ProviderFactory
from tests.scheduling.conftest import la, ts
from tests.scheduling.factories import work
from tests.scheduling.test_booking import TEN, book, free_at, hours, intake  # noqa: F401  (fixtures)
from tests.visits.factories import IntakeFactory
from visits.models import VisitGroup

pytestmark = pytest.mark.usefixtures("clock", "hours")


def _patient_intake(account, room, consultation):
    return IntakeFactory(
        account=account,
        room=room,
        member=MemberFactory(account=account),
        consultation=consultation,
        location="CA",
    )


def test_no_more_tbd_appointments_than_free_providers(front_desk_api, account, room, consultation):
    first, second, third = (_patient_intake(account, room, consultation) for _ in range(3))
    assert book(front_desk_api, first).status_code == 201
    assert book(front_desk_api, second).status_code == 201
    refused = book(front_desk_api, third)
    assert refused.status_code == 409
    assert "No provider is left" in refused.json()["message"]


def test_naming_the_last_free_provider_is_refused_while_a_tbd_needs_one(
    front_desk_api, account, room, consultation, provider, other_provider
):
    assert book(front_desk_api, _patient_intake(account, room, consultation)).status_code == 201  # TBD
    assert (
        book(
            front_desk_api, _patient_intake(account, room, consultation), provider_id=provider.user_id
        ).status_code
        == 201
    )
    refused = book(
        front_desk_api, _patient_intake(account, room, consultation), provider_id=other_provider.user_id
    )
    assert refused.status_code == 409


def test_cancelling_a_tbd_appointment_gives_its_place_back(front_desk_api, account, room, consultation):
    booked = [
        book(front_desk_api, _patient_intake(account, room, consultation)).json()["data"] for _ in range(2)
    ]
    front_desk_api.post("visits/close", {"id": booked[0]["id"], "reason": "patient_cancel_appointment"})
    assert book(front_desk_api, _patient_intake(account, room, consultation)).status_code == 201


def test_moving_a_tbd_appointment_into_a_full_time_is_refused(front_desk_api, account, room, consultation):
    for _ in range(2):
        book(front_desk_api, _patient_intake(account, room, consultation))
    later = book(
        front_desk_api, _patient_intake(account, room, consultation), start=TEN + dt.timedelta(hours=1)
    )
    start = int(TEN.timestamp())
    moved = front_desk_api.post(
        f"visits/{later.json()['data']['id']}?version=2", {"start": start, "end": start + 900}
    )
    assert moved.status_code == 409


def test_availability_stops_offering_a_time_that_tbd_appointments_hold(
    front_desk_api, account, room, consultation, provider, other_provider
):
    book(front_desk_api, _patient_intake(account, room, consultation))
    # One TBD at 10:00 holds one of the two free providers: both are still listed, either may be named.
    assert free_at(front_desk_api, TEN) == [provider.user_id, other_provider.user_id]
    assert free_at(front_desk_api, TEN, provider_id=other_provider.user_id) == [other_provider.user_id]
    assert (
        book(
            front_desk_api, _patient_intake(account, room, consultation), provider_id=provider.user_id
        ).status_code
        == 201
    )
    # Now the TBD needs Dr. Patel: 10:00 is gone, for any provider and for Dr. Patel by name.
    assert free_at(front_desk_api, TEN) == []
    assert free_at(front_desk_api, TEN, provider_id=other_provider.user_id) == []
    # What availability offers, booking takes; what it hides, booking refuses.
    refused = book(
        front_desk_api, _patient_intake(account, room, consultation), provider_id=other_provider.user_id
    )
    assert refused.status_code == 409
    assert free_at(front_desk_api, TEN + dt.timedelta(minutes=15)) == [
        provider.user_id,
        other_provider.user_id,
    ]


def test_the_first_available_slot_skips_times_tbd_appointments_hold(
    front_desk_api, account, room, consultation, provider, other_provider
):
    nine = la(2027, 3, 8, 9)
    for _ in range(2):
        assert (
            book(front_desk_api, _patient_intake(account, room, consultation), start=nine).status_code == 201
        )
    data = front_desk_api.get("availability", {"room_code": "main", "consultation_id": consultation.pk})
    first = data.json()["data"][0]
    assert first["start"] == ts(nine) + 900
    assert first["provider_ids"] == [provider.user_id, other_provider.user_id]
    only_patel = front_desk_api.get(
        "availability",
        {"room_code": "main", "consultation_id": consultation.pk, "provider_id": other_provider.user_id},
    )
    assert only_patel.json()["data"][0]["start"] == ts(nine) + 900


def test_a_group_visit_cannot_take_the_provider_a_tbd_appointment_needs(
    front_desk_api, front_desk, account, room, consultation, provider, other_provider
):
    for _ in range(2):  # both providers held at 10:00 by TBD appointments
        assert book(front_desk_api, _patient_intake(account, room, consultation)).status_code == 201
    group_consultation = ConsultationFactory(room=room, duration=3600, capacity=4)
    with pytest.raises(Conflict, match="No provider is left"):
        visit_group_create(
            account=account,
            actor=front_desk,
            room=room,
            consultation=group_consultation,
            provider=provider,
            start=TEN,
        )
    assert not VisitGroup.objects.exists()


def test_one_providers_availability_with_tbd_appointments_reads_everyone_in_four_queries(
    django_assert_max_num_queries, front_desk_api, account, room, consultation, provider, other_provider
):
    for _ in range(8):
        work(ProviderFactory(account=account, rooms=[room]), room)
    book(front_desk_api, _patient_intake(account, room, consultation))
    # Dr. Patel's slots depend on everyone's: a TBD appointment may take any free provider.
    with django_assert_max_num_queries(4):
        slots = free_slots(
            room=room,
            slot_length=900,
            start=TEN,
            end=TEN + dt.timedelta(days=14),
            provider_id=other_provider.pk,
        )
    assert slots[0].start == ts(TEN) and slots[0].provider_ids == [other_provider.pk]
