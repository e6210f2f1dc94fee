import datetime as dt

import pytest

from tests.clinic.factories import AccountFactory, MemberFactory, ProviderFactory, RoomFactory
from tests.conftest import client_for
from tests.visits.factories import IntakeFactory, VisitFactory
from visits.models import Visit, VisitEvent, VisitStatus, VisitType

pytestmark = pytest.mark.django_db


@pytest.fixture
def intake(member, room):
    return IntakeFactory(account=room.account, room=room, member=member, custom={"custom_symptoms": "Rash"})


def _walkin(api, intake):
    response = api.post("visits/add_walkin", {"intake_id": str(intake.pk), "room_code": intake.room.code})
    assert response.status_code == 201, response.json()
    return response.json()["data"]


def _econsult(api, intake):
    response = api.post("visits/add_econsult", {"intake_id": str(intake.pk), "room_code": intake.room.code})
    assert response.status_code == 201, response.json()
    return response.json()["data"]


# --- the visit object ------------------------------------------------------------------------------------


def test_visit_object_has_every_field_of_the_contract(member_api, intake, consultation):
    intake.consultation = consultation
    intake.save()
    data = _walkin(member_api, intake)
    assert set(data) == {
        "id",
        "type",
        "status",
        "status_name",
        "start",
        "end",
        "actual_start",
        "actual_end",
        "confirmed_at",
        "room_code",
        "account_code",
        "member",
        "provider",
        "intake",
        "notes",
        "close_reason",
        "closed_by",
        "appointment_id",
        "inviting_visit_id",
        "created",
        "modified",
        "meeting",
    }
    assert isinstance(data["id"], str) and isinstance(data["start"], int)
    assert data["member"]["code"] == intake.member.code
    assert data["intake"]["custom_symptoms"] == "Rash"
    assert data["intake"]["consultation"]["id"] == consultation.pk
    assert (data["status"], data["status_name"], data["provider"]) == (10, "waiting", None)


# --- walk-ins and e-consults -----------------------------------------------------------------------------


def test_add_walkin_twice_keeps_one_place_in_the_queue(member_api, intake):
    first, second = _walkin(member_api, intake), _walkin(member_api, intake)
    assert first["id"] == second["id"]
    assert Visit.objects.filter(intake=intake).count() == 1


def test_closed_room_refuses_walkins_and_says_why(member_api, intake, room):
    room.is_open = False
    room.save()
    response = member_api.post("visits/add_walkin", {"intake_id": str(intake.pk), "room_code": room.code})
    assert response.status_code == 409
    assert response.json()["message"] == f"Room {room.code} is closed."
    assert not Visit.objects.exists()


def test_room_with_walkins_off_refuses_them(member_api, intake, room):
    room.walkins_enabled = False
    room.save()
    response = member_api.post("visits/add_walkin", {"intake_id": str(intake.pk), "room_code": room.code})
    assert response.status_code == 409
    assert "walk-ins" in response.json()["message"]


@pytest.mark.parametrize("missing", ["intake_id", "room_code"])
def test_add_walkin_names_missing_fields(member_api, intake, missing):
    data = {"intake_id": str(intake.pk), "room_code": intake.room.code}
    del data[missing]
    response = member_api.post("visits/add_walkin", data)
    assert response.status_code == 400
    assert missing in response.json()["errors"]


def test_add_walkin_with_an_intake_of_another_room_is_400(member_api, intake, account):
    other = RoomFactory(account=account)
    response = member_api.post("visits/add_walkin", {"intake_id": str(intake.pk), "room_code": other.code})
    assert response.status_code == 400
    assert "intake_id" in response.json()["errors"]


def test_staff_add_a_walkin_for_a_patient_by_member_id(front_desk_api, room, member):
    intake = IntakeFactory(account=room.account, room=room, member=None)
    response = front_desk_api.post(
        "visits/add_walkin", {"intake_id": str(intake.pk), "room_code": room.code, "member_id": member.code}
    )
    assert response.status_code == 201
    assert response.json()["data"]["member"]["code"] == member.code


def test_walkin_for_an_unknown_intake_is_404(member_api, room):
    response = member_api.post(
        "visits/add_walkin", {"intake_id": "6c1c3f5e-5c55-4b8a-9b9f-0a4f4f4f4f4f", "room_code": room.code}
    )
    assert response.status_code == 404


def test_econsult_is_type_3_and_waiting(member_api, intake):
    data = _econsult(member_api, intake)
    assert (data["type"], data["status"]) == (VisitType.ECONSULT, VisitStatus.WAITING)


# --- accept, complete, close -----------------------------------------------------------------------------


def test_accept_puts_the_visit_in_progress_with_that_provider(member_api, provider_api, intake, provider):
    visit = _econsult(member_api, intake)
    data = provider_api.post("visits/accept", {"id": visit["id"]}).json()["data"]
    assert (data["status"], data["provider"]["id"]) == (20, provider.user_id)
    assert data["actual_start"] is not None
    event = VisitEvent.objects.get(visit_id=visit["id"], to_status=20)
    assert (event.from_status, event.actor_id) == (10, provider.user_id)


def test_a_second_provider_is_told_who_has_the_patient(member_api, provider_api, other_provider, intake):
    visit = _econsult(member_api, intake)
    provider_api.post("visits/accept", {"id": visit["id"]})
    late = client_for(other_provider.user).post("visits/accept", {"id": visit["id"]})
    assert late.status_code == 409
    assert late.json()["message"] == "Pat Jones was already taken by Dr. Lee."


def test_a_provider_of_another_room_cannot_see_or_accept(member_api, intake, account):
    outsider = ProviderFactory(account=account, rooms=[RoomFactory(account=account)])
    visit = _econsult(member_api, intake)
    assert client_for(outsider.user).post("visits/accept", {"id": visit["id"]}).status_code == 404


def test_a_provider_not_licensed_in_the_patients_state_cannot_accept(member_api, provider_api, intake):
    intake.location = "NY"
    intake.save()
    visit = _econsult(member_api, intake)
    response = provider_api.post("visits/accept", {"id": visit["id"]})
    assert response.status_code == 403
    assert "not licensed in NY" in response.json()["message"]
    assert Visit.objects.get(pk=visit["id"]).status == VisitStatus.WAITING


def test_patients_and_front_desk_cannot_accept(member_api, front_desk_api, intake):
    visit = _econsult(member_api, intake)
    assert member_api.post("visits/accept", {"id": visit["id"]}).status_code == 403
    assert front_desk_api.post("visits/accept", {"id": visit["id"]}).status_code == 403


def test_complete_sanitises_notes_and_records_the_end(member_api, provider_api, intake):
    visit = _walkin(member_api, intake)
    provider_api.post("visits/accept", {"id": visit["id"]})
    notes = '<p onclick="x()">Rest <b>well</b></p><img src="http://evil/x.png"><a href="http://e">l</a><script>1</script>'
    data = provider_api.post("visits/complete", {"id": visit["id"], "notes": notes}).json()["data"]
    assert data["notes"] == "<p>Rest <b>well</b></p>l"
    assert (data["status"], data["status_name"]) == (30, "completed")
    assert data["actual_end"] >= data["actual_start"]


def test_only_the_visits_provider_completes_it(member_api, provider_api, other_provider, intake):
    visit = _walkin(member_api, intake)
    provider_api.post("visits/accept", {"id": visit["id"]})
    assert client_for(other_provider.user).post("visits/complete", {"id": visit["id"]}).status_code == 403


def test_completing_a_waiting_visit_is_409_and_changes_nothing(member_api, provider_api, intake):
    visit = _walkin(member_api, intake)
    visit_row = Visit.objects.get(pk=visit["id"])
    visit_row.provider = intake.room.providers.first()
    visit_row.save()
    response = provider_api.post("visits/complete", {"id": visit["id"]})
    assert response.status_code == 409
    assert Visit.objects.get(pk=visit["id"]).status == VisitStatus.WAITING


@pytest.mark.parametrize(
    "reason",
    [
        "patient_end_call",
        "patient_exit_room",
        "call_ended",
        "patient_cancel_appointment",
    ],
)
def test_each_close_reason_closes_a_waiting_visit(member_api, intake, member, reason):
    visit = _walkin(member_api, intake)
    data = member_api.post("visits/close", {"id": visit["id"], "reason": reason}).json()["data"]
    assert (data["status"], data["close_reason"], data["closed_by"]) == (40, reason, member.user_id)


def test_unknown_close_reason_is_400(member_api, intake):
    visit = _walkin(member_api, intake)
    response = member_api.post("visits/close", {"id": visit["id"], "reason": "bored"})
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert (
        member_api.post("visits/close", {"id": visit["id"], "reason": "force_cancelled"}).status_code == 400
    )


def test_closing_twice_is_harmless_and_says_so(member_api, intake):
    visit = _walkin(member_api, intake)
    member_api.post("visits/close", {"id": visit["id"], "reason": "patient_exit_room"})
    again = member_api.post("visits/close", {"id": visit["id"], "reason": "call_ended"})
    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert "already closed" in again.json()["message"]
    assert again.json()["data"]["close_reason"] == "patient_exit_room"
    assert VisitEvent.objects.filter(visit_id=visit["id"], to_status=40).count() == 1


def test_closing_a_visit_in_progress_records_its_end(member_api, provider_api, intake):
    visit = _walkin(member_api, intake)
    provider_api.post("visits/accept", {"id": visit["id"]})
    data = provider_api.post("visits/close", {"id": visit["id"], "reason": "call_ended"}).json()["data"]
    assert data["status"] == 40 and data["actual_end"] is not None


def test_closing_a_completed_visit_is_409(member_api, provider_api, intake):
    visit = _walkin(member_api, intake)
    provider_api.post("visits/accept", {"id": visit["id"]})
    provider_api.post("visits/complete", {"id": visit["id"]})
    response = member_api.post("visits/close", {"id": visit["id"], "reason": "patient_end_call"})
    assert response.status_code == 409
    assert Visit.objects.get(pk=visit["id"]).status == VisitStatus.COMPLETED


def test_another_patient_cannot_close_my_visit(member_api, intake):
    visit = _walkin(member_api, intake)
    stranger = client_for(MemberFactory(account=intake.account).user)
    assert stranger.post("visits/close", {"id": visit["id"], "reason": "call_ended"}).status_code == 404


def test_delete_is_for_clinic_admins_only(member_api, provider_api, front_desk_api, admin_api, intake):
    visit = _walkin(member_api, intake)
    for api in (member_api, provider_api, front_desk_api):
        assert api.post("visits/delete", {"id": visit["id"]}).status_code == 403
    data = admin_api.post("visits/delete", {"id": visit["id"]}).json()["data"]
    assert (data["status"], data["close_reason"]) == (40, "force_cancelled")


def test_every_transition_is_in_the_event_trail(member_api, provider_api, intake, provider, member):
    visit = _walkin(member_api, intake)
    provider_api.post("visits/accept", {"id": visit["id"]})
    provider_api.post("visits/complete", {"id": visit["id"]})
    trail = list(
        VisitEvent.objects.filter(visit_id=visit["id"]).values_list("from_status", "to_status", "actor")
    )
    assert trail == [(None, 10, member.user_id), (10, 20, provider.user_id), (20, 30, provider.user_id)]


# --- reading ---------------------------------------------------------------------------------------------


def test_list_is_scoped_by_role_and_paged(member_api, provider_api, front_desk_api, intake, provider, room):
    mine = _walkin(member_api, intake)
    provider_api.post("visits/accept", {"id": mine["id"]})
    VisitFactory.create_batch(3, account=room.account, room=room)  # other patients' visits
    assert [v["id"] for v in member_api.get("visits").json()["data"]] == [mine["id"]]
    assert provider_api.get("visits").json()["total_count"] == 1
    staff_view = front_desk_api.get("visits", {"limit": 2}).json()
    assert staff_view["total_count"] == 4 and len(staff_view["data"]) == 2


def test_paging_past_the_end_is_empty_and_absurd_pages_are_a_400(front_desk_api, room, account):
    VisitFactory(account=account, room=room)
    past = front_desk_api.get("visits", {"page": 50}).json()
    assert (past["total_count"], past["data"], past["page"]) == (1, [], 50)
    for page in ("99999999999999999999", "0", "two"):
        refused = front_desk_api.get("visits", {"page": page})
        assert refused.status_code == 400, page
        assert "page" in refused.json()["errors"]


def test_list_filters(front_desk_api, room, account):
    VisitFactory(account=account, room=room, status=VisitStatus.CANCELLED)
    VisitFactory(account=account, room=room, type=VisitType.ECONSULT)
    VisitFactory(account=account, room=RoomFactory(account=account, code="annex"))
    assert front_desk_api.get("visits", {"status": 40}).json()["total_count"] == 1
    assert front_desk_api.get("visits", {"type": 3}).json()["total_count"] == 1
    assert front_desk_api.get("visits", {"room_code": "annex"}).json()["total_count"] == 1
    assert front_desk_api.get("visits", {"start_time": 4_000_000_000}).json()["total_count"] == 0
    assert front_desk_api.get("visits", {"status": "closed"}).status_code == 400


def test_visit_detail_and_cross_account_404(member_api, admin_api, intake):
    visit = _walkin(member_api, intake)
    assert member_api.get(f"visits/{visit['id']}").json()["data"]["id"] == visit["id"]
    foreign = VisitFactory(account=AccountFactory(code="other"))
    assert admin_api.get(f"visits/{foreign.pk}").status_code == 404
    assert admin_api.post("visits/close", {"id": foreign.pk, "reason": "call_ended"}).status_code == 404
    assert admin_api.post("visits/delete", {"id": foreign.pk}).status_code == 404
    assert Visit.objects.get(pk=foreign.pk).status == VisitStatus.WAITING
    assert member_api.get("visits/not-a-number").status_code == 404


def test_current_visit(member_api, provider_api, intake):
    assert member_api.get("visits/current").json() == {"data": None}
    visit = _walkin(member_api, intake)
    provider_api.post("visits/accept", {"id": visit["id"]})
    assert member_api.get("visits/current").json()["data"]["id"] == visit["id"]
    assert provider_api.get("visits/current").json()["data"]["id"] == visit["id"]


# --- appointments (version=2 updates) --------------------------------------------------------------------


@pytest.fixture
def appointment(account, room, member, provider):
    from django.utils import timezone

    tomorrow = timezone.now() + dt.timedelta(days=1)
    start = tomorrow.replace(minute=0, second=0, microsecond=0)  # on the room's 15-minute grid
    return VisitFactory(
        account=account,
        room=room,
        member=member,
        provider=provider,
        type=VisitType.SCHEDULED,
        start=start,
        end=start + dt.timedelta(minutes=15),
    )


def test_provider_id_0_removes_the_provider_and_a_new_one_adds_it(
    front_desk_api, appointment, other_provider, room
):
    from tests.scheduling.factories import work

    work(other_provider, room, days=range(7), start=dt.time(0), end=dt.time(0))  # free around the clock
    removed = front_desk_api.post(f"visits/{appointment.pk}?version=2", {"provider_id": 0}).json()["data"]
    assert removed["provider"] is None
    added = front_desk_api.post(f"visits/{appointment.pk}?version=2", {"provider_id": other_provider.user_id})
    assert added.json()["data"]["provider"]["id"] == other_provider.user_id


def test_update_refuses_an_end_before_the_start(front_desk_api, appointment):
    start = int(appointment.start.timestamp())
    response = front_desk_api.post(f"visits/{appointment.pk}?version=2", {"start": start, "end": start - 60})
    assert response.status_code == 400
    assert "end" in response.json()["errors"]


def test_only_appointments_are_updated(member_api, front_desk_api, intake):
    visit = _walkin(member_api, intake)
    assert front_desk_api.post(f"visits/{visit['id']}?version=2", {"provider_id": 0}).status_code == 409


def test_starting_an_appointment_queues_for_its_provider(
    member_api, provider_api, other_provider, intake, appointment
):
    response = member_api.post(
        "visits/add_walkin",
        {"intake_id": str(intake.pk), "room_code": intake.room.code, "appointment_id": appointment.pk},
    )
    session = response.json()["data"]
    assert session["appointment_id"] == str(appointment.pk)
    assert session["provider"]["id"] == appointment.provider.user_id
    assert client_for(other_provider.user).post("visits/accept", {"id": session["id"]}).status_code == 409
    provider_api.post("visits/accept", {"id": session["id"]})
    assert Visit.objects.get(pk=appointment.pk).status == VisitStatus.IN_PROGRESS
    provider_api.post("visits/complete", {"id": session["id"]})
    assert Visit.objects.get(pk=appointment.pk).status == VisitStatus.COMPLETED
