"""Two patients accept one offered slot at the same moment, each on their own PostgreSQL connection."""

import threading

import pytest
from django.core import mail
from django.db import connection, connections

from clinic.errors import Conflict
from scheduling.models import SlotHold
from tests.waitlist.conftest import QUARTER, TEN, patient, wait
from tests.waitlist.test_offers import token_of
from visits.models import Visit, VisitStatus
from waitlist import services
from waitlist.models import Offer, WaitlistEntry

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the race is decided by PostgreSQL"),
    pytest.mark.usefixtures("clock", "hours"),
]


def _race(calls) -> list[str]:
    barrier = threading.Barrier(len(calls))
    results: list[str] = [""] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            call()
            results[i] = "booked"
        except Conflict as exc:
            results[i] = exc.message
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_patients_accepting_one_offered_slot_at_once_one_gets_it(
    account, room, consultation, provider, front_desk
):
    for name in ("Ada", "Ben"):
        wait(account, room, consultation, front_desk, patient(account, name, "Racer"))
    mail.outbox.clear()
    hold = services.offers_make(
        account_id=account.pk, room_id=room.pk, provider_id=provider.pk, consultation_id=consultation.pk,
        start=TEN, end=TEN + QUARTER,
    )  # fmt: skip
    assert hold is not None and len(mail.outbox) == 2
    tokens = [token_of(m) for m in mail.outbox]

    results = _race([lambda t=t: services.offer_accept(token=t) for t in tokens])

    assert sorted(results) == ["Sorry, another patient took this time first.", "booked"]
    assert Visit.objects.filter(start=TEN, status=VisitStatus.WAITING).count() == 1
    assert sorted(Offer.objects.values_list("status", flat=True)) == ["accepted", "taken"]
    assert WaitlistEntry.objects.filter(status=WaitlistEntry.Status.BOOKED).count() == 1
    assert SlotHold.objects.active().count() == 0


def test_without_the_hold_lock_and_the_guard_the_constraints_still_keep_it_to_one(
    account, room, consultation, provider, front_desk, monkeypatch
):
    # Both accepts believe the slot is theirs and free, and nobody queues on the hold, the provider or the
    # room: only the database's constraints stand between them, and the loser still gets words, not a 500.
    from scheduling import services as scheduling_services

    monkeypatch.setattr(scheduling_services, "_hold_take", lambda **kw: None)
    monkeypatch.setattr(scheduling_services, "_guard_slot", lambda **kw: None)
    monkeypatch.setattr(scheduling_services, "_lock_provider", lambda provider: None)
    for name in ("Ada", "Ben"):
        wait(account, room, consultation, front_desk, patient(account, name, "Racer"))
    mail.outbox.clear()
    services.offers_make(
        account_id=account.pk, room_id=room.pk, provider_id=provider.pk, consultation_id=consultation.pk,
        start=TEN, end=TEN + QUARTER,
    )  # fmt: skip
    tokens = [token_of(m) for m in mail.outbox]

    results = _race([lambda t=t: services.offer_accept(token=t) for t in tokens])

    assert sorted(results) == ["Sorry, another patient took this time first.", "booked"]
    assert Visit.objects.filter(start=TEN, status=VisitStatus.WAITING).count() == 1
