"""Every change to a room's queue and to its visits in progress is pushed from the lifecycle's one announce
point, after commit; other changes are not. (The browser tests show the pages acting on them.)"""

import datetime as dt

import pytest
from django.utils import timezone

from push.events import EventKind
from tests.clinic.factories import AccountFactory, RoomFactory
from tests.visits.factories import IntakeFactory, VisitFactory
from visits import lifecycle, services
from visits.models import Priority, Visit, VisitStatus, VisitType

pytestmark = pytest.mark.django_db

QUEUE, IN_PROGRESS = EventKind.QUEUE, EventKind.IN_PROGRESS


def join(member, room, *, type=VisitType.WALKIN):
    intake = IntakeFactory(account=room.account, room=room, member=member)
    add = services.visit_add_walkin if type == VisitType.WALKIN else services.visit_add_econsult
    return add(account=room.account, actor=member.user, intake_id=intake.pk, room_code=room.code)


@pytest.mark.parametrize("type", [VisitType.WALKIN, VisitType.ECONSULT])
def test_a_patient_joining_pushes_their_rooms_queue(pushes, member, room, type):
    assert pushes(lambda: join(member, room, type=type)) == [(QUEUE, room.account_id, {room.pk})]


def test_accepting_and_completing_push_what_they_change(pushes, provider, member, room):
    visit = join(member, room)

    def accept():
        services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)

    def complete():
        services.visit_complete(account=room.account, actor=provider.user, visit_id=visit.pk)

    assert sorted(pushes(accept)) == [
        (IN_PROGRESS, room.account_id, {room.pk}),
        (QUEUE, room.account_id, {room.pk}),
    ]
    assert pushes(complete) == [(IN_PROGRESS, room.account_id, {room.pk})]


def test_a_patient_hanging_up_on_a_provider_pushes_the_visits_in_progress(pushes, provider, member, room):
    """What the provider's dashboard hears to show "Patient left: finish your notes" at once."""
    visit = join(member, room)
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)

    def hang_up():
        services.visit_close(
            account=room.account, actor=member.user, visit_id=visit.pk, reason="patient_end_call"
        )

    assert pushes(hang_up) == [(IN_PROGRESS, room.account_id, {room.pk})]


def test_a_patient_leaving_the_queue_pushes_it(pushes, member, room):
    visit = join(member, room)

    def leave():
        services.visit_close(
            account=room.account, actor=member.user, visit_id=visit.pk, reason="patient_exit_room"
        )

    assert pushes(leave) == [(QUEUE, room.account_id, {room.pk})]
    assert pushes(leave) == []  # already closed: nothing changed


def test_the_overdue_closer_pushes_once_per_clinic_naming_its_rooms(pushes, room):
    annex = RoomFactory(account=room.account, code="annex", max_waiting_time=600)
    elsewhere = RoomFactory(account=AccountFactory(code="rival"), max_waiting_time=600)
    calm = RoomFactory(account=room.account, code="calm", max_waiting_time=600)
    overdue = [VisitFactory(account=r.account, room=r) for r in (room, room, annex, elsewhere)]
    VisitFactory(account=calm.account, room=calm)  # still within its limit
    Visit.objects.filter(pk__in=[v.pk for v in overdue]).update(
        created=timezone.now() - dt.timedelta(hours=1)
    )

    published = pushes(services.visits_close_overdue)

    assert sorted(published) == sorted(
        [(QUEUE, room.account_id, {room.pk, annex.pk}), (QUEUE, elsewhere.account_id, {elsewhere.pk})]
    )
    assert Visit.objects.filter(status=VisitStatus.CANCELLED).count() == 4


def test_triage_and_sending_back_push_the_lists_they_change(pushes, front_desk, provider, member, room):
    visit = join(member, room)

    def mark(priority):
        return lambda: services.visit_priority_set(
            account=room.account, actor=front_desk, visit_id=visit.pk, priority=priority
        )

    def accept():
        services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)

    def send_back():
        services.visit_requeue(account=room.account, actor=front_desk, visit_id=visit.pk)

    both = [(IN_PROGRESS, room.account_id, {room.pk}), (QUEUE, room.account_id, {room.pk})]
    assert pushes(mark(Priority.URGENT)) == [(QUEUE, room.account_id, {room.pk})]
    assert pushes(mark(Priority.URGENT)) == []  # already urgent: nothing changed
    assert sorted(pushes(accept)) == both
    assert pushes(mark(Priority.NORMAL)) == [(IN_PROGRESS, room.account_id, {room.pk})]
    assert sorted(pushes(send_back)) == both


def test_an_appointment_is_in_no_live_list_and_pushes_nothing(pushes, member, room):
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

    assert pushes(book) == []
