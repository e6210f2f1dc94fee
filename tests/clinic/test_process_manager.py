"""The processes `make run` starts (supervisord.conf): a process that dies is started again while the
others keep running, and Ctrl-C stops them all. `make web` starts the web server alone. They run here
on the embedded defaults (SQLite, filesystem broker) in a folder of the test's own, on a free port."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

PROGRAMS = {"web", "worker", "periodic", "beat"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
    return result


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Supervisor:
    def __init__(self, directory: Path, start_background: bool):
        self.port, self.log = free_port(), directory / "supervisord.log"
        for folder in ("broker/out", "broker/processed", "broker/control", "media"):
            (directory / folder).mkdir(parents=True)
        drop = {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ENV"}
        self.env = {k: v for k, v in os.environ.items() if k not in drop} | {
            "DJANGO_VAR_DIR": str(directory),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "1",
            "WORKER_CONCURRENCY": "1",
            "VENV_BIN": str(Path(sys.executable).parent),
            "START_BACKGROUND": "true" if start_background else "false",
        }

    def start(self) -> None:
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [self.env["VENV_BIN"] + "/supervisord", "-c", str(settings.BASE_DIR / "supervisord.conf")],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def spawned(self) -> list[tuple[str, int]]:
        return [(name, int(pid)) for name, pid in re.findall(r"spawned: '(\w+)' with pid (\d+)", self.text())]

    def running(self) -> set[str]:
        return set(re.findall(r"success: (\w+) entered RUNNING", self.text()))

    def text(self) -> str:
        return self.log.read_text()

    def healthz(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as response:
                return response.status
        except OSError:
            return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for _, pid in self.spawned():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def supervisor(tmp_path):
    started = []

    def start(*, start_background: bool) -> Supervisor:
        manager = Supervisor(tmp_path, start_background)
        manager.start()
        started.append(manager)
        return manager

    yield start
    for manager in started:
        manager.stop()


def test_a_process_that_dies_is_restarted_and_the_others_keep_running(supervisor):
    manager = supervisor(start_background=True)
    wait_for(lambda: manager.running() == PROGRAMS, 90, "all four processes to be running")
    assert wait_for(manager.healthz, 30, "the web server to answer") == 200
    first = dict(manager.spawned())

    os.kill(first["worker"], signal.SIGKILL)
    restarted = wait_for(
        lambda: [pid for name, pid in manager.spawned() if name == "worker" and pid != first["worker"]],
        30,
        "the worker to be started again",
    )
    assert alive(restarted[0])
    # Nothing else was stopped or started again, and the web server never stopped answering.
    assert [name for name, _ in manager.spawned()].count("worker") == 2
    assert all(alive(first[name]) for name in PROGRAMS - {"worker"})
    assert manager.healthz() == 200

    # Ctrl-C: supervisord stops every process (the workers' warm shutdown) and exits.
    manager.process.send_signal(signal.SIGINT)
    manager.process.wait(60)
    assert not [name for name, pid in manager.spawned() if alive(pid)]
    assert "stopped: web" in manager.text() and "stopped: worker" in manager.text()


def test_make_web_starts_only_the_web_server(supervisor):
    manager = supervisor(start_background=False)
    assert wait_for(manager.healthz, 60, "the web server to answer") == 200
    wait_for(lambda: "web" in manager.running(), 30, "the web server to be running")
    assert [name for name, _ in manager.spawned()] == ["web"]
