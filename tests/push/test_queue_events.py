"""Every change to a queue is pushed from the lifecycle's one announce point, after commit; other changes
are not. (The browser tests show the pages acting on them.)"""

import datetime as dt

import pytest
from django.utils import timezone

from tests.clinic.factories import AccountFactory, RoomFactory
from tests.visits.factories import IntakeFactory, VisitFactory
from visits import lifecycle, services
from visits.models import Visit, VisitStatus, VisitType

pytestmark = pytest.mark.django_db


def join(member, room, *, type=VisitType.WALKIN):
    intake = IntakeFactory(account=room.account, room=room, member=member)
    add = services.visit_add_walkin if type == VisitType.WALKIN else services.visit_add_econsult
    return add(account=room.account, actor=member.user, intake_id=intake.pk, room_code=room.code)


@pytest.mark.parametrize("type", [VisitType.WALKIN, VisitType.ECONSULT])
def test_a_patient_joining_pushes_their_rooms_queue(queue_pushes, member, room, type):
    assert queue_pushes(lambda: join(member, room, type=type)) == [(room.account_id, {room.pk})]


def test_accepting_pushes_and_completing_does_not(queue_pushes, provider, member, room):
    visit = join(member, room)

    def accept():
        services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)

    def complete():
        services.visit_complete(account=room.account, actor=provider.user, visit_id=visit.pk)

    assert queue_pushes(accept) == [(room.account_id, {room.pk})]
    assert queue_pushes(complete) == []


def test_an_appointment_is_in_no_queue_and_pushes_nothing(queue_pushes, member, room):
    def book():
        now = timezone.now()
        lifecycle.visit_create(
            actor=None,
            at=now,
            account=room.account,
            room=room,
            member=member,
            type=VisitType.SCHEDULED,
            status=VisitStatus.WAITING,
            start=now + dt.timedelta(days=1),
            end=now + dt.timedelta(days=1, minutes=15),
        )

    assert queue_pushes(book) == []


def test_a_patient_leaving_the_queue_pushes_it(queue_pushes, member, room):
    visit = join(member, room)

    def leave():
        services.visit_close(
            account=room.account, actor=member.user, visit_id=visit.pk, reason="patient_exit_room"
        )

    assert queue_pushes(leave) == [(room.account_id, {room.pk})]
    assert queue_pushes(leave) == []  # already closed: nothing changed


def test_the_overdue_closer_pushes_once_per_clinic_naming_its_rooms(queue_pushes, room):
    annex = RoomFactory(account=room.account, code="annex", max_waiting_time=600)
    elsewhere = RoomFactory(account=AccountFactory(code="rival"), max_waiting_time=600)
    calm = RoomFactory(account=room.account, code="calm", max_waiting_time=600)
    overdue = [VisitFactory(account=r.account, room=r) for r in (room, room, annex, elsewhere)]
    VisitFactory(account=calm.account, room=calm)  # still within its limit
    Visit.objects.filter(pk__in=[v.pk for v in overdue]).update(
        created=timezone.now() - dt.timedelta(hours=1)
    )

    pushes = queue_pushes(services.visits_close_overdue)

    assert sorted(pushes) == sorted(
        [(room.account_id, {room.pk, annex.pk}), (elsewhere.account_id, {elsewhere.pk})]
    )
    assert Visit.objects.filter(status=VisitStatus.CANCELLED).count() == 4
