"""The seed's sample requests, in order, as a patient app and a provider would send them."""

from visits.models import VisitEvent, VisitStatus


def test_sample_requests_walk_through_a_visit(member_api, provider_api, room, provider):
    created = member_api.post(
        "intakes.json",
        {
            "provider": provider.user_id,
            "reason_for_visit": "Test",
            "reset": "true",
            "type": "1",
            "room_code": "main",
            "custom_is_allergic": "Yes",
            "custom_symptoms": "Rash, Red Eyes",
            "custom_symptoms_duration": "2 weeks",
        },
        format="multipart",
    )
    assert created.status_code == 201, created.json()
    intake = created.json()["data"]
    assert intake["custom_is_allergic"] == "Yes"
    assert intake["custom_symptoms_duration"] == "2 weeks"

    updated = member_api.post(
        f"intakes/{intake['id']}", {"location": "CA", "phone": "7123456789"}, format="multipart"
    )
    assert updated.status_code == 200
    assert updated.json()["data"]["phone"] == "+17123456789"
    assert updated.json()["data"]["custom_symptoms"] == "Rash, Red Eyes"

    walkin = member_api.post("visits/add_walkin", {"intake_id": intake["id"], "room_code": "main"})
    assert walkin.status_code == 201
    assert walkin.json()["data"]["status"] == 10

    econsult = member_api.post("visits/add_econsult", {"intake_id": intake["id"], "room_code": "main"})
    assert econsult.json()["data"]["type"] == 3

    visit_id = econsult.json()["data"]["id"]
    accepted = provider_api.post("visits/accept", {"id": visit_id})
    assert accepted.status_code == 200
    assert accepted.json()["data"]["provider"]["id"] == provider.user_id

    done = provider_api.post(
        "visits/complete", {"id": visit_id, "notes": "<p>Rest</p><script>alert(1)</script>"}
    )
    assert done.json()["data"]["status"] == VisitStatus.COMPLETED
    assert done.json()["data"]["notes"] == "<p>Rest</p>"

    closed = member_api.post(
        "visits/close", {"id": walkin.json()["data"]["id"], "reason": "patient_exit_room"}
    )
    assert closed.json()["data"]["status_name"] == "cancelled"
    assert closed.json()["data"]["close_reason"] == "patient_exit_room"
    assert list(VisitEvent.objects.filter(visit_id=visit_id).values_list("to_status", flat=True)) == [
        10,
        20,
        30,
    ]
