import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from clinic.celery import app


@pytest.fixture
def worker():
    """A real Celery worker (solo pool) on the Redis broker that CELERY_BROKER_URL names."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("Set CELERY_BROKER_URL to a Redis database to run the worker test.")
    # Messages left on this test broker by earlier tests (their visits are gone) would only delay ours.
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
        yield running
