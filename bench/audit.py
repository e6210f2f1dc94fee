"""Audit trail benchmark: what writing the trail costs the hot paths that show many patients at once.

Data: the provider dashboard's data set (bench/dashboard.py: 20 rooms, 200 providers, 6,000 waiting visits,
200,000 historical ones), built in this script's own database `clinic_bench_audit`, plus a trail of
1,000,000 earlier events, so that the inserts go into indexes of a realistic size.

Measured in one run and one process, requests taking turns among four modes so that all see the same
machine load (see `_mode`): "off" swaps `clinic.audit.audit_record_many` for a no-op (the code as it was
before the trail, otherwise identical); "first sight" records every row (one insert, committed without
waiting for the WAL flush: AUDIT_ASYNC_READ_COMMIT); "shown again" is the steady state of a refreshing
list, rows recorded within AUDIT_LIST_REPEAT_SECONDS (a cache lookup, no insert); "sync" is first sight
waiting for the WAL flush:
- the queue partial (GET /dashboard/queues/ as htmx, queue changed: 50 rows, recorded in one insert);
- GET /api/v3/visits as a provider (about 1,000 visits): the default page of 20, and a page of 100;
- the recorder alone: one call recording 50 visits.

Usage: .venv/bin/python bench/audit.py [--rebuild]   (DATABASE_URL names the server)
"""

import os
import statistics
import time

from _setup import bench_django

bench_django("clinic_bench_audit")

import dashboard  # noqa: E402  (its data set and its URLs; the database stays this script's)
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from clinic import audit  # noqa: E402
from clinic.models import AuditEvent, Member, Provider, User  # noqa: E402
from clinic.services import api_token_issue  # noqa: E402
from visits.models import Visit  # noqa: E402

TRAIL = 1_000_000
RUNS = 200
recorder = audit.audit_record_many


def _off(*args, **kwargs) -> int:
    return 0


def prefill_trail(account) -> None:
    if AuditEvent.objects.filter(account=account).count() >= TRAIL:
        return
    started = time.perf_counter()
    print(f"writing a trail of {TRAIL} events (once)...", flush=True)
    members = list(Member.objects.filter(account=account).values_list("pk", flat=True))
    users = list(User.objects.filter(account=account).values_list("pk", flat=True))
    visits = list(Visit.objects.filter(account=account).values_list("pk", flat=True)[:100_000])
    now = timezone.now()
    columns = ["account_id", "at", "user_id", "member_id", "action", "object_type", "object_id", "ip", "via"]
    columns.append("detail")
    dashboard.copy_rows(
        AuditEvent._meta.db_table,
        columns,
        (
            (
                account.pk,
                now - timezone.timedelta(seconds=(TRAIL - n) * 30),
                users[n % len(users)],
                members[n % len(members)],
                "list" if n % 3 else "read",
                "visit",
                str(visits[n % len(visits)]),
                "10.0.0.1",
                "page",
                "",
            )
            for n in range(TRAIL)
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clinic_auditevent")
    print(f"written in {time.perf_counter() - started:.0f} s", flush=True)


MODES = ("off", "insert", "repeat", "sync")


def _mode(name: str) -> None:
    """off: no recorder. insert: every row recorded as if shown for the first time (one insert, committed
    without the WAL flush wait). repeat: as shipped, the same rows shown again within
    AUDIT_LIST_REPEAT_SECONDS (no insert). sync: as insert, waiting for the WAL flush."""
    audit.audit_record_many = _off if name == "off" else recorder
    settings.AUDIT_ASYNC_READ_COMMIT = name != "sync"
    settings.AUDIT_LIST_REPEAT_SECONDS = 300 if name == "repeat" else 0


def modes_p50_ms(client: Client, url: str, headers: dict) -> dict[str, float]:
    """p50 of each mode, the modes taking turns (and turns about who goes first) run by run."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for run in range(RUNS):
        for mode in MODES[run % 4 :] + MODES[: run % 4]:
            _mode(mode)
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            times[mode].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    _mode("repeat")
    return {mode: statistics.median(values) for mode, values in times.items()}


def counted(client: Client, url: str, headers: dict) -> tuple[int, int]:
    """(queries, of which inserts into the trail) of one request; the insert comes with its BEGIN and
    COMMIT."""
    with CaptureQueriesContext(connection) as ctx:
        client.get(url, headers=headers)
    sqls = [q["sql"].replace('"', "") for q in ctx.captured_queries]
    inserts = sum(sql.startswith("INSERT INTO clinic_auditevent") for sql in sqls)
    return len(ctx.captured_queries), inserts


def recorder_alone_ms(provider: Provider) -> dict[str, float]:
    visits = list(Visit.objects.filter(account=provider.account_id).only("pk", "member_id")[:50])
    actor = audit.Actor(account_id=provider.account_id, user_id=provider.user_id, ip="10.0.0.1", via="page")
    times: dict[str, list[float]] = {"insert": [], "sync": []}
    for run in range(RUNS):
        for mode in ("insert", "sync") if run % 2 else ("sync", "insert"):
            _mode(mode)
            started = time.perf_counter()
            recorder(actor, audit.Action.LIST, visits)
            times[mode].append((time.perf_counter() - started) * 1000)
    _mode("repeat")
    return {mode: statistics.median(values) for mode, values in times.items()}


def main() -> None:
    call_command("migrate", verbosity=0)
    account = dashboard.build()
    dashboard.spread_waiting_times(account)
    prefill_trail(account)
    # The dashboard bench's provider (600 waiting in their rooms), and one with a long history (the first
    # provider of the data set has none: its share of the history is all cancelled visits).
    providers = Provider.objects.filter(account=account).order_by("id").select_related("user")
    provider, listing = providers[0], providers[1]
    theirs = Visit.objects.filter(provider=listing).count()
    page = Client()
    page.force_login(provider.user)
    api = Client()
    api_headers = {"X-AccountCode": account.code, "X-ApiToken": api_token_issue(user=listing.user)["token"]}
    htmx = {"HX-Request": "true"}
    with override_settings(ROOT_URLCONF=dashboard.__name__, DEBUG=False):
        cases = [
            ("queue partial (50 rows)", page, reverse("visits:queues"), htmx),
            ("GET /visits, 20 rows", api, "/api/v3/visits", api_headers),
            ("GET /visits, 100 rows", api, "/api/v3/visits?limit=100", api_headers),
        ]
        for _, client, url, headers in cases:
            for _ in range(20):  # warm up
                client.get(url, headers=headers)
        results = []
        for name, client, url, headers in cases:
            p50 = modes_p50_ms(client, url, headers)
            _mode("insert")
            queries, inserts = counted(client, url, headers)
            _mode("repeat")
            repeat_queries = counted(client, url, headers)[0]
            _mode("off")
            results.append((name, p50, queries, inserts, repeat_queries, counted(client, url, headers)[0]))
        _mode("repeat")
    alone = recorder_alone_ms(provider)
    trail = AuditEvent.objects.filter(account=account).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('clinic_auditevent'))")
        size = cursor.fetchone()[0]

    print(
        f"data: {dashboard.WALKINS + dashboard.ECONSULTS} waiting, {dashboard.HISTORY} historical visits, "
        f"the listing provider's {theirs} visits; the trail holds {trail} events ({size} with its indexes)"
    )
    for name, p50, queries, inserts, repeat_queries, before in results:
        off = p50["off"]
        print(
            f"{name:22} not recording {off:.2f} ms, {before} queries | first sight {p50['insert']:.2f} ms "
            f"(ratio {p50['insert'] / off:.3f}, {queries} queries, {inserts} insert) | shown again "
            f"{p50['repeat']:.2f} ms (ratio {p50['repeat'] / off:.3f}, {repeat_queries} queries) | "
            f"first sight waiting for the WAL flush {p50['sync']:.2f} ms (ratio {p50['sync'] / off:.3f})"
        )
    print(
        f"recorder alone, 50 visits in one insert: p50 {alone['insert']:.2f} ms, "
        f"with the WAL flush wait {alone['sync']:.2f} ms"
    )
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
