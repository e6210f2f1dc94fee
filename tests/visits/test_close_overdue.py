"""Max waiting time: the system closes queue visits that waited too long, set-based and race-safe."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection, connections, transaction

from clinic.errors import Conflict
from tests.clinic.factories import RoomFactory
from tests.visits.factories import VisitFactory
from visits import services
from visits.models import Visit, VisitEvent, VisitStatus, VisitType

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)  # Los Angeles leaves DST at 09:00 UTC that day


def joined(room, at, **kwargs):
    with time_machine.travel(at, tick=False):
        return VisitFactory(account=room.account, room=room, **kwargs)


def closed_by_system(visit) -> bool:
    visit.refresh_from_db()
    return (visit.status, visit.close_reason, visit.closed_by_id) == (
        VisitStatus.CANCELLED,
        "max_waiting_time_reached",
        None,
    )


@pytest.mark.django_db
def test_closes_exactly_the_queue_visits_waiting_past_their_rooms_limit(account, room, provider):
    room.max_waiting_time = 30 * 60
    room.save()
    unlimited = RoomFactory(account=account, max_waiting_time=None)
    quick = RoomFactory(account=account, max_waiting_time=5 * 60)
    overdue_walkin = joined(room, T0)
    overdue_econsult = joined(room, T0, type=VisitType.ECONSULT)
    just_in_time = joined(room, T0 + dt.timedelta(minutes=1))
    in_quick_room = joined(quick, T0 + dt.timedelta(minutes=20))
    no_limit = joined(unlimited, T0)
    appointment = joined(room, T0, type=VisitType.SCHEDULED)
    taken = joined(room, T0)
    services.visit_accept(account=account, actor=provider.user, visit_id=taken.pk)

    # 30 min 30 s after T0, across the DST change: elapsed time counts, not wall-clock time.
    with time_machine.travel(T0 + dt.timedelta(minutes=30, seconds=30), tick=False):
        assert services.visits_close_overdue() == 3

    assert closed_by_system(overdue_walkin) and closed_by_system(overdue_econsult)
    assert closed_by_system(in_quick_room)
    for still in (just_in_time, no_limit, appointment):
        still.refresh_from_db()
        assert still.status == VisitStatus.WAITING
    taken.refresh_from_db()
    assert taken.status == VisitStatus.IN_PROGRESS
    events = VisitEvent.objects.filter(reason="max_waiting_time_reached")
    assert sorted(e.visit_id for e in events) == sorted(
        [overdue_walkin.pk, overdue_econsult.pk, in_quick_room.pk]
    )
    assert all(
        (e.from_status, e.to_status, e.actor_id) == (VisitStatus.WAITING, VisitStatus.CANCELLED, None)
        for e in events
    )


@pytest.mark.django_db
def test_running_twice_changes_nothing_the_second_time(room):
    visit = joined(room, T0)
    later = T0 + dt.timedelta(seconds=room.max_waiting_time + 1)
    with time_machine.travel(later, tick=False):
        assert services.visits_close_overdue() == 1
        assert services.visits_close_overdue() == 0
    assert VisitEvent.objects.filter(visit=visit).count() == 1


@pytest.mark.django_db
def test_batches_close_everything_with_one_update_per_batch(room, django_assert_num_queries):
    visits = [joined(room, T0) for _ in range(25)]
    # The limits, then per batch (10, 10, 5 closed): savepoint, update, audit insert, summary insert, event
    # insert, the rooms to push, the account's webhook listeners, release; and the empty batch that ends it:
    # savepoint, update, release. One write per visit would take 75 or more.
    with (
        time_machine.travel(T0 + dt.timedelta(hours=2), tick=False),
        django_assert_num_queries(1 + 3 * 8 + 3),
    ):
        assert services.visits_close_overdue(batch_size=10) == 25
    assert all(closed_by_system(v) for v in visits)
    assert VisitEvent.objects.filter(reason="max_waiting_time_reached").count() == 25


@pytest.mark.django_db
def test_the_closed_patient_cannot_be_accepted_afterwards(account, room, provider):
    visit = joined(room, T0, type=VisitType.ECONSULT)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        services.visits_close_overdue()
    with pytest.raises(Conflict, match="no longer waiting: maximum waiting time reached"):
        services.visit_accept(account=account, actor=provider.user, visit_id=visit.pk)


def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("Row locks (SKIP LOCKED) are what this tests; CI runs it on PostgreSQL.")


@pytest.mark.django_db(transaction=True)
def test_an_accept_holding_the_row_wins_and_the_closure_skips_it(account, room, provider):
    _postgres_only()
    visit = joined(room, T0)
    other = joined(room, T0)
    accepted, go_on = threading.Event(), threading.Event()

    def accept_slowly():
        try:
            with transaction.atomic():
                services.visit_accept(account=account, actor=provider.user, visit_id=visit.pk)
                accepted.set()
                go_on.wait(10)  # the accept's row lock is held, uncommitted, while the closure runs
        finally:
            connections.close_all()

    thread = threading.Thread(target=accept_slowly)
    thread.start()
    assert accepted.wait(10)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        assert services.visits_close_overdue() == 1  # the other one only
    go_on.set()
    thread.join(10)

    visit.refresh_from_db()
    assert (visit.status, visit.provider) == (VisitStatus.IN_PROGRESS, provider)
    assert not VisitEvent.objects.filter(visit=visit, to_status=VisitStatus.CANCELLED).exists()
    assert closed_by_system(other)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_close_each_visit_once(room):
    _postgres_only()
    visits = [joined(room, T0) for _ in range(40)]
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run():
        try:
            barrier.wait(10)
            counts.append(services.visits_close_overdue(now=T0 + dt.timedelta(hours=1), batch_size=5))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sum(counts) == 40
    assert VisitEvent.objects.filter(reason="max_waiting_time_reached").count() == 40
    assert Visit.objects.filter(pk__in=[v.pk for v in visits], status=VisitStatus.CANCELLED).count() == 40


@pytest.mark.django_db
def test_the_beat_schedule_runs_the_task_every_30_seconds(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["visits-close-overdue"]
    assert (entry["task"], entry["schedule"]) == ("visits.tasks.close_overdue_visits", 30.0)


@pytest.mark.django_db
def test_the_task_calls_the_service(room):
    from visits.tasks import close_overdue_visits

    visit = joined(room, T0)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        assert close_overdue_visits.apply().get() == 1
    assert closed_by_system(visit)
