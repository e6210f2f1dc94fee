import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.clinic.factories import AccountFactory, clinic_admin_user
from webhooks import services


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


class Receiver:
    """A real HTTP server on 127.0.0.1 (a free port) that records what it is sent. `answers` are the
    statuses of the next requests (then 200); a path starting /redirect answers 307 to /target; /slow
    waits `slow_seconds` before answering."""

    def __init__(self):
        self.requests: list[Received] = []
        self.answers: deque[int] = deque()
        self.slow_seconds = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                if self.path.startswith("/slow"):
                    time.sleep(receiver.slow_seconds)
                if self.path.startswith("/redirect"):
                    self.send_response(307)
                    self.send_header("Location", "/target")
                else:
                    self.send_response(receiver.answers.popleft() if receiver.answers else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


@pytest.fixture
def receiver():
    running = Receiver()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    """The development defaults (a receiver on this machine is allowed), eager tasks, short timeouts."""
    from clinic.celery import app

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_HTTPS_ONLY = False
    settings.WEBHOOK_TIMEOUT = 2.0
    settings.WEBHOOK_CONNECT_TIMEOUT = 1.0
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield settings
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def admin(account):
    return clinic_admin_user(account, email="admin@acme.test")


@pytest.fixture
def make_endpoint(account, admin):
    def make(url: str, events=("visit.created", "visit.updated", "visit.ended"), *, of=None, by=None):
        return services.endpoint_create(
            account=of or account, actor=by or admin, url=url, events=list(events)
        )

    return make


@pytest.fixture
def other_account(db):
    return AccountFactory(code="other")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): ...` runs what the block schedules for after its commit (the deliveries)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
