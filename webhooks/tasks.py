"""Celery tasks of webhooks, on their own queue (CELERY_TASK_ROUTES) so that a slow receiver never holds up
other work."""

from celery import shared_task
from django.db import DatabaseError

from webhooks.services import deliveries_sweep, delivery_attempt


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
    # Past the request's own timeout; a sender stopped here leaves its claim to lapse and the sweeper.
    soft_time_limit=30,
    time_limit=40,
)
def deliver(delivery_id: int) -> str:
    """One attempt at one delivery (the service decides whether it is due and its turn)."""
    return delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=25)
def sweep() -> int:
    """Beat, every 10 s: enqueue the deliveries that are due and not on the queue."""
    return deliveries_sweep()
