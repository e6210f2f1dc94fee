"""Who may write intakes for a patient, and which intake POST /intakes may reuse."""

import pytest

from tests.clinic.factories import ProviderFactory, RoomFactory
from tests.conftest import client_for
from tests.visits.factories import IntakeFactory, VisitFactory
from visits.models import Intake

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_intake(room, member):
    return IntakeFactory(account=room.account, room=room, member=member, reason_for_visit="Rash")


@pytest.fixture
def outsider(account):
    """A provider of the same clinic who does not work in `room`."""
    return ProviderFactory(account=account, rooms=[RoomFactory(account=account, code="derm")])


@pytest.fixture
def outsider_api(outsider):
    return client_for(outsider.user)


def test_a_provider_outside_the_room_cannot_act_for_a_patient_there(
    outsider, outsider_api, room, member, open_intake
):
    # Naming themselves as the provider visited made the intake and its files theirs to read.
    for extra in ({}, {"provider_id": outsider.user_id}):
        response = outsider_api.post(
            "intakes",
            {"room_code": room.code, "member_id": member.code, "reason_for_visit": "Hacked", **extra},
        )
        assert response.status_code == 403
        assert str(open_intake.pk) not in response.content.decode()
    open_intake.refresh_from_db()
    assert open_intake.reason_for_visit == "Rash"
    assert Intake.objects.count() == 1


def test_a_forbidden_caller_cannot_tell_known_patient_codes_from_unknown_ones(outsider_api, room, member):
    known = outsider_api.post("intakes", {"room_code": room.code, "member_id": member.code})
    unknown = outsider_api.post("intakes", {"room_code": room.code, "member_id": "NOBODY-42"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())


def test_the_rooms_provider_and_the_front_desk_act_for_patients(provider_api, front_desk_api, room, member):
    for api in (provider_api, front_desk_api):
        response = api.post("intakes", {"room_code": room.code, "member_id": member.code, "reset": True})
        assert response.status_code == 201, response.json()


def test_an_intake_a_waiting_visit_uses_is_never_reused_or_changed(front_desk_api, room, member, open_intake):
    VisitFactory(account=room.account, room=room, intake=open_intake, member=member)
    response = front_desk_api.post(
        "intakes",
        {"room_code": room.code, "member_id": member.code, "reason_for_visit": "Booking", "type": 2},
    )
    assert response.status_code == 201
    assert response.json()["data"]["id"] != str(open_intake.pk)
    open_intake.refresh_from_db()
    assert (open_intake.reason_for_visit, open_intake.type) == ("Rash", None)


def test_an_intake_no_visit_uses_yet_is_reused(member_api, room, open_intake):
    response = member_api.post("intakes", {"room_code": room.code, "reason_for_visit": "Rash, worse"})
    assert response.json()["data"]["id"] == str(open_intake.pk)
    open_intake.refresh_from_db()
    assert open_intake.reason_for_visit == "Rash, worse"


def test_an_ended_visits_intake_takes_corrections_as_addenda(
    django_capture_on_commit_callbacks, member_api, provider_api, room, member, open_intake
):
    VisitFactory(account=room.account, room=room, intake=open_intake, member=member, status=30)
    assert member_api.post(f"intakes/{open_intake.pk}", {"reason_for_visit": "Cough"}).status_code == 409
    added = member_api.post(
        f"intakes/{open_intake.pk}/addenda", {"text": "It started on Monday, not Friday."}
    )
    assert added.status_code == 201
    [addendum] = added.json()["data"]["addenda"]
    assert (addendum["text"], addendum["author_id"]) == ("It started on Monday, not Friday.", member.user_id)
    assert provider_api.get(f"intakes/{open_intake.pk}").json()["data"]["addenda"][0]["id"] == addendum["id"]
    open_intake.refresh_from_db()
    assert open_intake.reason_for_visit == "Rash"  # the original stays as it was
    empty = member_api.post(f"intakes/{open_intake.pk}/addenda", {"text": "  "})
    assert empty.status_code == 400 and "text" in empty.json()["errors"]
