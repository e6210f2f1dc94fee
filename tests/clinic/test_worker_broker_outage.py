"""A Celery worker outlives its Redis going away, with a task running: Redis restarted empty 10 s
later on the same port, the worker reconnects by itself, finishes that task and consumes the next one.
The Redis is this test's own (a free port, no persistence), never the shared one; the worker is a real
`celery worker` process, started as make run starts it."""

import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from tests.clinic.worker_tasks import hold
from tests.visits.factories import VisitFactory
from visits.models import Visit, VisitStatus
from visits.tasks import close_overdue_visits

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


class PrivateRedis:
    """A redis-server of this test's own, daemonized, on one port for its whole life."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.pidfile = directory / "redis.pid"

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(self.pidfile),
             "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
            check=True, timeout=10,
        )  # fmt: skip
        wait_for(self.answers, 10, "the private Redis to answer")

    def kill(self) -> None:
        if self.pidfile.exists():
            os.kill(int(self.pidfile.read_text()), signal.SIGKILL)
            wait_for(lambda: not self.answers(), 10, "the private Redis to stop")
            self.pidfile.unlink(missing_ok=True)


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.kill()


def test_worker_consumes_again_after_its_redis_was_down_for_ten_seconds(private_redis, room, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share with the test: PostgreSQL")
    db = connection.settings_dict
    env = {
        **os.environ,
        "CELERY_BROKER_URL": private_redis.url,
        "DATABASE_URL": f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@{db['HOST']}:"
        f"{db['PORT']}/{db['NAME']}",
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
            hold.apply_async((OUTAGE_SECONDS + 3,), queue="periodic", connection=broker)
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
            close_overdue_visits.apply_async(connection=broker)
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
