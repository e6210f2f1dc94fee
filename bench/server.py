"""Server benchmark: requests per second under uvicorn (the web process `make run` starts) against
Django's runserver, same views, same data, same run.

Data (PostgreSQL database `clinic_bench_server`, built once and reused; `--rebuild` starts over): the
demo clinic, with 60 walk-ins and 20 e-consults waiting in dr.lee's room and one visit to read.

Both servers run as processes of their own against that database, with the same settings (DEBUG off,
the connection pool on): uvicorn with the command line of supervisord.conf's `web` program (two
processes), runserver threaded as `make dev` starts it (without the reloader). Each figure is a bounded
loop of requests to 127.0.0.1 (REQUESTS requests or SECONDS seconds, whichever ends first), one new
connection per request, with 1 and then CONCURRENCY requests in flight; the two servers take turns,
ROUNDS times, and each figure is the median of its rounds:
- GET /api/v3/visits/:id with a provider's token;
- the provider's queue partial, GET /dashboard/queues/ as htmx, logged in (rendered in full: no version).
The ratio is uvicorn / runserver.

Usage: .venv/bin/python bench/server.py [--rebuild]   (DATABASE_URL names the server; the database name
in it is replaced by clinic_bench_server.)
"""

import configparser
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from _setup import ROOT, bench_django

bench_django("clinic_bench_server")

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from clinic.models import Member, Provider, Room  # noqa: E402
from clinic.services import api_token_issue  # noqa: E402
from visits.models import Intake, Visit, VisitStatus, VisitType  # noqa: E402

WAITING_WALKINS, WAITING_ECONSULTS = 60, 20
REQUESTS, SECONDS, CONCURRENCY, ROUNDS = 400, 20, 8, 3
BIN = Path(sys.executable).parent


def build() -> tuple[Provider, Visit]:
    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    room = Room.objects.get(account__code="demo", code="main")
    lee = Provider.objects.select_related("user").get(user__account=room.account, user__username="dr.lee")
    waiting = Visit.objects.filter(room=room, status=VisitStatus.WAITING)
    if waiting.count() < WAITING_WALKINS + WAITING_ECONSULTS:
        members = Member.objects.bulk_create(
            Member(account=room.account, code=f"B-{n:04d}", first_name=f"Pat{n}", last_name="Bench")
            for n in range(WAITING_WALKINS + WAITING_ECONSULTS)
        )
        for n, member in enumerate(members):
            intake = Intake.objects.create(
                account=room.account,
                room=room,
                member=member,
                reason_for_visit=f"Reason {n}",
                location="CA",
                custom={"custom_symptoms": "Cough, fever"},
            )
            Visit.objects.create(
                account=room.account,
                room=room,
                member=member,
                intake=intake,
                type=VisitType.WALKIN if n < WAITING_WALKINS else VisitType.ECONSULT,
                status=VisitStatus.WAITING,
                start=timezone.now(),
            )
    return lee, waiting.order_by("id").first()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uvicorn_command(port: int) -> list[str]:
    """supervisord.conf's web program, with the values the Makefile gives its variables."""
    config = configparser.RawConfigParser()
    config.read(ROOT / "supervisord.conf")
    values = {"ENV_VENV_BIN": str(BIN), "ENV_HOST": "127.0.0.1", "ENV_PORT": str(port)}
    values["ENV_WEB_CONCURRENCY"] = "2"  # the Makefile's default
    command = re.sub(r"%\((\w+)\)s", lambda m: values[m.group(1)], config.get("program:web", "command"))
    return command.split()


def runserver_command(port: int) -> list[str]:
    return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]


class Server:
    def __init__(self, name: str, command):
        self.name, self.port = name, free_port()
        self.process = subprocess.Popen(
            command(self.port), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while request(self.port, "/healthz", {})[0] != 200:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"{name} did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def request(port: int, path: str, headers: dict) -> tuple[int, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except OSError:
        return 0, time.perf_counter() - started
    finally:
        connection.close()


def load(port: int, path: str, headers: dict, concurrency: int) -> tuple[float, float]:
    """Requests per second and p50 latency (ms) of a bounded loop with `concurrency` requests in flight."""
    lock, latencies, failures = threading.Lock(), [], []
    deadline = time.monotonic() + SECONDS

    def client():
        while time.monotonic() < deadline:
            with lock:
                if len(latencies) + len(failures) >= REQUESTS:
                    return
            status, seconds = request(port, path, headers)
            with lock:
                (latencies if status == 200 else failures).append(seconds if status == 200 else status)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests to {path} failed: {sorted(set(failures))}")
    return len(latencies) / elapsed, statistics.median(latencies) * 1000


def main() -> None:
    provider, visit = build()
    token = api_token_issue(user=provider.user)["token"]
    browser = Client()
    browser.force_login(provider.user)
    endpoints = {
        "GET /api/v3/visits/:id": (
            f"/api/v3/visits/{visit.pk}",
            {"X-AccountCode": "demo", "X-ApiToken": token},
        ),
        "queue partial": (
            "/dashboard/queues/",
            {"HX-Request": "true", "Cookie": f"sessionid={browser.cookies['sessionid'].value}"},
        ),
    }
    servers = [Server("uvicorn", uvicorn_command), Server("runserver", runserver_command)]
    figures: dict[tuple, list] = {}
    try:
        for server in servers:  # warm up: imports, templates, the pool's first connections
            for path, headers in endpoints.values():
                for _ in range(20):
                    assert request(server.port, path, headers)[0] == 200, (server.name, path)
        for _ in range(ROUNDS):
            for name, (path, headers) in endpoints.items():
                for concurrency in (1, CONCURRENCY):
                    for server in servers:
                        figures.setdefault((name, concurrency, server.name), []).append(
                            load(server.port, path, headers, concurrency)
                        )
    finally:
        for server in servers:
            server.stop()

    print(
        f"data: demo clinic, {WAITING_WALKINS} walk-ins + {WAITING_ECONSULTS} e-consults waiting; "
        f"uvicorn: {' '.join(uvicorn_command(0)[1:])}; runserver threaded; median of {ROUNDS} rounds of "
        f"up to {REQUESTS} requests / {SECONDS} s; load average {os.getloadavg()[0]:.1f}"
    )
    for name in endpoints:
        for concurrency in (1, CONCURRENCY):
            (u_rps, u_p50), (r_rps, r_p50) = (
                tuple(statistics.median(f[i] for f in figures[(name, concurrency, server)]) for i in (0, 1))
                for server in ("uvicorn", "runserver")
            )
            print(
                f"{name:<24} {concurrency} in flight: uvicorn {u_rps:6.1f} req/s (p50 {u_p50:6.1f} ms) | "
                f"runserver {r_rps:6.1f} req/s (p50 {r_p50:6.1f} ms) | ratio {u_rps / r_rps:.2f}"
            )


if __name__ == "__main__":
    main()
