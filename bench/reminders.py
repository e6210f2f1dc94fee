"""Appointment reminders: one beat's sweep over 10,000 reminders that are due, against one bare query
selecting them.

Data (PostgreSQL database `clinic_bench_remind`, rebuilt on every run: a sweep uses its reminders up): one
clinic, one room, 10,000 patients (email, consent to email), each with an appointment tomorrow and its
reminder due now.

Figures, in the same run:
- ours: `reminders.services.reminders_sweep()` until nothing is left (batches of SWEEP_BATCH): each due
  reminder re-checked against its appointment, three signed links issued, the clinic's template rendered
  (subject, text, HTML), the message row written once per dedupe key, the deliveries enqueued after commit
  (50 messages per task, to the broker; the queue is purged after). Sending is not timed: that is the mail
  server's time;
- floor: one bare SQL query selecting the same due reminders with their appointments and patients.

Usage: .venv/bin/python bench/reminders.py   (DATABASE_URL names the server; the database name in it is
replaced by clinic_bench_remind. CELERY_BROKER_URL: where the deliveries go; they are purged.)
"""

import datetime as dt
import statistics
import sys
import time

from _setup import bench_django

sys.argv.append("--rebuild")
bench_django("clinic_bench_remind", LOG_LEVEL="WARNING")

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from clinic.celery import app  # noqa: E402
from clinic.models import Account, Member, Room  # noqa: E402
from messaging.models import Channel, Consent, Message, MessageStatus  # noqa: E402
from reminders.models import ScheduledReminder  # noqa: E402
from reminders.services import SWEEP_BATCH, reminders_sweep  # noqa: E402
from visits.models import Visit, VisitStatus, VisitType  # noqa: E402

APPOINTMENTS = 10_000
FLOOR_RUNS = 5
BARE = f"""
SELECT r.id, r.offset, r.start, r.not_after, v.id, v.status, v.start, v."end", m.id, m.first_name, m.email
FROM {ScheduledReminder._meta.db_table} r
JOIN {Visit._meta.db_table} v ON v.id = r.visit_id
JOIN {Member._meta.db_table} m ON m.id = v.member_id
WHERE r.done_at IS NULL AND r.send_at <= %s
ORDER BY r.send_at
"""


def build(now: dt.datetime) -> None:
    call_command("migrate", verbosity=0)
    with transaction.atomic():
        account = Account.objects.create(code="bench", name="Bench Clinic")
        room = Room.objects.create(account=account, code="main", name="Main room")
        members = Member.objects.bulk_create(
            Member(
                account=account,
                code=f"P-{n:05d}",
                first_name="Pat",
                last_name=f"Jones {n}",
                email=f"pat{n}@example.org",
            )
            for n in range(APPOINTMENTS)
        )
        Consent.objects.bulk_create(
            Consent(account=account, member=m, channel=Channel.EMAIL, granted=True, source="bench")
            for m in members
        )
        tomorrow = now + dt.timedelta(days=1)
        # Without a provider (TBD), so that no double-booking constraint limits the times.
        visits = Visit.objects.bulk_create(
            Visit(
                account=account,
                room=room,
                type=VisitType.SCHEDULED,
                status=VisitStatus.WAITING,
                member=m,
                start=tomorrow + dt.timedelta(minutes=n % 480),
                end=tomorrow + dt.timedelta(minutes=n % 480 + 15),
            )
            for n, m in enumerate(members)
        )
        ScheduledReminder.objects.bulk_create(
            ScheduledReminder(
                account=account,
                visit=v,
                offset=1440,
                start=v.start,
                send_at=now - dt.timedelta(minutes=1),
                not_after=v.start,
            )
            for v in visits
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def floor(now: dt.datetime) -> float:
    times = []
    for _ in range(FLOOR_RUNS):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(BARE, [now])
            rows = cursor.fetchall()
        times.append(time.perf_counter() - started)
    assert len(rows) == APPOINTMENTS, len(rows)
    return statistics.median(times)


def sweep(now: dt.datetime) -> tuple[float, int, int]:
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        written = 0
        while batch := reminders_sweep(now=now):
            written += batch
        elapsed = time.perf_counter() - started
    return elapsed, written, len(queries)


def main() -> None:
    now = timezone.now()
    build(now)
    bare = floor(now)
    ours, written, queries = sweep(now)
    assert written == APPOINTMENTS, written
    assert Message.objects.filter(status=MessageStatus.PENDING).count() == APPOINTMENTS
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("messages")
    print(
        f"reminder sweep, {APPOINTMENTS:,} due: {ours * 1000:,.0f} ms "
        f"({ours / APPOINTMENTS * 1e6:.0f} µs each) against one bare query selecting them "
        f"{bare * 1000:.1f} ms"
    )
    print(f"ratio: {ours / bare:.1f}")
    print(
        f"queries: {queries} in all for {APPOINTMENTS // SWEEP_BATCH + 1} batches of {SWEEP_BATCH} "
        f"(floor 1); broker {app.conf.broker_url.split('://')[0]}"
    )


if __name__ == "__main__":
    main()
