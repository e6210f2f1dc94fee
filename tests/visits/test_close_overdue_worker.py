"""The closure task through a real Celery worker on the Redis broker (CELERY_BROKER_URL)."""

import datetime as dt
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from clinic.celery import app
from tests.visits.factories import VisitFactory
from visits.models import Visit, VisitEvent, VisitStatus
from visits.tasks import close_overdue_visits

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("Set CELERY_BROKER_URL to a Redis database to run the worker test.")
    # Messages left on this test broker by earlier tests (their visits are gone) would only delay ours.
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
        yield running


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
