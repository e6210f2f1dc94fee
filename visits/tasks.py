"""Celery tasks of visits: thin, idempotent, each calling one service."""

from celery import shared_task
from django.db import DatabaseError

from visits import attachments
from visits.services import visits_close_overdue
from visits.summaries import exports
from visits.summaries import services as summary_services

# The beat's clean-ups: storage or the database failing for a moment is worth a retry.
CLEANUP = {
    "autoretry_for": (DatabaseError, OSError),
    "retry_backoff": True,
    "max_retries": 3,
    "soft_time_limit": 300,
    "time_limit": 360,
}


@shared_task(**CLEANUP)
def attachments_cleanup() -> int:
    """Beat, hourly: remove files whose intake is gone or that were never attached within a day."""
    return attachments.attachments_cleanup()


# Retries with exponential backoff and jitter: 1, 2, 4 ... 120 s, about five minutes in all, so a minute-long
# outage of the database or storage is outlasted. Past them the pending row is the sweep's to retry.
@shared_task(
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=60,
    time_limit=90,
)
def render_visit_summary(visit_id: int) -> str | None:
    """Render a visit's PDF summary unless the stored one is current; a failure is retried with backoff."""
    summary = summary_services.summary_render(visit_id=visit_id)
    return summary.status if summary else None


@shared_task(
    autoretry_for=(DatabaseError, OSError),
    retry_backoff=True,
    max_retries=2,
    soft_time_limit=900,
    time_limit=960,
)
def build_summary_export(export_id: str) -> str | None:
    """Zip the summaries of a bulk export, counting progress as it goes."""
    export = exports.export_build(export_id=export_id)
    return export.status if export else None


@shared_task(
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=25,
    time_limit=30,
)
def close_overdue_visits() -> int:
    """Beat, every 30 s: the system closes queue visits that waited past their room's max waiting time."""
    return visits_close_overdue()


@shared_task(**CLEANUP)
def summary_exports_cleanup() -> int:
    """Beat, daily: bulk export ZIPs are removed once they are older than SUMMARY_EXPORT_TTL."""
    return exports.exports_cleanup()


@shared_task(**CLEANUP)
def summaries_sweep() -> int:
    """Beat, every minute: enqueue the pending summaries whose task was lost, and the background ones."""
    return summary_services.summaries_sweep()
