"""A patient app that sends add_walkin several times at once still puts the patient in the queue once."""

import threading

import pytest
from django.db import connection, connections

from clinic.services import api_token_issue
from tests.conftest import V3Client
from tests.visits.factories import IntakeFactory
from visits.models import Visit

REQUESTS = 6


@pytest.mark.django_db(transaction=True)
def test_simultaneous_add_walkin_of_one_intake_queue_the_patient_once(account, room, member):
    if connection.vendor != "postgresql":
        pytest.skip("The race is only meaningful on PostgreSQL, where CI runs it.")
    intake = IntakeFactory(account=account, room=room, member=member)
    token = api_token_issue(user=member.user)["token"]
    barrier = threading.Barrier(REQUESTS)
    answers: list[tuple[int, str]] = []

    def join() -> None:
        try:
            api = V3Client(account.code, token)
            barrier.wait()
            response = api.post("visits/add_walkin", {"intake_id": str(intake.pk), "room_code": room.code})
            answers.append((response.status_code, response.json()["data"]["id"]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=join) for _ in range(REQUESTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert Visit.objects.filter(intake=intake).count() == 1
    assert {code for code, _ in answers} == {201}
    assert len({visit_id for _, visit_id in answers}) == 1
