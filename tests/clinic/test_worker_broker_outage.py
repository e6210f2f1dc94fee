"""A Celery worker outlives its Redis going away, with a task running: Redis restarted empty 10 s
later on the same port, the worker reconnects by itself, finishes that task and consumes the next one.
The Redis is this test's own (a free port, no persistence), never the shared one; the worker is a real
`celery worker` process, started as make run starts it."""

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from clinic.celery import app
from tests.clinic.worker_tasks import hold
from tests.processes import database_url, wait_for
from tests.visits.factories import VisitFactory
from visits.models import Visit, VisitStatus
from visits.tasks import close_overdue_visits

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 10


def test_worker_consumes_again_after_its_redis_was_down_for_ten_seconds(private_redis, room, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share with the test: PostgreSQL")
    env = {
        **os.environ,
        "CELERY_BROKER_URL": private_redis.url,
        "DATABASE_URL": database_url(connection.settings_dict),
        "DATABASE_POOL": "false",
    }
    log = tmp_path / "worker.log"
    worker_command = [
        str(Path(sys.executable).parent / "celery"), "-A", "clinic", "worker", "-Q", "periodic",
        "--concurrency", "1", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        "-n", f"outage-{private_redis.port}@%h", "-I", "tests.clinic.worker_tasks",
    ]  # fmt: skip
    with log.open("w") as out:
        worker = subprocess.Popen(
            worker_command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    connected = lambda: log.read_text().count("Connected to redis://")  # noqa: E731

    def held(state: str) -> int:
        return len(re.findall(rf"worker_tasks\.hold\[[-0-9a-f]+\] {state}", log.read_text()))

    try:
        wait_for(lambda: " ready." in log.read_text(), 60, "the worker to start")
        with Connection(private_redis.url) as broker:
            # send_task publishes even where another test left the app eager.
            app.send_task(hold.name, (OUTAGE_SECONDS + 3,), queue="periodic", connection=broker)
        wait_for(lambda: held("received") == 1, 30, "the held task to start")

        private_redis.kill()
        time.sleep(OUTAGE_SECONDS)
        private_redis.start()  # same port, empty: the worker must declare its queue again
        wait_for(lambda: connected() == 2, 60, "the worker to reconnect")
        assert worker.poll() is None, log.read_text()[-3000:]

        room.max_waiting_time = 60
        room.save()
        overdue = VisitFactory(account=room.account, room=room)
        Visit.objects.filter(pk=overdue.pk).update(created=timezone.now() - dt.timedelta(minutes=5))
        with Connection(private_redis.url) as broker:
            app.send_task(close_overdue_visits.name, connection=broker)  # routed to "periodic"
        wait_for(
            lambda: Visit.objects.get(pk=overdue.pk).status == VisitStatus.CANCELLED,
            30,
            "the reconnected worker to close the overdue visit",
        )
        assert held("succeeded") == 1  # the task that was running through the outage finished too
        assert worker.poll() is None
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
