import json

import pytest

from tests.clinic.factories import AccountFactory, MemberFactory, RoomFactory
from tests.conftest import client_for
from tests.visits.factories import IntakeFactory
from visits.models import Intake

pytestmark = pytest.mark.django_db


def test_custom_fields_are_saved_and_echoed_at_the_top_level(member_api, room):
    response = member_api.post(
        "intakes",
        {"room_code": room.code, "custom_is_allergic": "Yes", "custom_symptoms": "Rash, Red Eyes"},
        format="multipart",
    )
    data = response.json()["data"]
    assert (data["custom_is_allergic"], data["custom_symptoms"]) == ("Yes", "Rash, Red Eyes")
    assert Intake.objects.get(pk=data["id"]).custom == {
        "custom_is_allergic": "Yes",
        "custom_symptoms": "Rash, Red Eyes",
    }
    assert member_api.get(f"intakes/{data['id']}").json()["data"]["custom_symptoms"] == "Rash, Red Eyes"


def test_json_body_keeps_structured_custom_values(member_api, room):
    response = member_api.post("intakes", {"room_code": room.code, "custom_meds": ["a", "b"], "custom_n": 3})
    assert response.json()["data"]["custom_meds"] == ["a", "b"]
    assert response.json()["data"]["custom_n"] == 3


def test_custom_fields_never_override_the_contracts_fields(member_api, room):
    intake = member_api.post("intakes", {"room_code": room.code, "reason_for_visit": "Cough"}).json()["data"]
    assert "room_code" not in Intake.objects.get(pk=intake["id"]).custom
    assert intake["reason_for_visit"] == "Cough"


def test_update_merges_custom_fields_and_keeps_the_rest(member_api, room):
    intake = member_api.post("intakes", {"room_code": room.code, "custom_a": "1", "reason_for_visit": "x"})
    intake_id = intake.json()["data"]["id"]
    updated = member_api.post(f"intakes/{intake_id}", {"custom_b": "2"}).json()["data"]
    assert (updated["custom_a"], updated["custom_b"], updated["reason_for_visit"]) == ("1", "2", "x")


def test_too_many_custom_fields_is_a_clear_400_and_writes_nothing(member_api, room, settings):
    settings.INTAKE_CUSTOM_FIELDS_MAX_COUNT = 3
    response = member_api.post("intakes", {"room_code": room.code, **{f"custom_{i}": "x" for i in range(4)}})
    assert response.status_code == 400
    assert "custom" in response.json()["errors"]
    assert not Intake.objects.exists()


def test_oversized_custom_value_is_a_400_naming_the_field(member_api, room):
    response = member_api.post("intakes", {"room_code": room.code, "custom_essay": "x" * 5000})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["custom_essay"]


def test_overlong_custom_field_name_is_refused(member_api, room):
    response = member_api.post("intakes", {"room_code": room.code, "c" * 100: "x"})
    assert response.status_code == 400


def test_room_code_is_required_on_create(member_api):
    response = member_api.post("intakes", {"reason_for_visit": "x"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"room_code": ["This field is required."]}


def test_unknown_room_is_404_naming_room_code(member_api):
    response = member_api.post("intakes", {"room_code": "nope"})
    assert response.status_code == 404
    assert "room_code" in response.json()["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", "7"),
        ("provider_id", "abc"),
        ("location", "ZZ"),
        ("phone", "12"),
        ("consultation_id", "999"),
        ("reset", "perhaps"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(member_api, room, field, value):
    response = member_api.post("intakes", {"room_code": room.code, field: value}, format="multipart")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


def test_provider_alias_and_unknown_provider(member_api, room, provider):
    ok = member_api.post("intakes", {"room_code": room.code, "provider": provider.user_id}).json()["data"]
    assert ok["provider_id"] == provider.user_id
    missing = member_api.post("intakes", {"room_code": room.code, "provider_id": 987654, "reset": True})
    assert missing.status_code == 404
    assert "provider_id" in missing.json()["errors"]


def test_phone_formats_are_normalised(member_api, room):
    for raw in ["7123456789", "(712) 345-6789", "+1 712 345 6789", "712.345.6789"]:
        data = member_api.post("intakes", {"room_code": room.code, "phone": raw, "reset": True}).json()[
            "data"
        ]
        assert data["phone"] == "+17123456789"


def test_the_patients_open_intake_is_reused_unless_reset(member_api, room):
    first = member_api.post("intakes", {"room_code": room.code}).json()["data"]["id"]
    again = member_api.post("intakes", {"room_code": room.code, "reason_for_visit": "more"}).json()["data"]
    assert again["id"] == first and again["reason_for_visit"] == "more"
    fresh = member_api.post("intakes", {"room_code": room.code, "reset": "true"}).json()["data"]["id"]
    assert fresh != first


def test_consultation_must_belong_to_the_room(member_api, room, consultation):
    ok = member_api.post("intakes", {"room_code": room.code, "consultation_id": consultation.pk})
    assert ok.json()["data"]["consultation"]["duration"] == 900
    other_room = RoomFactory(account=room.account)
    response = member_api.post("intakes", {"room_code": other_room.code, "consultation_id": consultation.pk})
    assert response.status_code == 400


def test_staff_create_an_intake_for_a_patient_by_member_id(provider_api, room, member):
    response = provider_api.post("intakes", {"room_code": room.code, "member_id": member.code})
    assert response.status_code == 201
    assert response.json()["data"]["member_id"] == member.code


def test_a_patient_cannot_create_an_intake_for_another_patient(member_api, room):
    someone = MemberFactory(account=room.account)
    response = member_api.post("intakes", {"room_code": room.code, "member_id": someone.code})
    assert response.status_code == 403


def test_a_patient_may_name_themselves_by_code_or_person_id(member_api, room, member):
    for own_id in (member.code, str(member.user_id)):
        response = member_api.post("intakes", {"room_code": room.code, "member_id": own_id, "reset": True})
        assert response.status_code == 201, response.json()
        assert response.json()["data"]["member_id"] == member.code
    someone = MemberFactory(account=room.account)
    response = member_api.post("intakes", {"room_code": room.code, "member_id": str(someone.user_id)})
    assert response.status_code == 403


def test_another_patients_intake_is_404(member_api, room):
    theirs = IntakeFactory(account=room.account, room=room)
    assert member_api.get(f"intakes/{theirs.pk}").status_code == 404
    assert member_api.post(f"intakes/{theirs.pk}", {"reason_for_visit": "hijack"}).status_code == 404


def test_another_accounts_intake_is_404_even_for_its_admin(admin_api):
    foreign = IntakeFactory(account=AccountFactory(code="other"))
    assert admin_api.get(f"intakes/{foreign.pk}").status_code == 404
    assert admin_api.post(f"intakes/{foreign.pk}", {"reason_for_visit": "x"}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.reason_for_visit == "Rash on the arm"


def test_malformed_intake_id_is_404(member_api):
    assert member_api.get("intakes/not-a-uuid").status_code == 404


def test_a_non_object_json_body_is_400(member_api):
    response = member_api.client.post(
        "/api/v3/intakes", data=json.dumps(["x"]), content_type="application/json"
    )
    assert response.status_code == 400


def test_malformed_json_is_400(member_api):
    response = member_api.client.post("/api/v3/intakes", data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_front_desk_reads_any_intake_of_the_account(front_desk_api, room):
    intake = IntakeFactory(account=room.account, room=room)
    assert front_desk_api.get(f"intakes/{intake.pk}").status_code == 200


def test_staff_without_a_patient_cannot_be_impersonated_by_a_plain_user(room):
    from tests.clinic.factories import UserFactory

    api = client_for(UserFactory(account=room.account))
    assert api.post("intakes", {"room_code": room.code}).status_code == 403
