"""The clinic board: the front desk and admins see every room's patients live, triage and send back."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.clinic.factories import MemberFactory, RoomFactory
from tests.visits.factories import IntakeFactory, VisitFactory
from visits import services
from visits.models import Priority, Visit, VisitStatus

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
BOARD = reverse("visits:board")


def _waiting(room, name, minutes_ago=0, **fields):
    member = MemberFactory(account=room.account, first_name=name, last_name="Board")
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=minutes_ago), tick=False):
        return VisitFactory(
            account=room.account,
            room=room,
            member=member,
            intake=IntakeFactory(
                account=room.account, room=room, member=member, reason_for_visit=f"{name}'s reason"
            ),
            **fields,
        )


@pytest.fixture
def desk(client, front_desk):
    client.force_login(front_desk)
    return client


def test_the_board_shows_every_rooms_patients_urgent_first_and_who_is_with_whom(
    desk, account, room, provider
):
    annex = RoomFactory(account=account, code="annex", name="Annex")
    _waiting(room, "Olga", minutes_ago=30)
    _waiting(room, "Uri", minutes_ago=1, priority=Priority.URGENT)
    taken = _waiting(annex, "Tara", minutes_ago=5)
    provider.rooms.add(annex)
    services.visit_accept(account=account, actor=provider.user, visit_id=taken.pk)
    Visit.objects.filter(pk=taken.pk).update(notes="<p>Secret clinical note</p>")

    html = desk.get(BOARD).content.decode()
    assert html.index("Uri Board") < html.index("Olga Board")  # urgent first, then the longest waiting
    assert "Annex" in html and "Tara Board" in html
    assert f"In progress</span> with {provider.display_name}" in html
    assert "Secret clinical note" not in html
    # Live: reloaded on the event stream's changes, polled every 5 s while it is not open.
    assert 'hx-trigger="sse:queue, sse:in-progress, sse:refresh, poll"' in html
    assert 'data-poll-seconds="5"' in html


def test_providers_and_patients_cannot_open_the_board(client, provider):
    client.force_login(provider.user)
    assert client.get(BOARD).status_code == 403


def test_the_front_desk_marks_a_patient_urgent_and_sends_one_back(desk, account, room, provider):
    visit = _waiting(room, "Ana")
    response = desk.post(reverse("visits:board-priority", args=[visit.pk]), {"priority": "1"}, **HTMX)
    assert response.status_code == 200 and 'id="board"' in response.content.decode()
    assert Visit.objects.get(pk=visit.pk).priority == Priority.URGENT

    services.visit_accept(account=account, actor=provider.user, visit_id=visit.pk)
    desk.post(reverse("visits:board-requeue", args=[visit.pk]), **HTMX)
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.WAITING

    refused = desk.post(reverse("visits:board-requeue", args=[visit.pk]), **HTMX).content.decode()
    assert "Only a walk-in or e-consult in progress goes back to the queue" in refused


def test_who_left_today_without_being_seen_is_listed(desk, room):
    room.max_waiting_time = 600
    room.save()
    gone = _waiting(room, "Gil", minutes_ago=20)
    services.visits_close_overdue()
    html = desk.get(BOARD).content.decode()
    assert "Left without being seen today (1)" in html and "Gil Board" in html
    assert Visit.objects.get(pk=gone.pk).status == VisitStatus.CANCELLED


def test_the_board_costs_the_same_queries_for_3_or_30_patients(desk, room):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert desk.get(BOARD, **HTMX).status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        _waiting(room, f"P{i}")
    few = queries()
    for i in range(27):
        _waiting(room, f"Q{i}")
    assert queries() == few
