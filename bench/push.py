"""Live push benchmark: how soon a queue change reaches open dashboards over their event streams, against
the polling path in the same run, what an open stream costs the server, and how many one node holds.

Data (PostgreSQL database `clinic_bench_push`, built once and reused; `--rebuild` starts over): one clinic
with 20 rooms, 200 providers (each in 2 rooms, so 20 per room), 2,000 patients, 10 walk-ins waiting per
room at the start of each phase and 20,000 closed historical visits.

One uvicorn node (a subprocess on 127.0.0.1) serves everything; this process plays the browsers and the
patients' app. Changes: 20 a second through the API (a walk-in joins, or one leaves), each in a random
room, so each dashboard hears of about 2 a second. Phases, one after another:
- push: 200 dashboards' streams open (provider n % 200 each). Latency of a change = when its event
  arrives at a stream that may see it, minus when the API answered the change (negative: the event came
  first). The event's id (its Redis stream time) tells which change it carries.
- polling (the floor, today's path): 200 dashboards poll GET /dashboard/queues/?v= every 2 s, random phase.
  Latency = when the first poll sent after the API's answer arrives back (it holds the change).
- the cost of open streams: the node's memory and threads with no stream and with 200, its CPU while they
  idle (heartbeats only) and while changes flow, and the database transactions while they idle;
- capacity: 400, 800, 1600 open streams, same changes, until p99 passes one second.

Usage: .venv/bin/python bench/push.py [--rebuild]   (DATABASE_URL names the PostgreSQL server, the
database name in it replaced by clinic_bench_push; CELERY_BROKER_URL or PUSH_URL must be a Redis URL.)
"""

import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from _setup import ROOT, bench_django

bench_django("clinic_bench_push")

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from clinic.models import Account, Member, Provider, ProviderLicense, Room, User  # noqa: E402
from clinic.roles import FRONT_DESK, PROVIDER, ensure_role_groups  # noqa: E402
from clinic.services import api_token_issue  # noqa: E402
from push.events import id_key  # noqa: E402
from visits.models import Intake, Visit, VisitStatus, VisitType  # noqa: E402

ROOMS, PROVIDERS, MEMBERS, HISTORY, WAITING_PER_ROOM = 20, 200, 2_000, 20_000, 10
RATE = 20  # queue changes a second
PHASE_SECONDS = 15
CAPACITY_SECONDS = 10
CAPACITY_STEPS = (400, 800, 1600)
POLL_SECONDS = 2.0
IDLE_SECONDS = 10
QUIET = ["--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "2"]
PUSH_URL = os.environ.get("PUSH_URL") or os.environ.get("CELERY_BROKER_URL", "")
if not PUSH_URL.startswith("redis://"):
    sys.exit("bench/push.py needs Redis: set CELERY_BROKER_URL (or PUSH_URL) to a redis:// URL.")


# --- data ----------------------------------------------------------------------------------------------


def build() -> Account:
    account = Account.objects.filter(code="pushbench").first()
    if account is not None:
        return account
    started = time.perf_counter()
    print("building the data set (once)...", flush=True)
    groups = ensure_role_groups()
    account = Account.objects.create(code="pushbench", name="Push bench clinic")
    rooms = Room.objects.bulk_create(
        Room(account=account, code=f"room{n:02d}", name=f"Room {n:02d}", max_waiting_time=None)
        for n in range(ROOMS)
    )
    password = make_password("bench-pass")
    users = User.objects.bulk_create(
        [
            *(User(account=account, username=f"dr{n:03d}", password=password) for n in range(PROVIDERS)),
            User(account=account, username="desk", password=password),
        ]
    )
    User.groups.through.objects.bulk_create(
        [
            *(User.groups.through(user_id=u.pk, group_id=groups[PROVIDER].pk) for u in users[:-1]),
            User.groups.through(user_id=users[-1].pk, group_id=groups[FRONT_DESK].pk),
        ]
    )
    providers = Provider.objects.bulk_create(
        Provider(account=account, user=u, title="MD") for u in users[:-1]
    )
    Provider.rooms.through.objects.bulk_create(
        Provider.rooms.through(provider_id=p.pk, room_id=rooms[(n + k) % ROOMS].pk)
        for n, p in enumerate(providers)
        for k in (0, 1)
    )
    ProviderLicense.objects.bulk_create(ProviderLicense(provider=p, state="CA") for p in providers)
    members = Member.objects.bulk_create(
        Member(account=account, code=f"M{n:05d}", first_name=f"Pat{n}", last_name="Bench", state="CA")
        for n in range(MEMBERS)
    )
    now = timezone.now()
    Visit.objects.bulk_create(
        (
            Visit(
                account=account,
                room=rooms[n % ROOMS],
                type=VisitType.WALKIN if n % 3 else VisitType.ECONSULT,
                status=VisitStatus.COMPLETED,
                member=members[n % MEMBERS],
                provider=providers[n % PROVIDERS],
                start=now - timezone.timedelta(days=1 + n % 300),
            )
            for n in range(HISTORY)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return account


def reset_queues(account: Account, *, joins: int) -> tuple[dict[int, list[int]], dict[int, list[str]]]:
    """Every phase starts alike: WAITING_PER_ROOM walk-ins in each room, and fresh intakes for its joins.
    Returns the waiting visits and the unused intakes, by room."""
    Visit.objects.filter(account=account, status=VisitStatus.WAITING).update(status=VisitStatus.CANCELLED)
    rooms = list(Room.objects.filter(account=account).order_by("id"))
    members = list(Member.objects.filter(account=account).order_by("id").values_list("id", flat=True))
    per_room = WAITING_PER_ROOM + joins // ROOMS + 10
    intakes = Intake.objects.bulk_create(
        Intake(account=account, room=room, member_id=random.choice(members), reason_for_visit="Bench")
        for room in rooms
        for _ in range(per_room)
    )
    by_room: dict[int, list[Intake]] = {}
    for intake in intakes:
        by_room.setdefault(intake.room_id, []).append(intake)
    waiting = {}
    for room in rooms:
        visits = Visit.objects.bulk_create(
            Visit(
                account=account,
                room=room,
                type=VisitType.WALKIN,
                member_id=intake.member_id,
                intake=intake,
                start=timezone.now(),
            )
            for intake in by_room[room.pk][:WAITING_PER_ROOM]
        )
        waiting[room.pk] = [v.pk for v in visits]
    free = {room_id: [str(i.pk) for i in items[WAITING_PER_ROOM:]] for room_id, items in by_room.items()}
    return waiting, free


def session_cookie(user: User) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


# --- the node --------------------------------------------------------------------------------------------


class Node:
    def __init__(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(4096)
        self.port = sock.getsockname()[1]
        environ = {
            **os.environ,
            "PUSH_URL": PUSH_URL,
            "PUSH_CHANNEL_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
            "QUEUE_REFRESH_SECONDS": str(int(POLL_SECONDS)),
        }
        # The node's errors (a saturated PostgreSQL refusing connections) go to a file, counted at the end.
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (read and closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "clinic.asgi:application", "--fd", str(sock.fileno()), *QUIET],
            cwd=ROOT,
            env=environ,
            pass_fds=(sock.fileno(),),
            stderr=self.log,
        )
        sock.close()

    def proc(self, name: str) -> str:
        with open(f"/proc/{self.process.pid}/{name}") as f:
            return f.read()

    def cpu_seconds(self) -> float:
        fields = self.proc("stat").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def status(self, key: str) -> int:
        return int(re.search(rf"^{key}:\s+(\d+)", self.proc("status"), re.M)[1])

    async def ready(self) -> None:
        for _ in range(600):
            try:
                probe = await Connection.open(self.port)
                status, _ = await probe.request("GET", "/login/", {})
                probe.close()
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("the node did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.seek(0)
        log = self.log.read()
        self.errors = log.count("Internal Server Error")
        self.refused = sum(
            "too many clients" in line for line in log.splitlines() if line.startswith("django.db.utils")
        )
        self.log.close()


# --- a small HTTP/1.1 client: enough for keep-alive requests and one chunked event stream ----------------


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        return cls(*await asyncio.open_connection("127.0.0.1", port, limit=2**20))

    def send(self, method: str, path: str, headers: dict, body: bytes = b"") -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    async def head(self) -> tuple[int, dict]:
        raw = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {}
        for line in raw[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.lower()] = value.strip()
        return int(raw[0].split()[1]), headers

    async def chunks(self):
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return
            yield await self.reader.readexactly(size)
            await self.reader.readexactly(2)

    async def request(self, method: str, path: str, headers: dict, body: bytes = b"") -> tuple[int, bytes]:
        self.send(method, path, headers, body)
        status, response_headers = await self.head()
        if status in (204, 304):
            return status, b""
        if "content-length" in response_headers:
            return status, await self.reader.readexactly(int(response_headers["content-length"]))
        return status, b"".join([chunk async for chunk in self.chunks()])

    def close(self) -> None:
        self.writer.close()


class Stream:
    """One dashboard's event stream: every event's arrival time, id time (ms) and rooms. With `reload`,
    the page reloads its queues on each event as htmx does: one reload in flight, one more queued."""

    def __init__(self, rooms: frozenset[int], cookie: str, *, reload: bool):
        self.rooms, self.cookie, self.reload = rooms, cookie, reload
        self.events: list[tuple[float, int, frozenset[int]]] = []
        self.reloads: list[tuple[float, float, int]] = []
        self.opened = asyncio.Event()
        self._wanted = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    def start(self, port: int) -> None:
        self.tasks.append(asyncio.create_task(self.listen(port)))
        if self.reload:
            self.tasks.append(asyncio.create_task(self.reloader(port)))

    async def listen(self, port: int) -> None:
        connection_ = await Connection.open(port)
        connection_.send("GET", "/events/", {"Cookie": self.cookie, "Accept": "text/event-stream"})
        status, _ = await connection_.head()
        assert status == 200, status
        buffer = ""
        try:
            async for chunk in connection_.chunks():
                arrived = time.time()
                buffer += chunk.decode()
                while "\n\n" in buffer:
                    frame, buffer = buffer.split("\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in frame.split("\n") if ": " in line)
                    if "retry" in fields:
                        self.opened.set()
                    if fields.get("event") == "queue":
                        rooms = frozenset(json.loads(fields["data"])["rooms"])
                        self.events.append((arrived, id_key(fields["id"])[0], rooms))
                        self._wanted.set()
        finally:
            connection_.close()

    async def reloader(self, port: int) -> None:
        connection_ = await Connection.open(port)
        headers = {"Cookie": self.cookie, "HX-Request": "true"}
        version = ""
        try:
            while True:
                await self._wanted.wait()
                self._wanted.clear()
                sent = time.time()
                status, body = await connection_.request("GET", f"/dashboard/queues/?v={version}", headers)
                self.reloads.append((sent, time.time(), status))
                if status == 200:
                    version = re.search(rb'data-version="([^"]+)"', body)[1].decode()
        finally:
            connection_.close()


async def open_streams(port: int, count: int, cookies: list[str], rooms_of: list, *, reload=False) -> list:
    streams = []
    for n in range(count):
        stream = Stream(rooms_of[n % PROVIDERS], cookies[n % PROVIDERS], reload=reload)
        stream.start(port)
        streams.append(stream)
        if n % 20 == 19:  # a few at a time, as browsers arrive (each opening holds a database connection)
            await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in streams)), 120)
    await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in streams)), 120)
    return streams


async def close_streams(streams: list[Stream]) -> None:
    tasks = [task for stream in streams for task in stream.tasks]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Driver:
    """The patients' app: RATE queue changes a second through the API, each a walk-in joining or
    leaving a random room. Records (room, sent, answered) per change."""

    def __init__(self, port: int, account: Account, token: str, waiting: dict, free: dict):
        self.port, self.waiting, self.free = port, waiting, free
        self.headers = {
            "X-AccountCode": account.code,
            "X-ApiToken": token,
            "Content-Type": "application/json",
        }
        self.changes: list[tuple[int, float, float]] = []
        self.errors = 0

    async def change(self, pool: asyncio.Queue, room_id: int, room_code: str) -> None:
        connection_ = await pool.get()
        try:
            if self.waiting[room_id] and random.random() < 0.5:
                path, body = (
                    "visits/close",
                    {"id": self.waiting[room_id].pop(0), "reason": "patient_exit_room"},
                )
                joined = False
            else:
                path, body = (
                    "visits/add_walkin",
                    {"intake_id": self.free[room_id].pop(), "room_code": room_code},
                )
                joined = True
            sent = time.time()
            status, answer = await connection_.request(
                "POST", f"/api/v3/{path}", self.headers, json.dumps(body).encode()
            )
            answered = time.time()
            if status not in (200, 201):
                self.errors += 1
                return
            if joined:
                self.waiting[room_id].append(json.loads(answer)["data"]["id"])
            self.changes.append((room_id, sent, answered))
        finally:
            pool.put_nowait(connection_)

    async def run(self, seconds: float, rooms: list[Room]) -> None:
        pool: asyncio.Queue = asyncio.Queue()
        for _ in range(8):
            pool.put_nowait(await Connection.open(self.port))
        loop = asyncio.get_running_loop()
        start, tasks = loop.time(), []
        for n in range(int(RATE * seconds)):
            await asyncio.sleep(max(0.0, start + n / RATE - loop.time()))
            room = random.choice(rooms)
            tasks.append(asyncio.create_task(self.change(pool, room.pk, room.code)))
        await asyncio.gather(*tasks)
        while not pool.empty():
            pool.get_nowait().close()


def deliveries(changes, streams: list[Stream]):
    """Per change and per stream that may see its room: the change and the first event naming the room
    whose id is not older than the change's request (so not an earlier change's event arriving late)."""
    for room_id, sent, answered in changes:
        sent_ms = int(sent * 1000) - 1
        for stream in streams:
            if room_id in stream.rooms:
                event = next((e for e in stream.events if e[1] >= sent_ms and room_id in e[2]), None)
                yield answered, stream, event


def push_latencies(changes, streams: list[Stream]) -> tuple[list[float], list[float], int]:
    """(API answer -> event, published -> event) in ms, and how many events never came."""
    from_answer, from_publish, missing = [], [], 0
    for answered, _, event in deliveries(changes, streams):
        if event is None:
            missing += 1
            continue
        from_answer.append((event[0] - answered) * 1000)
        from_publish.append(event[0] * 1000 - event[1])
    return from_answer, from_publish, missing


def reload_latencies(changes, streams: list[Stream]) -> list[float]:
    """API answer -> the page's reloaded queues back: the first reload sent once the event arrived."""
    latencies = []
    for answered, stream, event in deliveries(changes, streams):
        if event is not None:
            back = next((a for s, a, status in stream.reloads if s >= event[0] and status < 300), None)
            if back is not None:
                latencies.append((back - answered) * 1000)
    return latencies


async def poll(port: int, cookie: str, stop: asyncio.Event, polls: list) -> None:
    """A page polling as htmx's `every` does: a tick while a request is out waits for it, no catching up."""
    # Pages load at random times within a period (200 at once would be 200 threads and connections).
    await asyncio.sleep(random.uniform(0, POLL_SECONDS))
    connection_ = await Connection.open(port)
    headers = {"Cookie": cookie, "HX-Request": "true"}
    version = ""
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while not stop.is_set():
        sent = time.time()
        status, body = await connection_.request("GET", f"/dashboard/queues/?v={version}", headers)
        polls.append((sent, time.time(), status))
        if status == 200:
            version = re.search(rb'data-version="([^"]+)"', body)[1].decode()
        next_at = max(next_at + POLL_SECONDS, loop.time())
        await asyncio.sleep(next_at - loop.time())
    connection_.close()


def poll_latencies(changes, polls_of: list[tuple[frozenset, list]]) -> list[float]:
    latencies = []
    for room_id, _, answered in changes:
        for rooms, polls in polls_of:
            if room_id in rooms:
                arrival = next((a for s, a, status in polls if s >= answered and status < 300), None)
                if arrival is not None:  # the run ended before this poller's next poll
                    latencies.append((arrival - answered) * 1000)
    return latencies


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))] if values else float("nan")


def database_transactions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


def database_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


# --- the run ---------------------------------------------------------------------------------------------


class Measured:
    """A phase's node CPU (share of one core) and requests, over its own wall-clock time."""

    def __init__(self, node: Node):
        self.node = node

    def __enter__(self):
        self.cpu, self.started = self.node.cpu_seconds(), time.monotonic()
        return self

    def __exit__(self, *exc):
        self.seconds = time.monotonic() - self.started
        self.core = (self.node.cpu_seconds() - self.cpu) / self.seconds


async def phase_streams(
    node, account, token, cookies, rooms_of, rooms, *, count: int, seconds: float, reload=False
):
    waiting, free = await asyncio.to_thread(reset_queues, account, joins=int(RATE * seconds))
    streams = await open_streams(node.port, count, cookies, rooms_of, reload=reload)
    driver = Driver(node.port, account, token, waiting, free)
    with Measured(node) as measured:
        await driver.run(seconds, rooms)
        await asyncio.sleep(1.5)  # the last events (and reloads) arrive
    await close_streams(streams)
    return driver, streams, measured


async def phase_polling(node, account, token, cookies, rooms_of, rooms, *, seconds: float):
    waiting, free = await asyncio.to_thread(reset_queues, account, joins=int(RATE * seconds))
    stop, polls_of, pollers = asyncio.Event(), [], []
    for n in range(PROVIDERS):
        polls: list = []
        polls_of.append((rooms_of[n], polls))
        pollers.append(asyncio.create_task(poll(node.port, cookies[n], stop, polls)))
    await asyncio.sleep(POLL_SECONDS + 0.5)  # every poller under way
    driver = Driver(node.port, account, token, waiting, free)
    with Measured(node) as measured:
        started = time.time()
        await driver.run(seconds, rooms)
        await asyncio.sleep(POLL_SECONDS + 0.5)
        ended = time.time()
    stop.set()
    await asyncio.gather(*pollers)
    during = [p for _, polls in polls_of for p in polls if started <= p[0] < ended]
    return driver, poll_latencies(driver.changes, polls_of), during, measured


async def main() -> None:
    await asyncio.to_thread(call_command, "migrate", verbosity=0)
    account = await asyncio.to_thread(build)

    def sessions():
        providers = list(Provider.objects.filter(account=account).order_by("id").select_related("user"))
        rooms_of = [frozenset(p.rooms.values_list("id", flat=True)) for p in providers]
        cookies = [session_cookie(p.user) for p in providers]
        desk = User.objects.get(account=account, username="desk")
        rooms = list(Room.objects.filter(account=account).order_by("id"))
        return rooms_of, cookies, api_token_issue(user=desk)["token"], rooms

    rooms_of, cookies, token, rooms = await asyncio.to_thread(sessions)
    setup = (account, token, cookies, rooms_of, rooms)
    node = Node()
    out = []
    try:
        await node.ready()
        # Warm up: the first requests import and compile what the rest then reuse.
        await close_streams(await open_streams(node.port, 20, cookies, rooms_of, reload=True))
        await asyncio.sleep(1)

        # The cost of open streams.
        rss_before, threads_before = node.status("VmRSS"), node.status("Threads")
        streams = await open_streams(node.port, 200, cookies, rooms_of)
        await asyncio.sleep(5)  # the openings' own transactions reach PostgreSQL's counters first
        rss_open, threads_open = node.status("VmRSS"), node.status("Threads")
        transactions = await asyncio.to_thread(database_transactions)
        with Measured(node) as idle:
            await asyncio.sleep(IDLE_SECONDS)
        await asyncio.sleep(1.5)  # PostgreSQL publishes its counters within a second
        idle_transactions = await asyncio.to_thread(database_transactions) - transactions - 1
        idle_connections = await asyncio.to_thread(database_connections)
        await close_streams(streams)
        out.append(
            f"open streams, idle:   {(rss_open - rss_before) / 200:.0f} KiB and "
            f"{(threads_open - threads_before) / 200:.2f} threads per stream; 200 idle streams take "
            f"{idle.core * 100:.1f}% of a core, {idle_transactions} database transactions and "
            f"{idle_connections} connections in {IDLE_SECONDS} s"
        )

        # Push at 200 streams: the events, then pages that reload on them; then the polling floor.
        driver, streams, measured = await phase_streams(node, *setup, count=200, seconds=PHASE_SECONDS)
        from_answer, from_publish, missing = push_latencies(driver.changes, streams)
        events = sum(len(s.events) for s in streams) / measured.seconds / 200
        out.append(
            "push, 200 streams:    "
            f"API answer -> event p50 {p50(from_answer):.1f} ms, p99 {p99(from_answer):.1f} ms "
            "(negative: the event came first); "
            f"published -> event p50 {p50(from_publish):.1f} ms, p99 {p99(from_publish):.1f} ms; "
            f"{len(from_answer)} deliveries of {len(driver.changes)} changes, {missing} missing, "
            f"{driver.errors} failed API calls; {events:.2f} events/s per stream; "
            f"node {measured.core * 100:.0f}% of a core"
        )
        push_p50, push_p99 = p50(from_answer), p99(from_answer)

        driver, streams, measured = await phase_streams(
            node, *setup, count=200, seconds=PHASE_SECONDS, reload=True
        )
        reloaded = reload_latencies(driver.changes, streams)
        reloads = [r for s in streams for r in s.reloads]
        out.append(
            f"push, 200 pages reloading on each event: API answer -> queues back p50 {p50(reloaded):.1f} ms, "
            f"p99 {p99(reloaded):.1f} ms; {len(reloads) / measured.seconds:.0f} requests/s "
            f"({sum(r[2] >= 300 for r in reloads)} failed); node {measured.core * 100:.0f}% of a core"
        )
        reload_p50, reload_p99 = p50(reloaded), p99(reloaded)

        driver, polled, polls, measured = await phase_polling(node, *setup, seconds=PHASE_SECONDS)
        rate = len(polls) / measured.seconds
        failed = sum(p[2] >= 300 for p in polls)
        out.append(
            f"polling every {POLL_SECONDS:.0f} s, 200 pages: "
            f"API answer -> queues back p50 {p50(polled):.1f} ms, p99 {p99(polled):.1f} ms; "
            f"{rate:.0f} requests/s ({failed} failed, {driver.errors} failed API calls); "
            f"node {measured.core * 100:.0f}% of a core"
        )
        out.append(
            f"ratio to polling:     event p50 {push_p50 / p50(polled):.3f}, "
            f"p99 {push_p99 / p99(polled):.3f}; "
            f"reloaded queues p50 {reload_p50 / p50(polled):.3f}, p99 {reload_p99 / p99(polled):.3f}"
        )

        # How far one node goes.
        for count in CAPACITY_STEPS:
            driver, streams, measured = await phase_streams(
                node, *setup, count=count, seconds=CAPACITY_SECONDS
            )
            from_answer, from_publish, missing = push_latencies(driver.changes, streams)
            out.append(
                f"capacity, {count:>4} streams: API answer -> event p50 {p50(from_answer):.1f} ms, p99 "
                f"{p99(from_answer):.1f} ms; published -> event p50 {p50(from_publish):.1f} ms, p99 "
                f"{p99(from_publish):.1f} ms; {missing} missing, {driver.errors} failed API calls; node "
                f"{measured.core * 100:.0f}% of a core"
            )
            if p99(from_publish) > 1000 or p99(from_answer) > 1000:
                break
    finally:
        node.stop()

    print(
        f"data: {ROOMS} rooms, {PROVIDERS} providers (2 rooms each), {WAITING_PER_ROOM} waiting per room, "
        f"{HISTORY} historical; {RATE} queue changes/s through the API; one uvicorn node; "
        f"PUSH_MIN_INTERVAL_SECONDS={settings.PUSH_MIN_INTERVAL_SECONDS}"
    )
    print("\n".join(out))
    print(
        f"node errors: {node.errors} requests answered 500, {node.refused} of them because PostgreSQL "
        "refused more connections (each concurrent request runs in its own thread with its own connection)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    asyncio.run(main())
