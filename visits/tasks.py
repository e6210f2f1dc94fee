"""Celery tasks of visits: thin, idempotent, each calling one service."""

from celery import shared_task
from django.db import DatabaseError

from visits import attachments


@shared_task(
    autoretry_for=(DatabaseError, OSError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=300,
    time_limit=360,
)
def attachments_cleanup() -> int:
    """Beat, hourly: remove files whose intake is gone or that were never attached within a day."""
    return attachments.attachments_cleanup()
