"""Loaded by the fault tests' Celery workers (-I), set by their environment:

- RELIABILITY_HOLD_DIR / RELIABILITY_HOLD_SECONDS: the first run of a visit's render task writes
  `render-<visit id>` in that folder and waits there, so that the test kills the worker mid-task; the
  run that follows (redelivered, or enqueued by the sweep) goes straight on;
- RELIABILITY_RENDER_MAX_RETRIES: fewer retries of the render (their backoff is 1 s, 2 s, ... with
  jitter), so that an outage outlasts them within a test's time, as a long one outlasts the real ones."""

import os
import time
from pathlib import Path

from celery.signals import task_prerun

from visits.tasks import render_visit_summary

if "RELIABILITY_RENDER_MAX_RETRIES" in os.environ:
    render_visit_summary.max_retries = int(os.environ["RELIABILITY_RENDER_MAX_RETRIES"])


@task_prerun.connect
def hold_the_first_render(task=None, args=(), **kwargs) -> None:
    folder, seconds = os.environ.get("RELIABILITY_HOLD_DIR"), os.environ.get("RELIABILITY_HOLD_SECONDS")
    if not (folder and seconds) or task.name != render_visit_summary.name:
        return
    marker = Path(folder) / f"render-{args[0]}"
    if not marker.exists():
        marker.touch()
        time.sleep(float(seconds))
