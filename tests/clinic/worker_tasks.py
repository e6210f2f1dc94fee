"""A task for the broker-outage test's worker (loaded with -I): it holds the worker's only process
long enough to be running, unacknowledged, while Redis is down."""

import time

from celery import shared_task


@shared_task(acks_late=True)
def hold(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
