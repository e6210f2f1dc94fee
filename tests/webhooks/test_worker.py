"""A real Celery worker consuming the webhooks queue delivers what a committed change recorded."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import transaction

from clinic.celery import app
from webhooks.models import Delivery
from webhooks.services import webhook_event_record

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def webhooks_worker(webhook_settings):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("Set CELERY_BROKER_URL to a Redis database to run the worker test.")
    app.conf.task_always_eager = False
    app.control.purge()
    with start_worker(app, pool="solo", queues=["webhooks"], perform_ping_check=False, shutdown_timeout=10):
        yield


def test_the_worker_on_the_webhooks_queue_delivers_after_commit(
    account, make_endpoint, receiver, webhooks_worker
):
    make_endpoint(receiver.url())
    with transaction.atomic():
        webhook_event_record(
            account=account, event_type="visit.created", data={"id": "3"}, ordering_key="visit:3"
        )
    deadline = time.monotonic() + 20
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(receiver.requests) == 1
    while Delivery.objects.get().status != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Delivery.objects.get().status == "delivered"
