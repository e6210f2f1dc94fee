import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import AsyncClient, Client

from push.backends import backend
from push.events import ORIGIN, Event, EventKind
from push.services import publish_on_commit
from tests.conftest import PUSH_TEST_PREFIX

ROOT = Path(__file__).resolve().parents[2]
# A restart must not wait for the open streams to end by themselves.
QUIET = ["--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "1"]


def _redis_url(settings) -> str:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.skip("Set CELERY_BROKER_URL to a Redis database to test the Redis backend.")
    return url


@pytest.fixture(params=["redis", "sqlite"])
def push_backend(request, settings, tmp_path):
    """Each backend in turn, with a log of this test's own (a fresh prefix or file)."""
    if request.param == "redis":
        settings.PUSH_URL = _redis_url(settings)
        settings.PUSH_CHANNEL_PREFIX = f"{PUSH_TEST_PREFIX}-{uuid.uuid4().hex[:8]}"
    else:
        settings.PUSH_URL = f"sqlite:///{tmp_path / 'push.sqlite3'}"
    yield backend()
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(settings.PUSH_URL)
        keys = list(client.scan_iter(f"{settings.PUSH_CHANNEL_PREFIX}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def publish(*, account_id: int, room_ids: list[int]) -> None:
    """Publish through the public API as a committed change would (tests run inside a transaction)."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        publish_on_commit(kind=EventKind.QUEUE, account_id=account_id, room_ids=room_ids)


def event(*, account_id: int, room_ids: list[int]) -> Event:
    return Event.new(kind=EventKind.QUEUE, account_id=account_id, room_ids=room_ids)


class Stream:
    """An open event stream, read frame by frame: each frame is a dict of its fields ("retry", "id",
    "event", "data" parsed as JSON) or {"comment": ...} for a heartbeat."""

    def __init__(self, response):
        self.response = response
        self._chunks = aiter(response.streaming_content)
        self._next = None
        self._frames: list[dict] = []

    async def frame(self, timeout: float = 3.0) -> dict:
        while not self._frames:
            # Waited on, never cancelled: cancelling a read would close the stream.
            if self._next is None:
                self._next = asyncio.ensure_future(anext(self._chunks))
            done, _ = await asyncio.wait({self._next}, timeout=timeout)
            if not done:
                raise TimeoutError
            chunk, self._next = self._next.result().decode(), None
            self._frames = [self._parse(text) for text in chunk.split("\n\n") if text.strip()]
        return self._frames.pop(0)

    @staticmethod
    def _parse(text: str) -> dict:
        fields = {}
        for line in text.strip("\n").split("\n"):
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.strip()
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
        return fields

    async def event(self, timeout: float = 3.0) -> dict:
        """The next frame that is an event (heartbeats and the retry line skipped)."""
        while True:
            frame = await self.frame(timeout)
            if "event" in frame:
                return frame

    async def nothing_for(self, seconds: float) -> None:
        """Assert that no event arrives for `seconds` (heartbeats may)."""
        try:
            frame = await self.event(timeout=seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected event {frame}")


async def open_stream(user, *, url: str = "/events/", **headers) -> Stream:
    """The stream as `user` (None: anonymous) sees it, through Django's ASGI request path."""
    client = AsyncClient()
    if user is not None:
        await client.aforce_login(user)
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    stream = Stream(response)
    assert (await stream.frame())["retry"]
    return stream


# --- web nodes: uvicorn processes on the test database --------------------------------------------------


class WebNode:
    """One uvicorn process serving the app; `stop()` and `start()` again on the same port (a restart)."""

    def __init__(self, environ: dict[str, str]):
        self.environ = environ
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WebNode":
        # Bound here and handed over: a free port without a race, and the same one after a restart.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "clinic.asgi:application", "--fd", str(sock.fileno()), *QUIET],
            cwd=ROOT,
            env=self.environ,
            pass_fds=(sock.fileno(),),
        )
        sock.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=2):
                    return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"web node on port {self.port} did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def api(self, path: str, *, account_code: str, token: str, data: dict) -> dict:
        request = urllib.request.Request(
            f"{self.url}/api/v3/{path}",
            data=json.dumps(data).encode(),
            headers={"Content-Type": "application/json", "X-AccountCode": account_code, "X-ApiToken": token},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["data"]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("Web nodes share the test database: run with DATABASE_URL on PostgreSQL.")
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def web_nodes(transactional_db, settings):
    """Start uvicorn nodes serving the app against this test's database and Redis:
    `node = web_nodes(QUEUE_REFRESH_SECONDS="1")`, each on a free port."""
    settings.PUSH_URL = _redis_url(settings)
    environ = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "PUSH_URL": settings.PUSH_URL,
        "PUSH_CHANNEL_PREFIX": settings.PUSH_CHANNEL_PREFIX,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    nodes = []

    def start(**extra_environ: str) -> WebNode:
        node = WebNode({**environ, **extra_environ})
        nodes.append(node)
        return node.start()

    yield start
    for node in nodes:
        node.stop()


@pytest.fixture
def node_page(chromium):
    """A logged-in page on a web node: `page = node_page(node, user)`. The session is made here (the nodes
    share the database), so that the nodes need not know the tests' password hasher."""
    contexts = []

    def open_as(node: WebNode, user, path: str = "/dashboard/", blocked: re.Pattern | None = None):
        client = Client()
        client.force_login(user)
        context = chromium.new_context(base_url=node.url)
        context.set_default_timeout(10_000)
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": node.url}]
        )
        contexts.append(context)
        page = context.new_page()
        if blocked is not None:
            page.route(blocked, lambda route: route.abort())
        page.goto(path)
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def pushes(settings, tmp_path, django_capture_on_commit_callbacks):
    """Run a change as committed and return the events it published, as (kind, account, rooms):
    `published = pushes(lambda: services.visit_accept(...))`."""
    settings.PUSH_URL = f"sqlite:///{tmp_path / 'push.sqlite3'}"

    def run(change) -> list[tuple[EventKind, int, set[int]]]:
        log = backend()
        with django_capture_on_commit_callbacks(execute=True):
            change()
        conn = log.connect()
        try:
            rows = conn.execute("SELECT body FROM push_event ORDER BY id").fetchall()
            conn.execute("DELETE FROM push_event")
        finally:
            conn.close()
        events = [Event.decode(body, id=ORIGIN) for (body,) in rows]
        return [(e.kind, e.account_id, set(e.room_ids)) for e in events]

    return run
