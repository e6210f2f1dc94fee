"""The visits' and users' events reach a real receiver, each carrying the object as the API shows it."""

import datetime as dt
import json

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from scheduling.services import appointment_cancel
from tests.clinic.factories import clinic_admin_user
from tests.visits.factories import IntakeFactory, VisitFactory
from visits import services as visit_services
from visits.models import VisitType
from webhooks.event_types import EventType
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def intake(member, room):
    return IntakeFactory(account=room.account, room=room, member=member)


@pytest.fixture
def listening(make_endpoint, receiver):
    return make_endpoint(receiver.url(), events=EventType.values)


def bodies(receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.requests]


def walkin(api, intake) -> dict:
    answer = api.post("visits/add_walkin", {"intake_id": str(intake.pk), "room_code": intake.room.code})
    assert answer.status_code == 201, answer.content
    return answer.json()["data"]


def test_a_walkin_from_queue_to_completed_notes(
    member_api, provider_api, intake, listening, receiver, committed
):
    with committed():
        created = walkin(member_api, intake)
    with committed():
        accepted = provider_api.post("visits/accept", {"id": created["id"]}).json()["data"]
    with committed():
        completed = provider_api.post("visits/complete", {"id": created["id"], "notes": "<p>Rest</p>"})
    got = bodies(receiver)
    assert [b["type"] for b in got] == [
        "visit.created",
        "visit.updated",
        "visit.ended",
        "visit.note.signed_and_sent",
    ]
    # The data is the visit object of the API, as it was at each step.
    assert got[0]["data"] == created
    assert got[1]["data"] == accepted
    assert got[2]["data"] == got[3]["data"] == completed.json()["data"]
    assert got[3]["data"]["notes"] == "<p>Rest</p>"


def test_completing_without_notes_signs_nothing(
    member_api, provider_api, intake, listening, receiver, committed
):
    with committed():
        visit_id = walkin(member_api, intake)["id"]
        provider_api.post("visits/accept", {"id": visit_id})
        provider_api.post("visits/complete", {"id": visit_id})
    assert [b["type"] for b in bodies(receiver)] == ["visit.created", "visit.updated", "visit.ended"]


def test_closing_a_waiting_visit_ends_it(member_api, intake, listening, receiver, committed):
    with committed():
        visit_id = walkin(member_api, intake)["id"]
        member_api.post("visits/close", {"id": visit_id, "reason": "patient_exit_room"})
    ended = bodies(receiver)[-1]
    assert ended["type"] == "visit.ended"
    assert (ended["data"]["status_name"], ended["data"]["close_reason"]) == ("cancelled", "patient_exit_room")


def test_a_cancelled_appointment_ends_it(account, room, front_desk, listening, receiver, committed):
    appointment = VisitFactory(account=account, room=room, type=VisitType.SCHEDULED)
    with committed():
        appointment_cancel(
            account=account, actor=front_desk, visit_id=appointment.pk, reason="Patient called"
        )
    [ended] = bodies(receiver)
    assert (ended["type"], ended["data"]["id"]) == ("visit.ended", str(appointment.pk))


def test_the_overdue_closer_records_one_event_per_visit_in_batches(
    account, room, listening, receiver, committed
):
    start = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)

    def close_overdue(count: int) -> int:
        with time_machine.travel(start, tick=False):
            visits = [VisitFactory(account=account, room=room) for _ in range(count)]
        receiver.requests.clear()
        with CaptureQueriesContext(connection) as queries, committed():
            with time_machine.travel(start + dt.timedelta(hours=2), tick=False):
                assert visit_services.visits_close_overdue() == count
            recording = len(queries)  # before the deliveries' own queries, which run after the commit
        assert sorted(b["data"]["id"] for b in bodies(receiver)) == sorted(str(v.pk) for v in visits)
        assert {b["type"] for b in bodies(receiver)} == {"visit.ended"}
        return recording

    assert close_overdue(3) == close_overdue(9)  # the outbox is written set-based too


def test_nothing_is_written_when_no_endpoint_listens(member_api, intake, receiver, committed, make_endpoint):
    make_endpoint(receiver.url(), events=["user.created"])
    with committed():
        walkin(member_api, intake)
    assert not Delivery.objects.exists()
    assert receiver.requests == []


def test_another_clinics_endpoint_hears_nothing_of_this_clinics_visits(
    member_api, intake, other_account, make_endpoint, receiver, committed
):
    make_endpoint(receiver.url("/theirs"), of=other_account, by=clinic_admin_user(other_account))
    with committed():
        walkin(member_api, intake)
    assert receiver.requests == []


def test_a_visit_change_that_rolls_back_sends_nothing(
    account, member, intake, listening, receiver, committed
):
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        visit_services.visit_add_walkin(
            account=account, actor=member.user, intake_id=intake.pk, room_code=intake.room.code
        )
        raise RuntimeError("something after it failed")
    assert receiver.requests == []
    assert not Delivery.objects.exists()


def test_sso_creating_a_user_sends_user_created_once(key_api, listening, receiver, committed):
    sso = {"first_name": "Ada", "last_name": "Byron", "code": "ext-77", "type": 400}
    with committed():
        answer = key_api.post("users/sso", sso).json()["data"]
    with committed():
        key_api.post("users/sso", {**sso, "first_name": "Augusta"})  # an update, not a new user
    [created] = bodies(receiver)
    assert created["type"] == "user.created"
    answer.pop("token")
    assert created["data"] == answer
    assert created["data"]["type"] == 400
