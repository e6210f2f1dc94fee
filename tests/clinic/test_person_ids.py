"""One id per person: the `id` SSO returns is what provider_id takes and what member.id / provider.id show;
member_id takes the patient's code or that id."""

import pytest

from clinic.services import member_create
from tests.clinic.factories import ProviderFactory, UserFactory
from tests.conftest import client_for
from tests.visits.factories import IntakeFactory

pytestmark = pytest.mark.django_db


def _sso(key_api, **fields):
    response = key_api.post("users/sso", {"first_name": "Ana", "last_name": "Ruiz", **fields})
    assert response.status_code in (200, 201), response.json()
    return response.json()["data"]


def test_a_providers_sso_id_is_the_provider_id_clients_pass(key_api, account, room, member_api, member):
    # Users made before the provider shift the ids, so a provider row's own id differs from theirs.
    UserFactory.create_batch(3, account=account)
    sso = _sso(key_api, code="dr-ruiz", type=400)
    provider = ProviderFactory._meta.model.objects.get(user_id=sso["id"])
    provider.rooms.add(room)
    assert provider.pk != sso["id"]

    intake = IntakeFactory(account=account, room=room, member=member)
    walkin = member_api.post(
        "visits/add_walkin", {"intake_id": str(intake.pk), "room_code": room.code, "provider_id": sso["id"]}
    )
    assert walkin.status_code == 201, walkin.json()
    assert walkin.json()["data"]["provider"]["id"] == sso["id"]
    assert sso["id"] in member_api.get(f"rooms/{room.code}").json()["data"]["provider_ids"]


def test_a_patients_sso_id_is_member_id_on_their_visits_and_member_id_accepts_it(
    key_api, front_desk_api, account, room
):
    sso = _sso(key_api, code="ext-77")
    patient_api = client_for(account.users.get(pk=sso["id"]))
    intake = patient_api.post("intakes", {"room_code": room.code}).json()["data"]
    visit = patient_api.post("visits/add_walkin", {"intake_id": intake["id"], "room_code": room.code}).json()
    assert visit["data"]["member"]["id"] == sso["id"]

    by_id = front_desk_api.post(
        "intakes", {"room_code": room.code, "member_id": str(sso["id"]), "reset": True}
    )
    by_code = front_desk_api.post("intakes", {"room_code": room.code, "member_id": "ext-77", "reset": True})
    assert by_id.json()["data"]["member_id"] == by_code.json()["data"]["member_id"] == "ext-77"


def test_patients_the_front_desk_enters_have_a_person_id_that_sso_keeps(
    key_api, front_desk_api, account, room
):
    member = member_create(account=account, code="desk-1", first_name="Lee", last_name="Wong")
    assert member.user_id is not None and not member.user.has_usable_password()
    sso = _sso(key_api, code="desk-1", first_name="Lee", last_name="Wong")
    assert sso["id"] == member.user_id
