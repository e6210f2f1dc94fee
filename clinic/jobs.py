"""The one way background work is enqueued: by the task's dotted path, after the transaction commits."""

import logging

from django.db import transaction
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


def enqueue_on_commit(task_path: str, *args, **options) -> None:
    """Send the task at `task_path` once the current transaction commits (at once outside one).

    The task is looked up by name only then, so services never import their app's tasks module (tasks
    import services: the arrows run one way). A broker that is down is logged, not raised: the change
    has committed, and what it left behind (a pending summary, an export) is what gets enqueued again."""

    def send() -> None:
        try:
            import_string(task_path).apply_async(args=args, **options)
        except Exception:
            log.exception("Could not enqueue %s%r", task_path, args)

    transaction.on_commit(send)
