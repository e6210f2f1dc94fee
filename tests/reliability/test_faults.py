"""Background work survives the faults of production, run for real: Celery workers (and, for the broker
test, the API under uvicorn) are processes of their own on a Redis of the test's own (a free port, empty
when started again) and the test database, as `make run` starts them; the faults are a SIGKILL, a
PostgreSQL connection cut by a proxy (the shared server keeps running), a Redis killed.

Where the recovery is the sweep's, the test moves the pending summary's `due` to now, as the minute
(PENDING_RETRY_AFTER) would, and publishes `summaries_sweep` as beat does every minute: nobody asks
for the summary. bench/faults.py runs the same faults with the real beat under load."""

import datetime as dt
import http.client
import json
import os
import re
import signal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from clinic.celery import app
from clinic.services import api_token_issue
from tests.clinic.worker_tasks import hold
from tests.processes import (
    TcpProxy,
    celery_worker,
    database_url,
    free_port,
    uvicorn,
    wait_for,
    worker_ready,
)
from tests.visits.summary_factories import walk_through
from visits import services
from visits.models import CloseReason, Visit, VisitStatus, VisitSummary
from visits.summaries.services import BACKGROUND_PRIORITY, RENDER_PRIORITY
from visits.tasks import close_overdue_visits, render_visit_summary, summaries_sweep

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

HOOKS = ("-I", "tests.reliability.worker_hooks")


@pytest.fixture
def env(private_redis, tmp_path, settings):
    """The environment of the test's processes: its Redis as the broker, the test database."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker processes need a database they can share with the test: PostgreSQL")
    # The work must be the workers': another test may have left the app rendering in this process.
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    yield {
        **os.environ,
        "CELERY_BROKER_URL": private_redis.url,
        "PUSH_URL": settings.PUSH_URL,
        "PUSH_CHANNEL_PREFIX": settings.PUSH_CHANNEL_PREFIX,
        "DATABASE_URL": database_url(connection.settings_dict),
        "DATABASE_POOL": "false",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_VAR_DIR": str(tmp_path),
    }
    app.conf.task_always_eager = eager


@pytest.fixture
def processes():
    """Started processes, stopped at the end whatever happened."""
    started = []
    yield started
    for process in started:
        process.stop()


def start(processes: list, *new):
    processes.extend(process.start() for process in new)
    for process in new:
        if process.name != "web":
            wait_for(lambda p=process: worker_ready(p), 60, f"{process.name} to start")
    return new[0] if len(new) == 1 else new


def publish(broker_url: str, task, *args, **options) -> None:
    """As the after-commit enqueue or beat would: `send_task` publishes even where another test left the
    app eager, and routes by the task's name (CELERY_TASK_ROUTES)."""
    with Connection(broker_url) as broker:
        app.send_task(task.name, args, connection=broker, **options)


def completed_visit(member, provider, room) -> Visit:
    return walk_through(
        member=member, provider=provider, room=room, joined=timezone.now() - dt.timedelta(minutes=40)
    )


def summary(visit: Visit) -> VisitSummary:
    return VisitSummary.objects.get(visit=visit)


def ready(visit: Visit) -> VisitSummary | None:
    found = summary(visit)
    return found if found.status == VisitSummary.Status.READY else None


def stored_pdfs(env: dict) -> list[str]:
    media = settings.BASE_DIR / env["MEDIA_ROOT"]
    return sorted(str(p.relative_to(media)) for p in media.rglob("*.pdf"))


def sweep_now(env: dict, *visits: Visit) -> None:
    """A minute later: the pending rows are past `due`, and beat publishes the sweep."""
    VisitSummary.objects.filter(visit__in=visits).update(due=timezone.now())
    publish(env["CELERY_BROKER_URL"], summaries_sweep)


def succeeded(worker, task) -> int:
    return len(re.findall(rf"{re.escape(task.name)}\[[-0-9a-f]+\] succeeded", worker.text()))


def test_a_worker_killed_mid_render_leaves_one_pdf_rendered_without_anyone_asking(
    env, processes, member, provider, room, tmp_path
):
    (tmp_path / "holds").mkdir()
    env |= {"RELIABILITY_HOLD_DIR": str(tmp_path / "holds"), "RELIABILITY_HOLD_SECONDS": "60"}
    broker = env["CELERY_BROKER_URL"]
    first, second = completed_visit(member, provider, room), completed_visit(member, provider, room)
    worker = start(processes, celery_worker("render", "render,periodic", env, tmp_path / "w1.log", 1, *HOOKS))
    held = lambda visit: (tmp_path / "holds" / f"render-{visit.pk}").exists()  # noqa: E731

    # The pool process running the render is killed: its worker rejects the message (acks late, reject
    # on worker lost) and Redis hands it to the next pool process at once.
    publish(broker, render_visit_summary, first.pk, priority=RENDER_PRIORITY)
    wait_for(lambda: held(first), 30, "the first render to start")
    (child,) = worker.children()
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: ready(first), 30, "the redelivered render")
    assert "WorkerLostError" in worker.text()

    # The whole worker is killed (the machine is gone): its message waits in Redis's unacknowledged set
    # for the visibility timeout (20 minutes). The worker is started again (supervisord's job); the
    # sweep finds the summary still pending past its time and enqueues it.
    publish(broker, render_visit_summary, second.pk, priority=RENDER_PRIORITY)
    wait_for(lambda: held(second), 30, "the second render to start")
    worker.kill()
    assert summary(second).status == VisitSummary.Status.PENDING
    worker = start(processes, celery_worker("render", "render,periodic", env, tmp_path / "w2.log", 1, *HOOKS))
    sweep_now(env, second)
    wait_for(lambda: ready(second), 30, "the sweep's render")
    done = {visit.pk: (summary(visit).file.name, summary(visit).rendered) for visit in (first, second)}

    # The lost message, redelivered late, and the next sweeps find the work done: nothing is rendered again.
    publish(broker, render_visit_summary, second.pk, priority=RENDER_PRIORITY)
    publish(broker, render_visit_summary, first.pk, priority=RENDER_PRIORITY)
    sweep_now(env, first, second)
    wait_for(lambda: succeeded(worker, render_visit_summary) == 3, 30, "the repeated renders to be done")
    wait_for(lambda: succeeded(worker, summaries_sweep) == 2, 30, "the sweeps to be done")
    now = {visit.pk: (summary(visit).file.name, summary(visit).rendered) for visit in (first, second)}
    assert now == done
    assert stored_pdfs(env) == sorted(name for name, _ in done.values())


def test_the_sweep_renders_what_a_database_outage_longer_than_the_retries_left_pending(
    env, processes, member, provider, room, tmp_path
):
    visit = completed_visit(member, provider, room)
    db = connection.settings_dict
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    env |= {
        "DATABASE_URL": database_url(db, host="127.0.0.1", port=proxy.port),
        "RELIABILITY_RENDER_MAX_RETRIES": "2",
    }
    worker = start(processes, celery_worker("render", "render,periodic", env, tmp_path / "w.log", 1, *HOOKS))
    try:
        proxy.cut()
        publish(env["CELERY_BROKER_URL"], render_visit_summary, visit.pk, priority=RENDER_PRIORITY)
        # Tried, retried twice, given up: the render task is over while the database is still down.
        wait_for(lambda: "raised unexpected: OperationalError" in worker.text(), 60, "the retries to end")
        assert worker.text().count("render_visit_summary[") >= 3 and worker.running()
        proxy.restore()
        assert summary(visit).status == VisitSummary.Status.PENDING  # the record of the work outlived it

        sweep_now(env, visit)
        wait_for(lambda: ready(visit), 30, "the sweep's render once the database is back")
        assert stored_pdfs(env) == [summary(visit).file.name]
    finally:
        proxy.cut()


def test_a_visit_completes_while_the_broker_is_down_and_its_summary_follows(
    env, processes, private_redis, member, provider, room, tmp_path
):
    visit = walk_through(member=member, provider=provider, room=room, joined=timezone.now(), wait=None)
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    token = api_token_issue(user=provider.user)["token"]
    port = free_port()
    web, worker = start(
        processes,
        uvicorn("web", port, env, tmp_path / "web.log"),
        celery_worker("render", "render,periodic", env, tmp_path / "w.log"),
    )

    def request(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json", "X-AccountCode": room.account.code}
        headers["X-ApiToken"] = token
        try:
            client.request(method, path, json.dumps(body) if body else None, headers)
            response = client.getresponse()
            return response.status, json.loads(response.read())
        except OSError:
            return 0, {}
        finally:
            client.close()

    wait_for(lambda: request("GET", "/healthz")[0] == 200, 60, "the web server to answer")
    private_redis.kill()
    status, body = request("POST", "/api/v3/visits/complete", {"id": str(visit.pk)})
    assert status == 200, body
    assert Visit.objects.get(pk=visit.pk).status == VisitStatus.COMPLETED
    assert summary(visit).status == VisitSummary.Status.PENDING  # its task could not be sent
    assert "Could not enqueue visits.tasks.render_visit_summary" in web.text()

    private_redis.start()  # empty
    wait_for(lambda: worker.text().count("Connected to redis://") == 2, 60, "the worker to reconnect")
    sweep_now(env, visit)
    wait_for(lambda: ready(visit), 30, "the summary once the broker is back")
    assert stored_pdfs(env) == [summary(visit).file.name]


def test_overdue_visits_close_on_time_while_the_render_queue_holds_a_backlog(
    env, processes, private_redis, member, room, tmp_path
):
    renders, periodic = start(
        processes,
        celery_worker("render", "render", env, tmp_path / "render.log", 1, "-I", "tests.clinic.worker_tasks"),
        celery_worker("periodic", "periodic", env, tmp_path / "periodic.log"),
    )
    # A minute of renders ahead: background summaries of a morning's closed walk-ins, say.
    for _ in range(12):
        publish(env["CELERY_BROKER_URL"], hold, 5, queue="render", priority=BACKGROUND_PRIORITY)
    room.max_waiting_time = 3
    room.save()
    walk_in = dict(member=member, provider=None, room=room, joined=timezone.now(), wait=None)
    waiting = [walk_through(**walk_in) for _ in range(3)]
    limit = max(visit.created for visit in waiting) + dt.timedelta(seconds=room.max_waiting_time)
    wait_for(lambda: timezone.now() > limit, 10, "the visits to be overdue")
    beat_options = settings.CELERY_BEAT_SCHEDULE["visits-close-overdue"].get("options", {})
    publish(env["CELERY_BROKER_URL"], close_overdue_visits, **beat_options)

    closed = Visit.objects.filter(
        pk__in=[v.pk for v in waiting],
        status=VisitStatus.CANCELLED,
        close_reason=CloseReason.MAX_WAITING_TIME_REACHED,
    ).count
    wait_for(lambda: closed() == 3, 10, "the overdue visits to close")
    assert succeeded(renders, hold) <= 2  # the backlog is still there: closing did not wait for it
    assert succeeded(periodic, close_overdue_visits) == 1
