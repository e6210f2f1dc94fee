"""Outgoing webhooks: how fast one worker delivers, and what the outbox adds to POST /visits/add_walkin.

Data (PostgreSQL database `clinic_bench_hooks`, rebuilt on every run: the figures need fresh intakes and an
empty outbox): one clinic, one room, one provider, 1,000 patients each with an intake; one webhook endpoint
pointing at a receiver on 127.0.0.1 (a separate process answering 204 at once).

Figures, each against a floor measured in the same run:
- deliveries per second: DELIVERIES outbox rows sent by the delivery function in a loop in this process (what
  one worker process does per message: claim, sign, POST, record), against the same number of bare pooled
  urllib3 POSTs of the same body to the same receiver (the floor: HTTP alone);
- the p50 of POST /api/v3/visits/add_walkin with the endpoint on (the visit.created outbox row written in the
  transaction, its task sent to the broker after commit), against the same call with the endpoint off (the
  only webhook work then: the read of the endpoints table), requests alternating within one run.

Usage: .venv/bin/python bench/webhooks.py   (DATABASE_URL names the server; the database name in it is
replaced by clinic_bench_hooks. CELERY_BROKER_URL: the broker the walk-ins' tasks go to; they are purged.)
"""

import json
import socket
import statistics
import subprocess
import sys
import textwrap
import time

from _setup import bench_django

# Fresh intakes and an empty outbox every run: the database is dropped and created again.
sys.argv.append("--rebuild")
bench_django("clinic_bench_hooks", LOG_LEVEL="WARNING", WEBHOOK_ALLOW_PRIVATE_NETWORKS="true")

import urllib3  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from clinic.celery import app  # noqa: E402
from clinic.models import Account, Member, Provider, Room, User  # noqa: E402
from clinic.roles import CLINIC_ADMIN, PROVIDER, ensure_role_groups  # noqa: E402
from clinic.services import api_token_issue  # noqa: E402
from visits.models import Intake  # noqa: E402
from webhooks import services  # noqa: E402
from webhooks.models import Delivery, Endpoint  # noqa: E402

DELIVERIES = 1000
WALKINS = 300  # per side
PAYLOAD = json.dumps({"type": "visit.created", "timestamp": 0, "data": {"id": "1", "notes": "x" * 1500}})

RECEIVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)


def build() -> tuple[Account, User]:
    call_command("migrate", verbosity=0)
    groups = ensure_role_groups()
    with transaction.atomic():
        account = Account.objects.create(code="bench", name="Bench Clinic")
        room = Room.objects.create(account=account, code="main", name="Main room", max_waiting_time=None)
        admin = User.objects.create(account=account, username="admin", password=make_password("x"))
        admin.groups.add(groups[CLINIC_ADMIN])
        doctor = User.objects.create(account=account, username="dr", password=make_password("x"))
        doctor.groups.add(groups[PROVIDER])
        Provider.objects.create(account=account, user=doctor, title="MD").rooms.add(room)
        patients = User.objects.bulk_create(
            User(account=account, username=f"pat{n}", password="!") for n in range(2 * WALKINS)
        )
        members = Member.objects.bulk_create(
            Member(account=account, user=u, code=f"P-{n:05d}", first_name="Pat", last_name=f"Jones {n}")
            for n, u in enumerate(patients)
        )
        Intake.objects.bulk_create(
            Intake(account=account, room=room, member=m, reason_for_visit="Rash", location="CA")
            for m in members
        )
    return account, admin


def start_receiver() -> tuple[subprocess.Popen, int]:
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    return receiver, int(receiver.stdout.readline())


def purge_webhooks_queue() -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("webhooks")


def deliveries_per_second(endpoint: Endpoint, port: int) -> tuple[float, float, int]:
    """(ours, floor, queries per delivery)."""
    rows = Delivery.objects.bulk_create(
        Delivery(
            endpoint=endpoint,
            event_type="visit.created",
            payload=PAYLOAD,
            webhook_id=f"msg_bench{n}",
            ordering_key=f"visit:{n}",
            next_attempt_at=endpoint.created,
        )
        for n in range(DELIVERIES + 1)
    )
    services.delivery_attempt(delivery_id=rows[0].pk)  # warm: the connection pool, the statements
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        services.delivery_attempt(delivery_id=rows[1].pk)
    started = time.perf_counter()
    for row in rows[2:]:
        services.delivery_attempt(delivery_id=row.pk)
    ours = (len(rows) - 2) / (time.perf_counter() - started)
    assert Delivery.objects.filter(status="delivered").count() == len(rows)

    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1)
    body = PAYLOAD.encode()
    headers = {"Content-Type": "application/json"}
    pool.urlopen("POST", "/hook", body=body, headers=headers)
    started = time.perf_counter()
    for _ in range(len(rows) - 2):
        assert pool.urlopen("POST", "/hook", body=body, headers=headers, retries=False).status == 204
    floor = (len(rows) - 2) / (time.perf_counter() - started)
    return ours, floor, len(queries)


def walkin_p50s(
    account: Account, member_tokens: list[str], endpoint: Endpoint
) -> tuple[float, float, int, int]:
    """p50 of add_walkin with the endpoint on and off, alternating; queries of one of each."""
    client = APIClient()
    intakes = list(Intake.objects.order_by("member__pk").values_list("pk", flat=True))
    times = {True: [], False: []}
    query_counts = {}
    for n, (intake_id, token) in enumerate(zip(intakes, member_tokens, strict=True)):
        listening = n % 2 == 0
        Endpoint.objects.filter(pk=endpoint.pk).update(active=listening)
        headers = {"HTTP_X_ACCOUNTCODE": account.code, "HTTP_X_APITOKEN": token}
        body = {"intake_id": str(intake_id), "room_code": "main"}
        connection.queries_log.clear()  # the capture counts what the log gains, and the log is bounded
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            answer = client.post("/api/v3/visits/add_walkin", body, format="json", **headers)
            elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 201, answer.content
        if n >= 20:  # the first few warm the process up
            times[listening].append(elapsed)
        query_counts[listening] = len(queries)
    written = Delivery.objects.filter(event_type="visit.created").count()
    assert written == len(intakes) // 2, written
    return (
        statistics.median(times[True]),
        statistics.median(times[False]),
        query_counts[True],
        query_counts[False],
    )


def main() -> None:
    account, admin = build()
    receiver, port = start_receiver()
    try:
        endpoint = services.endpoint_create(
            account=account, actor=admin, url=f"http://127.0.0.1:{port}/hook", events=["visit.created"]
        )
        ours, floor, per_delivery = deliveries_per_second(endpoint, port)
        print(
            f"deliveries, one process: {ours:.0f}/s against bare pooled POSTs {floor:.0f}/s: "
            f"ratio {floor / ours:.2f} ({per_delivery} queries per delivery)"
        )
        Delivery.objects.all().delete()
        tokens = [
            api_token_issue(user=user)["token"]
            for user in User.objects.filter(username__startswith="pat").order_by("member__pk")
        ]
        with_hook, without, q_with, q_without = walkin_p50s(account, tokens, endpoint)
        print(
            f"POST /visits/add_walkin p50: {with_hook:.1f} ms with an endpoint, {without:.1f} ms without: "
            f"+{with_hook - without:.1f} ms, ratio {with_hook / without:.2f} "
            f"(queries {q_with} / {q_without}; broker {app.conf.broker_url.split('://')[0]})"
        )
    finally:
        receiver.terminate()
        receiver.wait()
        purge_webhooks_queue()


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    main()
