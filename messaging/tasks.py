"""Celery tasks of messaging: deliveries on the `messages` queue (mostly waiting on a mail server), the
sweeper and the links' clean-up on `periodic` (CELERY_TASK_ROUTES)."""

from celery import shared_task
from django.db import DatabaseError

from messaging.links import links_sweep
from messaging.services import messages_deliver, messages_sweep


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
    # 50 messages on one SMTP connection; past this the claim's lease lapses and the sweeper takes over.
    soft_time_limit=120,
    time_limit=150,
)
def deliver(message_ids: list[int]) -> int:
    """Send these messages (those still due and not taken by another delivery)."""
    return messages_deliver(message_ids=message_ids)


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=25)
def sweep() -> int:
    """Beat, every minute: enqueue the messages that are due and not on their way."""
    return messages_sweep()


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def links_cleanup() -> int:
    """Beat, daily: remove links that expired a month ago."""
    return links_sweep()
