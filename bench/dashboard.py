"""Provider dashboard benchmark: the queue partial, the unchanged refresh, and the max-waiting-time closure.

Data (PostgreSQL database `clinic_bench_dash`, built once and reused; `--rebuild` starts over): one clinic
with 20 rooms, 200 providers (each in 2 rooms, so 20 per room), 5,000 waiting walk-ins, 1,000 waiting
e-consults and 200,000 closed historical visits.

Figures, each against a floor measured in the same run and process:
- the queue partial (GET /dashboard/queues/ as htmx, version changed) for one provider with 600 waiting,
  p50 and queries (checked equal to those of a provider with 6 waiting), against a bare view running one
  raw SQL query returning the same rows and counts (age and sex included) and who left unseen today,
  rendered minimally;
- the unchanged refresh (same version: 204, no body), against a bare logged-in view answering 204;
- closing 10,000 overdue visits with visits_close_overdue, against one bare UPDATE of the same rows.
Each ratio is printed as `ratio: N` too.

Usage: .venv/bin/python bench/dashboard.py [--rebuild]   (DATABASE_URL names the server; the database
name in it is replaced by clinic_bench_dash, or by BENCH_DB when set: a branch whose migrations differ
from the one that built clinic_bench_dash needs a data set of its own.)
"""

import html
import io
import json
import os
import statistics
import time
import uuid
import zoneinfo

from _setup import bench_django

bench_django(os.environ.get("BENCH_DB", "clinic_bench_dash"))

from django.conf import settings  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.urls import path, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from clinic import urls as clinic_urls  # noqa: E402
from clinic.models import Account, Member, Provider, ProviderLicense, Room, User  # noqa: E402
from clinic.roles import PROVIDER, ensure_role_groups  # noqa: E402
from visits.models import Intake, Priority, Visit, VisitEvent, VisitStatus, VisitType  # noqa: E402
from visits.services import visits_close_overdue  # noqa: E402

ROOMS, PROVIDERS, WALKINS, ECONSULTS, HISTORY, OVERDUE = 20, 200, 5_000, 1_000, 200_000, 10_000
MEMBERS = 20_000
RUNS = 200
STATES = ["CA", "CA", "CA", "NY", "TX"]

# --- the floors ----------------------------------------------------------------------------------------

BARE_QUEUE_SQL = """
SELECT * FROM (
  SELECT v.id, v.type, v.created, m.first_name, m.last_name, i.reason_for_visit, i.location, i.custom,
         r.name, r.max_waiting_time, m.dob, m.gender,
         (i.location IS NULL OR i.location = '' OR EXISTS (
            SELECT 1 FROM clinic_providerlicense l WHERE l.provider_id = p.id AND l.state = i.location
         )) AS licensed,
         row_number() OVER (PARTITION BY v.type ORDER BY v.created, v.id) AS position,
         count(*) OVER (PARTITION BY v.type) AS total
  FROM clinic_provider p
  JOIN clinic_provider_rooms pr ON pr.provider_id = p.id
  JOIN visits_visit v ON v.room_id = pr.room_id
  JOIN clinic_room r ON r.id = v.room_id
  LEFT JOIN visits_intake i ON i.id = v.intake_id
  LEFT JOIN clinic_member m ON m.id = v.member_id
  WHERE p.user_id = %s AND v.account_id = p.account_id AND v.status = 10 AND v.type IN (1, 3)
    AND (v.provider_id IS NULL OR v.provider_id = p.id)
) q WHERE position <= %s
UNION ALL
-- who left the provider's rooms' queues unseen today (the rooms' zones applied in Python, as ours does)
SELECT v.id, 0, v.created, m.first_name, m.last_name, v.close_reason, r.time_zone, '{}', r.name, NULL,
       v.modified, NULL, true, 0, 0
FROM clinic_provider p
JOIN clinic_provider_rooms pr ON pr.provider_id = p.id
JOIN visits_visit v ON v.room_id = pr.room_id
JOIN clinic_room r ON r.id = v.room_id
LEFT JOIN clinic_member m ON m.id = v.member_id
WHERE p.user_id = %s AND v.account_id = p.account_id AND v.status = 40 AND v.actual_start IS NULL
  AND v.close_reason IN ('max_waiting_time_reached', 'patient_exit_room') AND v.type IN (1, 3)
  AND v.modified >= now() - interval '25 hours'
ORDER BY 2, 14
"""


@login_required
def bare_queue(request):
    """The floor: one raw query for both queues' first page and totals and who left unseen today, rendered
    with string joins."""
    with connection.cursor() as cursor:
        cursor.execute(BARE_QUEUE_SQL, [request.user.pk, settings.QUEUE_PAGE_SIZE, request.user.pk])
        rows = cursor.fetchall()
    now = timezone.now()
    out = io.StringIO()
    for row in rows:
        if row[1] == 0:
            if row[10] >= now.astimezone(zoneinfo.ZoneInfo(row[6])).replace(hour=0, minute=0, second=0):
                out.write(
                    f"<li>{html.escape(row[3])} {html.escape(row[4])} {row[5]} {html.escape(row[8])}</li>"
                )
            continue
        fields = "".join(
            f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in json.loads(row[7]).items()
        )
        out.write(
            f'<li id="visit-{row[0]}" data-waited="{int((now - row[2]).total_seconds())}">'
            f"{html.escape(row[3])} {html.escape(row[4])} {row[10]} {row[11]} {html.escape(row[5])} {row[6]} "
            f"{fields} {html.escape(row[8])} {row[12]} {row[14]}</li>"
        )
    return HttpResponse(out.getvalue())


@login_required
def bare_204(request):
    """The floor of any refresh: a logged-in request answered with 204 and no work."""
    return HttpResponse(status=204)


urlpatterns = [
    *clinic_urls.urlpatterns,
    path("bench/bare-queue/", bare_queue),
    path("bench/bare-204/", bare_204),
]

# --- data ----------------------------------------------------------------------------------------------


# Columns without a database default that COPY must fill: no close reason, notes or closing note, normal
# priority, a meeting id of its own.
BLANK_COLUMNS = ("close_reason", "notes", "close_note", "priority", "meeting_id")


def blank() -> tuple:
    return ("", "", "", Priority.NORMAL, uuid.uuid4())


def copy_rows(table: str, columns: list[str], rows) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3: COPY at full speed
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def build() -> Account:
    account = Account.objects.filter(code="bench").first()
    if account and Visit.objects.filter(account=account).count() >= WALKINS + ECONSULTS + HISTORY:
        return account
    started = time.perf_counter()
    print("building the data set (once)...", flush=True)
    groups = ensure_role_groups()
    Account.objects.filter(code="bench").delete()
    account = Account.objects.create(code="bench", name="Bench clinic")
    rooms = Room.objects.bulk_create(
        Room(account=account, code=f"room{n:02d}", name=f"Room {n:02d}", max_waiting_time=8 * 3600)
        for n in range(ROOMS)
    )
    password = make_password("bench-pass")
    users = User.objects.bulk_create(
        User(
            account=account,
            username=f"dr{n:03d}",
            first_name="Doc",
            last_name=f"Tor{n:03d}",
            password=password,
        )
        for n in range(PROVIDERS)
    )
    User.groups.through.objects.bulk_create(
        User.groups.through(user_id=user.pk, group_id=groups[PROVIDER].pk) for user in users
    )
    providers = Provider.objects.bulk_create(
        Provider(account=account, user=user, title="MD") for user in users
    )
    Provider.rooms.through.objects.bulk_create(
        Provider.rooms.through(provider_id=p.pk, room_id=rooms[(n + k) % ROOMS].pk)
        for n, p in enumerate(providers)
        for k in (0, 1)
    )
    ProviderLicense.objects.bulk_create(
        ProviderLicense(provider=p, state=state) for p in providers for state in ("CA", "NY")
    )
    members = Member.objects.bulk_create(
        (
            Member(account=account, code=f"M{n:06d}", first_name=f"Pat{n}", last_name="Bench", state="CA")
            for n in range(MEMBERS)
        ),
        batch_size=5000,
    )
    now = timezone.now()
    waiting = []
    for n in range(WALKINS + ECONSULTS):
        room = rooms[n % ROOMS]
        member = members[n % MEMBERS]
        intake = Intake(
            account=account,
            room=room,
            member=member,
            reason_for_visit=f"Reason {n}",
            location=STATES[n % len(STATES)],
            custom={"custom_symptoms": "Cough, fever", "custom_is_allergic": "No"},
        )
        waiting.append((intake, VisitType.WALKIN if n < WALKINS else VisitType.ECONSULT))
    Intake.objects.bulk_create([intake for intake, _ in waiting], batch_size=5000)
    columns = [
        "account_id",
        "room_id",
        "type",
        "status",
        "member_id",
        "intake_id",
        "start",
        "created",
        "modified",
    ]
    copy_rows(
        Visit._meta.db_table,
        [*columns, *BLANK_COLUMNS],
        (
            (account.pk, i.room_id, t, VisitStatus.WAITING, i.member_id, i.pk, now, now, now, *blank())
            for i, t in waiting
        ),
    )
    day = 86_400

    def history():
        for n in range(HISTORY):
            at = now - timezone.timedelta(seconds=day + (n * 157) % (365 * day))
            done = n % 4 != 0
            yield (
                account.pk,
                rooms[n % ROOMS].pk,
                VisitType.WALKIN if n % 3 else VisitType.ECONSULT,
                VisitStatus.COMPLETED if done else VisitStatus.CANCELLED,
                members[n % MEMBERS].pk,
                providers[n % PROVIDERS].pk if done else None,
                at,
                at,
                at,
                at + timezone.timedelta(minutes=15) if done else None,
                "" if done else "patient_exit_room",
                "<p>Seen.</p>" if done else "",
                "",
                Priority.NORMAL,
                uuid.uuid4(),
            )

    copy_rows(
        Visit._meta.db_table,
        [
            "account_id",
            "room_id",
            "type",
            "status",
            "member_id",
            "provider_id",
            "start",
            "created",
            "modified",
            "actual_end",
            "close_reason",
            "notes",
            "close_note",
            "priority",
            "meeting_id",
        ],
        history(),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return account


def spread_waiting_times(account: Account) -> None:
    """The waiting visits joined over the last two hours, whenever the data set was built; each room's
    first 10 visits that left unseen left today; patients have a date of birth and a sex; rooms name their
    intake fields."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE visits_visit SET created = now() - (id %% 7200) * interval '1 second', modified = now() "
            "WHERE account_id = %s AND status = 10",
            [account.pk],
        )
        cursor.execute(
            "UPDATE visits_visit v SET created = now() - interval '2 hours', "
            "modified = now() - (v.id %% 3600) * interval '1 second' "
            "FROM (SELECT id, row_number() OVER (PARTITION BY room_id ORDER BY id) AS n FROM visits_visit "
            "      WHERE account_id = %s AND status = 40 AND close_reason = 'patient_exit_room') left_ "
            "WHERE v.id = left_.id AND left_.n <= 10",
            [account.pk],
        )
        cursor.execute(
            "UPDATE clinic_member SET dob = date '1950-01-01' + (id %% 25000)::int, "
            "gender = (ARRAY['female', 'male', 'other', ''])[id %% 4 + 1] WHERE account_id = %s",
            [account.pk],
        )
    Room.objects.filter(account=account).update(
        intake_fields=[
            {"name": "custom_symptoms", "label": "Symptoms"},
            {"name": "custom_is_allergic", "label": "Allergic"},
        ]
    )
    with connection.cursor() as cursor:
        # Earlier runs' updates and deletions leave dead index entries; measure on a clean table.
        cursor.execute("VACUUM ANALYZE visits_visit, visits_visitevent")


# --- measuring -----------------------------------------------------------------------------------------


def paired_p50_ms(client: Client, subject: tuple[str, int], floor: tuple[str, int], headers: dict) -> tuple:
    """p50 of the subject and of its floor, requests alternating so that both see the same machine load."""
    times: dict[str, list[float]] = {subject[0]: [], floor[0]: []}
    for _ in range(RUNS):
        for url, expected in (subject, floor):
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            times[url].append((time.perf_counter() - started) * 1000)
            assert response.status_code == expected, (url, response.status_code)
    return statistics.median(times[subject[0]]), statistics.median(times[floor[0]])


def queries(client: Client, url: str, headers: dict) -> int:
    with CaptureQueriesContext(connection) as ctx:
        client.get(url, headers=headers)
    return len(ctx.captured_queries)


OVERDUE_COLUMNS = (
    "account_id",
    "room_id",
    "type",
    "status",
    "member_id",
    "created",
    "modified",
    *BLANK_COLUMNS,
)


def closure(account: Account) -> tuple[float, int, float]:
    room = Room.objects.create(account=account, code="overdue", name="Overdue", max_waiting_time=600)
    member = Member.objects.filter(account=account).first()
    long_ago = timezone.now() - timezone.timedelta(hours=1)
    overdue_row = (account.pk, room.pk, VisitType.WALKIN, VisitStatus.WAITING, member.pk, long_ago, long_ago)

    def make_overdue() -> list[int]:
        copy_rows(
            Visit._meta.db_table,
            [*OVERDUE_COLUMNS],
            ((*overdue_row, *blank()) for _ in range(OVERDUE)),
        )
        return list(Visit.objects.filter(room=room, status=VisitStatus.WAITING).values_list("id", flat=True))

    try:
        # The floor: one bare UPDATE of the same 10,000 rows, no batches, no events.
        ids = make_overdue()
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE visits_visit SET status = 40, close_reason = 'max_waiting_time_reached' "
                "WHERE id = ANY(%s) AND status = 10",
                [ids],
            )
        floor = (time.perf_counter() - started) * 1000
        Visit.objects.filter(room=room).delete()

        make_overdue()
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            closed = visits_close_overdue()
        elapsed = (time.perf_counter() - started) * 1000
        assert closed == OVERDUE, closed
        assert VisitEvent.objects.filter(visit__room=room).count() == OVERDUE
        return elapsed, len(ctx.captured_queries), floor
    finally:
        VisitEvent.objects.filter(visit__room=room).delete()
        Visit.objects.filter(room=room).delete()
        room.delete()


def few_queries(account: Account, htmx: dict) -> tuple[int, int]:
    """The queue partial's queries for a provider of a room of its own with 6 waiting, and its rows."""
    room = Room.objects.create(account=account, code="few", name="Few", max_waiting_time=8 * 3600)
    user = User.objects.create(account=account, username="drfew", first_name="Doc", last_name="Few")
    user.groups.add(ensure_role_groups()[PROVIDER])
    provider = Provider.objects.create(account=account, user=user, title="MD")
    provider.rooms.add(room)
    members = list(Member.objects.filter(account=account).order_by("id")[:6])
    intakes = Intake.objects.bulk_create(
        Intake(account=account, room=room, member=m, reason_for_visit="Cough", location="CA") for m in members
    )
    Visit.objects.bulk_create(
        Visit(account=account, room=room, member=m, intake=i, type=VisitType.WALKIN)
        for m, i in zip(members, intakes, strict=True)
    )
    try:
        client = Client()
        client.force_login(user)
        url = reverse("visits:queues")
        client.get(url, headers=htmx)
        return queries(client, url, htmx), Visit.objects.filter(room=room).count()
    finally:
        Visit.objects.filter(room=room).delete()
        Intake.objects.filter(room=room).delete()
        provider.delete()
        user.delete()
        room.delete()


def main() -> None:
    call_command("migrate", verbosity=0)
    account = build()
    spread_waiting_times(account)
    provider = Provider.objects.filter(account=account).order_by("id").select_related("user").first()
    mine = Visit.objects.filter(
        room__in=provider.rooms.all(),
        status=VisitStatus.WAITING,
        type__in=(VisitType.WALKIN, VisitType.ECONSULT),
    ).count()
    with override_settings(ROOT_URLCONF=__name__, DEBUG=False):
        client = Client()
        client.force_login(provider.user)
        htmx = {"HX-Request": "true"}
        queue_url = reverse("visits:queues")
        full = client.get(queue_url, headers=htmx)
        version = full.content.decode().split('data-version="', 1)[1].split('"', 1)[0]
        unchanged_url = f"{queue_url}?v={version}"
        for url in (queue_url, "/bench/bare-queue/", unchanged_url):
            for _ in range(20):  # warm up
                client.get(url, headers=htmx)
        partial, bare = paired_p50_ms(client, (queue_url, 200), ("/bench/bare-queue/", 200), htmx)
        unchanged, bare_refresh = paired_p50_ms(client, (unchanged_url, 204), ("/bench/bare-204/", 204), htmx)
        partial_queries = queries(client, queue_url, htmx)
        bare_queries = queries(client, "/bench/bare-queue/", htmx)
        unchanged_queries = queries(client, unchanged_url, htmx)
        bare_refresh_queries = queries(client, "/bench/bare-204/", htmx)
        few, few_waiting = few_queries(account, htmx)
    closing, closing_queries, closing_floor = closure(account)

    print(
        f"data: {ROOMS} rooms, {PROVIDERS} providers, {WALKINS} walk-ins + {ECONSULTS} e-consults waiting, "
        f"{HISTORY} historical; the provider sees {mine} waiting, {settings.QUEUE_PAGE_SIZE} rows per queue"
    )
    print(
        f"queue partial:     p50 {partial:.2f} ms, {partial_queries} queries ({few} with {few_waiting} "
        f"waiting) | bare raw-SQL view p50 {bare:.2f} ms, {bare_queries} queries | ratio {partial / bare:.2f}"
    )
    print(f"ratio: {partial / bare:.2f}")
    assert partial_queries == few, (partial_queries, few)  # constant in the number of patients
    print(
        f"unchanged refresh: p50 {unchanged:.2f} ms, {unchanged_queries} queries, 204 | bare 204 view p50 "
        f"{bare_refresh:.2f} ms, {bare_refresh_queries} queries | ratio {unchanged / bare_refresh:.2f}"
    )
    print(f"ratio: {unchanged / bare_refresh:.2f}")
    print(
        f"closure of {OVERDUE} overdue: {closing:.0f} ms, {closing_queries} queries | bare single UPDATE "
        f"{closing_floor:.0f} ms | ratio {closing / closing_floor:.2f}"
    )
    print(f"ratio: {closing / closing_floor:.2f}")


if __name__ == "__main__":
    main()
