"""The summary row is the record of the work: a render whose task was lost is enqueued again by the sweep,
and visits the system closes get theirs at low priority."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from tests.visits.factories import VisitFactory
from tests.visits.summary_factories import walk_through
from visits import services, tasks
from visits.models import VisitSummary
from visits.summaries.services import BACKGROUND_PRIORITY, RENDER_PRIORITY, summaries_sweep

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def sent(monkeypatch):
    """What reached the broker: (visit id, priority) per render task."""
    calls = []
    monkeypatch.setattr(
        tasks.render_visit_summary,
        "apply_async",
        lambda args, **options: calls.append((args[0], options.get("priority"))),
    )
    return calls


def test_a_summary_whose_task_was_lost_is_enqueued_again_by_the_sweep(
    django_capture_on_commit_callbacks, monkeypatch, account, room, member, provider
):
    sent = []

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.render_visit_summary, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        visit = walk_through(member=member, provider=provider, room=room, joined=NOW)
    assert visit.status == 30  # the visit completed all the same
    summary = VisitSummary.objects.get(visit=visit)
    assert summary.status == "pending" and summary.due is not None

    monkeypatch.setattr(
        tasks.render_visit_summary, "apply_async", lambda args, **o: sent.append((args[0], o.get("priority")))
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert summaries_sweep(now=summary.due - dt.timedelta(seconds=1)) == 0  # not due yet
        assert summaries_sweep(now=summary.due) == 1
    assert sent == [(visit.pk, RENDER_PRIORITY)]
    with django_capture_on_commit_callbacks(execute=True):
        assert summaries_sweep(now=summary.due) == 0  # its due moved on: not sent twice at once


def test_visits_the_system_closes_get_a_summary_at_low_priority(
    django_capture_on_commit_callbacks, room, sent
):
    room.max_waiting_time = 600
    room.save()
    with time_machine.travel(NOW - dt.timedelta(minutes=20), tick=False):
        overdue = [VisitFactory(account=room.account, room=room) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.visits_close_overdue(now=NOW) == 3
    assert sent == []  # not one task per closed walk-in from the closer itself
    rows = VisitSummary.objects.filter(visit__in=overdue)
    assert rows.count() == 3 and all(r.background and r.status == "pending" for r in rows)
    with django_capture_on_commit_callbacks(execute=True):
        assert summaries_sweep(now=timezone.now()) == 3
    assert sorted(sent) == sorted((v.pk, BACKGROUND_PRIORITY) for v in overdue)


def test_the_sweep_runs_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["visits-summaries-sweep"]
    assert (entry["task"], entry["schedule"]) == ("visits.tasks.summaries_sweep", 60.0)
