"""The closure task through a real Celery worker on the Redis broker (CELERY_BROKER_URL)."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from tests.visits.factories import VisitFactory
from visits.models import Visit, VisitEvent, VisitStatus
from visits.tasks import close_overdue_visits

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_worker_closes_the_overdue_walkin(room, worker):
    room.max_waiting_time = 60
    room.save()
    overdue = VisitFactory(account=room.account, room=room)
    fresh = VisitFactory(account=room.account, room=room)
    Visit.objects.filter(pk=overdue.pk).update(created=timezone.now() - dt.timedelta(minutes=5))

    close_overdue_visits.delay()

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        overdue.refresh_from_db()
        if overdue.status != VisitStatus.WAITING:
            break
        time.sleep(0.1)
    assert (overdue.status, overdue.close_reason, overdue.closed_by) == (
        VisitStatus.CANCELLED,
        "max_waiting_time_reached",
        None,
    )
    assert VisitEvent.objects.filter(visit=overdue, reason="max_waiting_time_reached").count() == 1
    fresh.refresh_from_db()
    assert fresh.status == VisitStatus.WAITING
