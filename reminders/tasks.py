"""Celery tasks of reminders: telling a patient of a change (queue default), and the beat's sweep of due
reminders (queue periodic)."""

from celery import shared_task
from django.db import DatabaseError

from reminders.services import appointment_sync, appointments_catch_up, reminders_sweep


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=30,
    time_limit=40,
)
def sync(visit_id: int) -> str:
    """An appointment changed: tell the patient what differs from what they were told, plan reminders."""
    return appointment_sync(visit_id=visit_id)


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=55)
def sweep() -> int:
    """Beat, every minute: write the reminders that are due (messaging delivers them)."""
    return reminders_sweep()


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def catch_up() -> int:
    """Beat, every 5 minutes: tell patients of the appointment changes whose task was lost."""
    return appointments_catch_up()
