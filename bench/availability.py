"""Availability benchmark: GET /api/v3/availability for a busy room, against a serialisation floor.

Data (PostgreSQL database `clinic_bench_avail`, built once and reused; `--rebuild` starts over): one
clinic, one room (America/Los_Angeles, 15-minute grid, 5-minute buffers), 50 providers working
Monday-Friday 08:00-18:00 and Saturday 09:00-13:00 in their own zones (a third in New York), each with a
half day off in the fortnight, and 5,000 booked appointments in the 14 days measured (2030-01-07 onwards,
so the data stays in the future); and two years of history before it, about 125,000 completed appointments
and 42,000 walk-ins nobody took (added to an older data set on the next run), which availability must not
read.

Figures, in the same run and process, each a p50 over RUNS requests, interleaved:
- the endpoint (14 days, 15-minute consultation, member token) on the first call after a change: before
  each, untimed, one appointment is rescheduled through the booking service (to and fro between two free
  times of one provider), so the cached answer is stale and that provider's slots are computed again;
- the endpoint on a repeated call (nothing changed since the previous one: the cached answer);
- the endpoint with nothing cached (every provider computed; the cache is cleared before each), for
  reference;
- the floor: a bare DRF view with the same authentication returning the same slots, precomputed, as
  plain dicts (what any implementation must at least pay to authenticate and serialise that answer);
- the ratios to the floor of the first two, each as `ratio: N`.

Usage: .venv/bin/python bench/availability.py [--rebuild]   (DATABASE_URL names the server; the database
name in it is replaced by clinic_bench_avail.)
"""

import contextlib
import datetime as dt
import os
import random
import statistics
import time
import zoneinfo

from _setup import bench_django

bench_django("clinic_bench_avail")

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from clinic import urls as clinic_urls  # noqa: E402
from clinic.api_base import ok  # noqa: E402
from clinic.models import Account, Consultation, Member, Provider, ProviderLicense, Room, User  # noqa: E402
from clinic.roles import FRONT_DESK, PROVIDER, ensure_role_groups  # noqa: E402
from clinic.services import api_token_issue  # noqa: E402
from scheduling.models import ScheduleException, WorkingHours  # noqa: E402
from scheduling.selectors import free_slots  # noqa: E402
from scheduling.services import appointment_update, schedule_versions_bump  # noqa: E402
from visits.models import Visit, VisitStatus, VisitType  # noqa: E402

# 150 interleaved runs: with 60, the ratio moved by a whole point between runs on a loaded machine.
PROVIDERS, BOOKINGS, DAYS, RUNS = 50, 5_000, 14, 150
LA = zoneinfo.ZoneInfo("America/Los_Angeles")
FIRST_DAY = dt.date(2030, 1, 7)  # a Monday
START = dt.datetime.combine(FIRST_DAY, dt.time(0), tzinfo=LA)
END = START + dt.timedelta(days=DAYS)
QUARTER = dt.timedelta(minutes=15)
BUFFER = dt.timedelta(minutes=5)


def build() -> None:
    if Account.objects.filter(code="bench").exists():
        return
    print("building the data set ...", flush=True)
    rng = random.Random(7)
    groups = ensure_role_groups()
    with transaction.atomic():
        account = Account.objects.create(code="bench", name="Bench clinic")
        room = Room.objects.create(
            account=account,
            code="main",
            name="Main",
            time_zone="America/Los_Angeles",
            slot_interval=900,
            buffer_before=int(BUFFER.total_seconds()),
            buffer_after=int(BUFFER.total_seconds()),
        )
        Consultation.objects.create(room=room, description="Visit", duration=900)
        users = User.objects.bulk_create(
            User(account=account, username=f"dr{i}", first_name="Dr", last_name=f"No{i}")
            for i in range(PROVIDERS)
        )
        groups[PROVIDER].user_set.add(*users)
        providers = Provider.objects.bulk_create(
            Provider(
                account=account,
                user=u,
                title="MD",
                time_zone="America/New_York" if i % 3 == 0 else "America/Los_Angeles",
            )
            for i, u in enumerate(users)
        )
        room.providers.add(*providers)
        ProviderLicense.objects.bulk_create(ProviderLicense(provider=p, state="CA") for p in providers)
        rules, exceptions = [], []
        for p in providers:
            week = [(d, dt.time(8), dt.time(18)) for d in range(5)] + [(5, dt.time(9), dt.time(13))]
            rules += [
                WorkingHours(account=account, provider=p, room=room, weekday=d, start_time=a, end_time=b)
                for d, a, b in week
            ]
            off = FIRST_DAY + dt.timedelta(days=rng.randrange(DAYS))
            exceptions.append(ScheduleException(account=account, provider=p, start_date=off, end_date=off,
                                                start_time=dt.time(13), end_time=dt.time(18)))  # fmt: skip
        WorkingHours.objects.bulk_create(rules)
        ScheduleException.objects.bulk_create(exceptions)
        members = Member.objects.bulk_create(
            Member(account=account, code=f"M{i}", first_name="Pat", last_name=f"No{i}") for i in range(500)
        )
        # 100 appointments per provider on weekdays, 08:00-18:00 local, each 15 min plus buffers:
        # a 25-minute grid keeps them apart, as booking through the guard would.
        visits = []
        for p in providers:
            zone = zoneinfo.ZoneInfo(p.time_zone)
            weekdays = [
                FIRST_DAY + dt.timedelta(days=d)
                for d in range(DAYS)
                if (FIRST_DAY + dt.timedelta(days=d)).weekday() < 5
            ]
            candidates = [
                dt.datetime.combine(day, dt.time(8), tzinfo=zone) + dt.timedelta(minutes=30 * k)
                for day in weekdays
                for k in range(20)
            ]
            for start in rng.sample(candidates, BOOKINGS // PROVIDERS):
                visits.append(
                    Visit(
                        account=account, room=room, type=VisitType.SCHEDULED, status=VisitStatus.WAITING,
                        member=rng.choice(members), provider=p, start=start, end=start + QUARTER,
                        busy_start=start - BUFFER, busy_end=start + QUARTER + BUFFER,
                    )
                )  # fmt: skip
        Visit.objects.bulk_create(visits, batch_size=1000)
        # Bulk writes pass the services by: they bump the versions themselves, as the services would.
        schedule_versions_bump(provider_ids=[p.pk for p in providers])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# Two years of the clinic's past, which availability must not read: completed appointments of every
# provider, and walk-ins nobody took (no provider, like a TBD appointment, but closed).
HISTORY_SQL = """
INSERT INTO visits_visit (type, status, start, "end", busy_start, busy_end, close_reason, notes, created,
                          modified, account_id, room_id, member_id, provider_id)
SELECT 2, 30, t, t + interval '15 minutes', t - interval '5 minutes', t + interval '20 minutes', '', '',
       t, t, r.account_id, r.id, m.id, p.id
FROM clinic_room r
JOIN LATERAL (SELECT id FROM clinic_member WHERE account_id = r.account_id LIMIT 1) m ON true
JOIN clinic_provider p ON p.account_id = r.account_id
CROSS JOIN generate_series(timestamptz '2027-01-04 17:00+00', timestamptz '2028-12-29 17:00+00',
                           interval '7 hours') t
WHERE r.account_id = %(account)s
UNION ALL
SELECT 1, 40, NULL, NULL, NULL, NULL, 'max_waiting_time_reached', '', t, t, r.account_id, r.id, m.id, NULL
FROM clinic_room r
JOIN LATERAL (SELECT id FROM clinic_member WHERE account_id = r.account_id LIMIT 1) m ON true
CROSS JOIN generate_series(timestamptz '2027-01-01', timestamptz '2028-12-31', interval '25 minutes') t
WHERE r.account_id = %(account)s
"""


def build_history() -> None:
    account = Account.objects.get(code="bench")
    if Visit.objects.filter(account=account, status=VisitStatus.COMPLETED).exists():
        return
    print("adding the clinic's history ...", flush=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(HISTORY_SQL, {"account": account.pk})
        cursor.execute("ANALYZE visits_visit")


class FloorApi(APIView):
    """Same authentication and permission as the endpoint; the answer is ready-made."""

    slots: list = []

    def get(self, request):
        return ok(self.slots)


urlpatterns = [*clinic_urls.urlpatterns, path("api/v3/bench-floor", FloorApi.as_view())]


@contextlib.contextmanager
def counting():
    """Count statements sent to the database (robust against the per-request reset of the query log)."""
    executed: list[str] = []

    def wrapper(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield executed


def timed(call) -> float:
    t0 = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - t0
    assert getattr(result, "status_code", 200) == 200, result.content[:300]
    return elapsed


def main() -> None:
    call_command("migrate", verbosity=0)
    build()
    build_history()
    account = Account.objects.get(code="bench")
    consultation = Consultation.objects.get(room__account=account)
    stamp = time.time_ns()
    member_user = User.objects.create(account=account, username=f"bench-{stamp}")
    desk = User.objects.create(account=account, username=f"bench-desk-{stamp}")
    desk.groups.add(ensure_role_groups()[FRONT_DESK])
    headers = {"X-AccountCode": "bench", "X-ApiToken": api_token_issue(user=member_user)["token"]}
    params = {
        "room_code": "main",
        "start": int(START.timestamp()),
        "end": int(END.timestamp()),
        "consultation_id": consultation.pk,
    }
    booked = Visit.objects.filter(
        account=account, start__gte=START, start__lt=END, status=VisitStatus.WAITING
    ).count()
    client = Client()
    room = Room.objects.get(account=account)
    with override_settings(ROOT_URLCONF=__name__):
        with counting() as queries:
            answer = client.get("/api/v3/availability", params, headers=headers).json()["data"]
        with counting() as repeated_queries:
            client.get("/api/v3/availability", params, headers=headers)
        FloorApi.slots = answer
        pairs = sum(len(s["provider_ids"]) for s in answer)

        # The change: one appointment moves to and fro between its time and a free time of its provider.
        moved = Visit.objects.filter(account=account, status=VisitStatus.WAITING, start__gte=START).earliest(
            "start", "id"
        )
        free = next(
            s for s in answer if moved.provider_id in s["provider_ids"] and s["start"] > START.timestamp()
        )
        times = [dt.datetime.fromtimestamp(free["start"], dt.UTC), moved.start]
        changes = 0

        def change():
            nonlocal changes
            appointment_update(account=account, actor=desk, visit_id=moved.pk, start=times[changes % 2])
            changes += 1

        def call():
            return client.get("/api/v3/availability", params, headers=headers)

        for _ in range(5):  # warm every path
            change()
            call()
            client.get("/api/v3/bench-floor", headers=headers)
        change()
        with counting() as changed_queries:
            call()
        timings: dict[str, list[float]] = {
            "changed": [],
            "repeated": [],
            "cold": [],
            "floor": [],
            "selector": [],
        }
        load_before = os.getloadavg()[0]
        for _ in range(RUNS):
            change()
            timings["changed"].append(timed(call))
            timings["repeated"].append(timed(call))
            timings["floor"].append(timed(lambda: client.get("/api/v3/bench-floor", headers=headers)))
            cache.clear()
            timings["cold"].append(timed(call))
            timings["selector"].append(
                timed(lambda: free_slots(room=room, slot_length=900, start=START, end=END))
            )
        load_after = os.getloadavg()[0]
        if changes % 2:
            change()  # the appointment back at its own time
        figures = {name: statistics.median(values) for name, values in timings.items()}
        with counting() as floor_queries:
            client.get("/api/v3/bench-floor", headers=headers)
    member_user.delete()
    desk.delete()
    floor = figures["floor"]
    past = Visit.objects.filter(account=account).exclude(status=VisitStatus.WAITING).count()
    print(f"data: {PROVIDERS} providers, {booked} booked appointments in {DAYS} days, {past} past visits")
    print(f"answer: {len(answer)} slots, {pairs} provider-slot pairs")
    print(f"floor p50: {floor * 1000:.1f} ms, {len(floor_queries)} queries (bare DRF view, same auth)")
    print(
        f"nothing cached p50: {figures['cold'] * 1000:.1f} ms, {len(queries)} queries "
        f"(x{figures['cold'] / floor:.2f}; free_slots() alone, uncached: {figures['selector'] * 1000:.1f} ms)"
    )
    print(
        f"first call after a change (one appointment rescheduled) p50: {figures['changed'] * 1000:.1f} ms, "
        f"{len(changed_queries)} queries"
    )
    print(f"ratio: {figures['changed'] / floor:.2f}")
    print(f"repeated call p50: {figures['repeated'] * 1000:.1f} ms, {len(repeated_queries)} queries")
    print(f"ratio: {figures['repeated'] / floor:.2f}")
    cores = os.cpu_count()
    print(f"load average (1 min): {load_before:.1f} before timing, {load_after:.1f} after, {cores} cores")


if __name__ == "__main__":
    main()
