"""Fault run: load through the API while the worker, Redis and PostgreSQL fail, then the database is checked.

Everything runs as processes of this script's own, as `make run` starts them (supervisord.conf's
programs): a PostgreSQL made by initdb in a temporary folder and a redis-server, each on a free port;
uvicorn (2 processes, the pool on), the worker (default, render, webhooks; 2 processes), the periodic
worker and beat with their production schedule (closing overdue visits every 30 s, the summaries sweep
every minute). Nothing is shared with other runs; all of it is removed at the end.

Load, for --seconds (75): --rate (20) patients a second each create an intake and join the walk-in
queue of a room whose max waiting time is --max-wait (20 s), with their own tokens; twice a second
(--races) the two providers both accept the same patient (the oldest waiting, so the accept races the
closer too), and the one who wins completes the visit. Faults, from the start of the load:
- at 10 s the worker is killed with SIGKILL (its renders in flight with it) and started again 3 s later,
  as supervisord would;
- at 20 s Redis is killed for 10 s and started again empty (queued and unacknowledged messages lost);
- at 40 s PostgreSQL is killed (every backend with it) for 15 s and started again (crash recovery).
Then the script waits (at most --drain, 150 s) for every completed visit's summary and for the closer,
and checks: every completed visit has exactly one stored PDF; no visit was both accepted and closed by
the system, and no accept race had two winners; every overdue visit was closed, within the beat interval
+ 10 s of its deadline (deadlines during an outage, and up to the next beat run after it, are counted
apart: nothing can close while the database or the broker is down). It prints the counts, the worst
lateness, and `ratio:` = the worst lateness outside outages / the promise (at most 1 is kept).

Usage: .venv/bin/python bench/faults.py [--seconds 75] [--rate 20] [--races 2] [--max-wait 20]
       [--drain 150] [--keep] [--no-faults]
(needs redis-server and /usr/lib/postgresql/*/bin; --keep leaves the folder with the processes' logs;
--no-faults runs the same load without faults: closure on time under load alone)
"""

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import (  # noqa: E402
    PrivatePostgres,
    PrivateRedis,
    celery,
    celery_worker,
    free_port,
    uvicorn,
    wait_for,
    worker_ready,
)

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--seconds", type=float, default=75)
parser.add_argument("--rate", type=float, default=20, help="patients a second")
parser.add_argument("--races", type=float, default=2, help="accept races a second")
parser.add_argument("--max-wait", type=int, default=20, help="the room's max waiting time, seconds")
parser.add_argument("--drain", type=float, default=150)
parser.add_argument("--keep", action="store_true")
parser.add_argument("--no-faults", action="store_true", help="the same load without faults: closure on time")
ARGS = parser.parse_args()

WORKER_KILL_AT, WORKER_DOWN = 10, 3
REDIS_KILL_AT, REDIS_DOWN = 20, 10
POSTGRES_KILL_AT, POSTGRES_DOWN = 40, 15


class Run:
    """The processes, the timeline of the faults, and what the load saw."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.postgres = PrivatePostgres(folder / "postgres")
        self.redis = PrivateRedis(folder / "redis")
        self.port = free_port()
        self.outages: list[tuple[str, float, float]] = []  # (what, from, to) in epoch seconds
        self.answers: Counter = Counter()
        self.races: Counter = Counter()
        self.lock = threading.Lock()

    def env(self) -> dict:
        return {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.postgres.port}/clinic",
            "CELERY_BROKER_URL": self.redis.url,
            "PUSH_URL": self.redis.url,
            "MEDIA_ROOT": str(self.folder / "media"),
            "DJANGO_VAR_DIR": str(self.folder),
            "DJANGO_DEBUG": "false",
            "DATABASE_CONNECT_TIMEOUT": "3",
        }

    def start_services(self) -> None:
        for folder in ("postgres", "redis", "media", "logs"):
            (self.folder / folder).mkdir(exist_ok=True)
        self.postgres.start()
        self.redis.start()
        import psycopg

        with psycopg.connect(self.postgres.url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE clinic")
        os.environ.update(self.env() | {"DATABASE_POOL": "false"})
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
        import django

        django.setup()

    def start_processes(self) -> None:
        env, logs = self.env(), self.folder / "logs"
        background = env | {"DATABASE_POOL": "false"}  # as supervisord.conf
        self.web = uvicorn("web", self.port, env, logs / "web.log", workers=2)
        self.worker = celery_worker("worker", "default,render,webhooks", background, logs / "worker.log", 2)
        self.periodic = celery_worker("periodic", "periodic", background, logs / "periodic.log", 1)
        self.beat = celery("beat", ["beat", "--loglevel", "INFO"], background, logs / "beat.log")
        for process in (self.web, self.worker, self.periodic, self.beat):
            process.start()
        wait_for(lambda: self.request("GET", "/healthz")[0] == 200, 60, "uvicorn")
        for worker in (self.worker, self.periodic):
            wait_for(lambda w=worker: worker_ready(w), 60, worker.name)

    def stop_background(self) -> None:
        """Beat and the workers: nothing renders or closes while the database is checked."""
        for process in (self.beat, self.periodic, self.worker):
            process.stop()

    def stop_processes(self) -> None:
        self.stop_background()
        self.web.stop()
        self.redis.kill()
        self.postgres.kill()

    def request(self, method: str, path: str, body: dict | None = None, token: str = "") -> tuple[int, dict]:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json", "X-AccountCode": "demo", "X-ApiToken": token}
        try:
            client.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = client.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data.startswith(b"{") else {}
        except OSError:
            return 0, {}
        finally:
            client.close()

    def count(self, status: int) -> int:
        with self.lock:
            self.answers[status] += 1
        return status


def build(max_wait: int, patients: int):
    from django.core.management import call_command

    from clinic.demo import seed_demo_clinic
    from clinic.models import Member, Provider, Room, User
    from clinic.services import api_token_issue

    call_command("migrate", verbosity=0)
    seed_demo_clinic()
    Room.objects.filter(account__code="demo", code="main").update(max_waiting_time=max_wait)
    providers = list(Provider.objects.filter(user__account__code="demo").select_related("user"))
    users = User.objects.bulk_create(
        User(account=providers[0].account, username=f"patient-{n}", external_code=f"F-{n}", password="!")
        for n in range(patients)
    )
    Member.objects.bulk_create(
        Member(account=user.account, user=user, code=user.external_code, first_name="Pat", last_name=f"F{n}")
        for n, user in enumerate(users)
    )
    return (
        [api_token_issue(user=user)["token"] for user in users],
        {provider.user.username: api_token_issue(user=provider.user)["token"] for provider in providers},
    )


def patient(run: Run, token: str) -> None:
    status, body = run.request(
        "POST", "/api/v3/intakes", {"room_code": "main", "location": "CA", "reason_for_visit": "Cough"}, token
    )
    if run.count(status) in (200, 201):
        run.count(
            run.request(
                "POST",
                "/api/v3/visits/add_walkin",
                {"intake_id": body["data"]["id"], "room_code": "main"},
                token,
            )[0]
        )


def race(run: Run, providers: dict[str, str], taken: set) -> None:
    """Both providers accept the oldest waiting patient at the same moment; the winner completes."""
    from django.db import connection

    from visits.models import Visit, VisitStatus

    try:
        with run.lock:
            visit = (
                Visit.objects.filter(status=VisitStatus.WAITING)
                .exclude(pk__in=taken)
                .order_by("created")
                .values_list("pk", flat=True)
                .first()
            )
            taken.add(visit)
    except Exception:
        connection.close()  # the database is down: try again at the next race
        return
    if not visit:
        return
    barrier = threading.Barrier(len(providers))
    results = {}

    def accept(name: str, token: str) -> None:
        barrier.wait()
        results[name] = run.count(run.request("POST", "/api/v3/visits/accept", {"id": str(visit)}, token)[0])

    threads = [threading.Thread(target=accept, args=item) for item in providers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, status in results.items() if status == 200]
    with run.lock:
        run.races["races"] += 1
        run.races[f"{len(winners)} winner(s)"] += 1
    if len(winners) == 1:
        run.count(
            run.request("POST", "/api/v3/visits/complete", {"id": str(visit)}, providers[winners[0]])[0]
        )


def faults(run: Run, started: float) -> None:
    def at(offset: float) -> None:
        time.sleep(max(0.0, started + offset - time.time()))

    at(WORKER_KILL_AT)
    down = time.time()
    run.worker.kill()
    time.sleep(WORKER_DOWN)
    run.worker.start()
    run.outages.append(("worker", down, time.time()))
    at(REDIS_KILL_AT)
    down = time.time()
    run.redis.kill()
    time.sleep(REDIS_DOWN)
    run.redis.start()
    run.outages.append(("redis", down, time.time()))
    at(POSTGRES_KILL_AT)
    down = time.time()
    run.postgres.kill()
    time.sleep(POSTGRES_DOWN)
    run.postgres.start()
    run.outages.append(("postgres", down, time.time()))


def load(run: Run, tokens: list[str]) -> None:
    started = time.time()
    fault_thread = threading.Thread(
        target=(lambda *_: None) if ARGS.no_faults else faults, args=(run, started)
    )
    fault_thread.start()
    pool = ThreadPoolExecutor(64)
    n = 0
    while (elapsed := time.time() - started) < ARGS.seconds:
        while n < elapsed * ARGS.rate and n < len(tokens):
            pool.submit(patient, run, tokens[n])
            n += 1
        time.sleep(0.01)
    # Patients the machine could not start by the end are not sent: the run stays bounded on a slow one.
    pool.shutdown(cancel_futures=True)
    fault_thread.join()


def racing(run: Run, providers: dict[str, str], stop: threading.Event) -> None:
    """A race every 1/--races s, however long the last one takes (a few run at once under load)."""
    taken: set = set()
    with ThreadPoolExecutor(8) as pool:
        while not stop.wait(1 / ARGS.races):
            pool.submit(race, run, providers, taken)


def check(run: Run, beat_interval: float, load_started: float) -> dict:
    from django.core.files.storage import default_storage
    from django.db.models import Exists, OuterRef

    from visits.models import CloseReason, Visit, VisitEvent, VisitStatus, VisitSummary

    promise = beat_interval + 10
    completed = Visit.objects.filter(status=VisitStatus.COMPLETED)
    ready = VisitSummary.objects.filter(visit__in=completed, status=VisitSummary.Status.READY).exclude(
        file=""
    )
    files = [name for name in ready.values_list("file", flat=True) if default_storage.exists(name)]
    media = run.folder / "media"
    stored = {str(p.relative_to(media)) for p in media.rglob("*.pdf")}
    referenced = set(VisitSummary.objects.exclude(file="").values_list("file", flat=True))
    accepted = VisitEvent.objects.filter(visit=OuterRef("pk"), to_status=VisitStatus.IN_PROGRESS)
    by_system = Visit.objects.filter(close_reason=CloseReason.MAX_WAITING_TIME_REACHED, closed_by=None)
    closures = VisitEvent.objects.filter(
        reason=CloseReason.MAX_WAITING_TIME_REACHED, to_status=VisitStatus.CANCELLED
    ).values_list("visit__created", "created", "visit__room__max_waiting_time")

    def excused(deadline: float) -> bool:
        """Nothing closes while the database or broker is down, nor before the next beat run after it."""
        return any(
            down - 1 <= deadline <= up + beat_interval + 10
            for what, down, up in run.outages
            if what != "worker"
        )

    lateness = [
        (deadline, (closed - created).total_seconds() - limit)
        for created, closed, limit in closures
        for deadline in [created.timestamp() + limit]
    ]
    in_clear = [late for deadline, late in lateness if not excused(deadline)]
    now = dt.datetime.now(dt.UTC)
    end = next((down for what, down, _ in run.outages if what == "postgres"), load_started + ARGS.seconds)
    before = Visit.objects.filter(
        created__gte=dt.datetime.fromtimestamp(load_started, dt.UTC),
        created__lt=dt.datetime.fromtimestamp(end, dt.UTC),
    ).count()
    return {
        "joined": Visit.objects.count(),
        # What the machine sustained (every patient is two API writes) until the database fault, the
        # worker's and Redis's included: past what it serves, patients wait in the script (and those
        # still waiting at the end are not sent).
        "joined_per_second_sustained": before / (end - load_started),
        "completed": completed.count(),
        "completed_with_one_pdf": len(files),
        "pdfs_stored": len(stored),
        "pdfs_stored_of_no_summary": len(stored - referenced),
        "summaries_ready": VisitSummary.objects.filter(status=VisitSummary.Status.READY).count(),
        "accepted_and_closed_by_system": by_system.filter(Exists(accepted)).count(),
        "closed_by_system": by_system.count(),
        "still_waiting_overdue": Visit.objects.filter(
            status=VisitStatus.WAITING,
            created__lt=now - dt.timedelta(seconds=ARGS.max_wait + promise),
        ).count(),
        "late_in_clear": sum(late > promise for late in in_clear),
        "worst_lateness": max((late for _, late in lateness), default=0.0),
        "worst_lateness_in_clear": max(in_clear, default=0.0),
        "median_lateness": statistics.median([late for _, late in lateness]) if lateness else 0.0,
        "promise": promise,
    }


def drained(run: Run, deadline: float) -> bool:
    from django.db import connection

    from visits.models import Visit, VisitStatus, VisitSummary

    while time.time() < deadline:
        try:
            pending = (
                Visit.objects.filter(status=VisitStatus.COMPLETED)
                .exclude(summary__status=VisitSummary.Status.READY)
                .count()
            )
            overdue = Visit.objects.filter(
                status=VisitStatus.WAITING,
                created__lt=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ARGS.max_wait + 40),
            ).count()
        except Exception:
            connection.close()
            pending = overdue = -1
        if pending == 0 and overdue == 0:
            return True
        time.sleep(2)
    return False


def main() -> None:
    for need in ("redis-server", "runuser" if os.geteuid() == 0 else "sh"):
        if not shutil.which(need):
            sys.exit(f"faults.py needs {need}")
    folder = Path(tempfile.mkdtemp(prefix="clinic-faults-"))
    folder.chmod(0o755)  # PostgreSQL's cluster below runs as the postgres user when this is root
    run = Run(folder)
    began = time.time()
    run.start_services()
    tokens, providers = build(ARGS.max_wait, int(ARGS.seconds * ARGS.rate))
    from django.conf import settings

    beat_interval = settings.CELERY_BEAT_SCHEDULE["visits-close-overdue"]["schedule"]
    run.start_processes()
    load_started = time.time()
    stop_racing = threading.Event()
    racer = threading.Thread(target=racing, args=(run, providers, stop_racing))
    racer.start()
    try:
        load(run, tokens)
        stop_racing.set()
        racer.join()
        load_seconds = time.time() - load_started
        ok = drained(run, time.time() + ARGS.drain)
        drain_seconds = time.time() - load_started - load_seconds
        run.stop_background()
        figures = check(run, beat_interval, load_started)
    finally:
        stop_racing.set()
        run.stop_processes()
    answers = dict(sorted(run.answers.items()))
    print(
        f"load: {ARGS.rate:g} patients/s offered for {ARGS.seconds:g} s ({len(tokens)} patients, each an "
        f"intake and a walk-in; the last answered after {load_seconds:.0f} s; {figures['joined']} joined the "
        "queue), "
        f"{ARGS.races:g} accept races/s by 2 providers, max wait {ARGS.max_wait} s, beat every "
        f"{beat_interval:g} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        "faults: "
        + ", ".join(
            f"{what} down {up - down:.0f} s at {down - load_started:.0f} s" for what, down, up in run.outages
        )
    )
    print(f"API answers by status: {answers} (0: connection refused/reset)")
    print(f"accept races: {dict(run.races)}")
    print(
        f"drained in {drain_seconds:.0f} s after the load: {'yes' if ok else 'NO'}; "
        f"whole run {time.time() - began:.0f} s"
    )
    for name, value in list(figures.items())[1:]:
        print(f"{name}: {value:.1f}" if isinstance(value, float) else f"{name}: {value}")
    ratio = figures["worst_lateness_in_clear"] / figures["promise"]
    print(f"ratio: {ratio:.2f} (worst lateness outside outages / the promise)")
    failures = [
        figures["completed_with_one_pdf"] != figures["completed"] and "a completed visit without its PDF",
        figures["accepted_and_closed_by_system"] and "a visit accepted and closed by the system",
        run.races.get("2 winner(s)") and "an accept race with two winners",
        figures["still_waiting_overdue"] and "overdue visits still waiting",
        figures["late_in_clear"] and "closures later than the promise outside outages",
    ]
    if ARGS.keep:
        print(f"logs kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    if any(failures):
        sys.exit("FAILED: " + "; ".join(f for f in failures if f))


if __name__ == "__main__":
    main()
