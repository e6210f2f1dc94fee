"""20 bookings of one slot at the same moment, each thread on its own PostgreSQL connection."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from clinic.services import api_token_issue
from scheduling import services
from tests.clinic.factories import ConsultationFactory, MemberFactory
from tests.conftest import V3Client
from tests.scheduling.factories import EVERY_DAY, work
from visits.models import Visit, VisitGroup, VisitStatus

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the race is decided by PostgreSQL"),
]

N = 20


def _race(calls) -> list[int]:
    barrier = threading.Barrier(len(calls))
    codes: list[int] = [0] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            codes[i] = call().status_code
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return codes


@pytest.fixture
def slot(provider, room, consultation):
    work(provider, room, days=EVERY_DAY, start=dt.time(0), end=dt.time(0))
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    return int(start.timestamp())


def _posts(user, body: dict, patients: list[str]):
    """One request per patient, each from its own client (test clients are not shared across threads)."""
    token = api_token_issue(user=user)["token"]
    return [
        lambda code=code: V3Client(user.account.code, token).post("visits", {**body, "member_id": code})
        for code in patients
    ]


def _bookers(front_desk, account, provider, slot):
    body = {"room_code": "main", "provider_id": provider.user_id, "start": slot, "end": slot + 900}
    return _posts(front_desk, body, [MemberFactory(account=account).code for _ in range(N)])


def test_twenty_simultaneous_bookings_of_one_slot_one_wins(
    transactional_db, front_desk, account, provider, slot
):
    codes = _race(_bookers(front_desk, account, provider, slot))
    assert sorted(codes) == [201] + [409] * (N - 1)
    assert Visit.objects.filter(provider=provider, status=VisitStatus.WAITING).count() == 1


def test_without_the_lock_and_the_check_the_constraint_alone_keeps_it_to_one(
    front_desk, account, provider, slot, monkeypatch
):
    # Every request believes the slot is free and nobody queues on the provider row: only the exclusion
    # constraint stands between them, and the losers still get a 409, not a 500.
    monkeypatch.setattr(services, "providers_free_for", lambda **kw: [provider.pk])
    monkeypatch.setattr(services, "_lock_provider", lambda provider: None)
    codes = _race(_bookers(front_desk, account, provider, slot))
    assert sorted(codes) == [201] + [409] * (N - 1)
    assert Visit.objects.filter(provider=provider, status=VisitStatus.WAITING).count() == 1


def test_twenty_patients_race_for_three_group_seats(front_desk, account, room, provider, slot):
    group = VisitGroup.objects.create(
        account=account,
        room=room,
        consultation=ConsultationFactory(room=room, capacity=3, duration=3600),
        provider=provider,
        start=dt.datetime.fromtimestamp(slot, dt.UTC),
        end=dt.datetime.fromtimestamp(slot + 3600, dt.UTC),
        capacity=3,
    )
    body = {"room_code": "main", "visit_group_id": str(group.pk), "start": slot, "end": slot + 3600}
    codes = _race(_posts(front_desk, body, [MemberFactory(account=account).code for _ in range(N)]))
    assert sorted(codes) == [201] * 3 + [409] * (N - 3)
    assert group.visits.filter(status=VisitStatus.WAITING).count() == 3
