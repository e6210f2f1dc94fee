"""TBD appointments (no provider yet) each hold one of the room's free providers: the room is never
promised more patients at a time than it has providers for."""

import pytest

from tests.clinic.factories import MemberFactory
from tests.scheduling.test_booking import TEN, book, hours, intake  # noqa: F401  (fixtures)
from tests.visits.factories import IntakeFactory

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
            front_desk_api, _patient_intake(account, room, consultation), provider_id=provider.pk
        ).status_code
        == 201
    )
    refused = book(
        front_desk_api, _patient_intake(account, room, consultation), provider_id=other_provider.pk
    )
    assert refused.status_code == 409


def test_cancelling_a_tbd_appointment_gives_its_place_back(front_desk_api, account, room, consultation):
    booked = [
        book(front_desk_api, _patient_intake(account, room, consultation)).json()["data"] for _ in range(2)
    ]
    front_desk_api.post("visits/close", {"id": booked[0]["id"], "reason": "patient_cancel_appointment"})
    assert book(front_desk_api, _patient_intake(account, room, consultation)).status_code == 201


def test_moving_a_tbd_appointment_into_a_full_time_is_refused(front_desk_api, account, room, consultation):
    import datetime as dt

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
