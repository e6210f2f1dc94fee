"""Clinic board benchmark: `GET /board/` (htmx refresh of the board partial) for the front desk of a clinic
with 600 waiting patients, against a bare view.

Data: in the dashboard benchmark's database (`clinic_bench_dash`, built by that script's code on the first
run), two clinics of their own, built once and reused: "board" with 10 rooms, 600 waiting walk-ins and
e-consults, 40 in progress and 20 who left unseen today; "board-small", the same shape at a tenth (60
waiting), to check that the board's query count does not grow with the patients.

Figures, in the same run and process, p50 over RUNS requests taking turns, both logged in as front desk
through Django's test client (the whole middleware stack):
- the board partial (what the stream's reloads fetch), its queries, and the small clinic's queries;
- the floor: a bare view running one raw SQL query for the same rooms, patients and who left, rendered
  with string joins;
- `ratio: N`, the board over the floor.

Usage: .venv/bin/python bench/board.py [--rebuild]   (--rebuild rebuilds the dashboard's data too)
"""

import datetime as dt
import html
import io
import statistics
import time

import dashboard  # noqa: F401 (sets Django up on clinic_bench_dash)
from django.contrib.auth.decorators import login_required
from django.core.management import call_command
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import path
from django.utils import timezone

from clinic import urls as clinic_urls
from clinic.models import Account, Member, Provider, Room, User
from clinic.roles import FRONT_DESK, PROVIDER, ensure_role_groups
from visits.models import CloseReason, Intake, Visit, VisitStatus, VisitType

RUNS = 100
ROOMS, WAITING, IN_PROGRESS, LEFT = 10, 600, 40, 20

BARE_BOARD_SQL = """
SELECT r.id, r.name, v.id, v.status, v.type, v.created, v.actual_start, v.modified, v.priority,
       m.first_name, m.last_name, m.dob, m.gender, i.reason_for_visit, u.first_name, u.last_name
FROM clinic_room r
LEFT JOIN visits_visit v ON v.room_id = r.id AND v.type IN (1, 3) AND (
       v.status IN (10, 20)
    OR (v.status = 40 AND v.actual_start IS NULL AND v.modified >= now() - interval '25 hours'
        AND v.close_reason IN ('max_waiting_time_reached', 'patient_exit_room')))
LEFT JOIN clinic_member m ON m.id = v.member_id
LEFT JOIN visits_intake i ON i.id = v.intake_id
LEFT JOIN clinic_provider p ON p.id = v.provider_id
LEFT JOIN clinic_user u ON u.id = p.user_id
WHERE r.account_id = %s
ORDER BY r.name, v.priority, v.created, v.id
"""


@login_required
def bare_board(request):
    with connection.cursor() as cursor:
        cursor.execute(BARE_BOARD_SQL, [request.user.account_id])
        rows = cursor.fetchall()
    now = timezone.now()
    out, room = io.StringIO(), None
    for row in rows:
        if row[0] != room:
            room = row[0]
            out.write(f"<h2>{html.escape(row[1])}</h2>")
        if row[2] is None:
            continue
        since = row[6] or row[5]
        out.write(
            f'<li id="board-visit-{row[2]}">{html.escape(row[9])} {html.escape(row[10])} {row[11]} {row[12]} '
            f"{html.escape((row[13] or '')[:500])} {row[3]} {row[4]} {row[8]} "
            f"{row[14] or ''} {row[15] or ''} "
            f"{int((now - since).total_seconds())} {int((now - row[5]).total_seconds())}</li>"
        )
    return HttpResponse(out.getvalue())


urlpatterns = [*clinic_urls.urlpatterns, path("bench/bare-board/", bare_board)]


def build(code: str, scale: int) -> Account:
    """A clinic of its own: ROOMS rooms, WAITING // scale waiting, and so on; built once."""
    account = Account.objects.filter(code=code).first()
    if account and Visit.objects.filter(account=account).count() == (WAITING + IN_PROGRESS + LEFT) // scale:
        return account
    Account.objects.filter(code=code).delete()
    groups = ensure_role_groups()
    account = Account.objects.create(code=code, name=f"Board {code}")
    rooms = Room.objects.bulk_create(
        Room(account=account, code=f"r{n}", name=f"Room {n}", max_waiting_time=3600) for n in range(ROOMS)
    )
    desk = User.objects.create(account=account, username="desk", first_name="Front", last_name="Desk")
    desk.groups.add(groups[FRONT_DESK])
    providers = []
    for n in range(10):
        user = User.objects.create(account=account, username=f"dr{n}", first_name="Doc", last_name=f"Tor{n}")
        user.groups.add(groups[PROVIDER])
        providers.append(Provider.objects.create(account=account, user=user, title="MD"))
    total = (WAITING + IN_PROGRESS + LEFT) // scale
    members = Member.objects.bulk_create(
        Member(
            account=account,
            code=f"B{n:05d}",
            first_name=f"Pat{n}",
            last_name="Board",
            dob=dt.date(1950, 1, 1) + dt.timedelta(days=n * 37),
            gender=("female", "male", "other", "")[n % 4],
        )
        for n in range(total)
    )
    intakes = Intake.objects.bulk_create(
        Intake(account=account, room=rooms[n % ROOMS], member=m, reason_for_visit=f"Reason {n} " * 8)
        for n, m in enumerate(members)
    )
    now = timezone.now()
    visits = []
    for n, (member, intake) in enumerate(zip(members, intakes, strict=True)):
        if n < WAITING // scale:
            extra = {"status": VisitStatus.WAITING}
        elif n < (WAITING + IN_PROGRESS) // scale:
            extra = {"status": VisitStatus.IN_PROGRESS, "provider": providers[n % 10], "actual_start": now}
        else:
            extra = {"status": VisitStatus.CANCELLED, "close_reason": CloseReason.MAX_WAITING_TIME_REACHED}
        visits.append(
            Visit(
                account=account,
                room=intake.room,
                member=member,
                intake=intake,
                type=VisitType.WALKIN if n % 3 else VisitType.ECONSULT,
                **extra,
            )
        )
    Visit.objects.bulk_create(visits)
    return account


def main() -> None:
    call_command("migrate", verbosity=0)
    big, small = build("board", 1), build("board-small", 10)
    # Waits spread over the last 50 minutes; who left, within the last hour (today, in any zone but one
    # whose midnight was less than an hour ago).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE visits_visit SET created = now() - (id %% 3000) * interval '1 second', "
            "modified = now() - (id %% 600) * interval '1 second' WHERE account_id IN (%s, %s)",
            [big.pk, small.pk],
        )
    htmx = {"HX-Request": "true"}
    with override_settings(ROOT_URLCONF=__name__, DEBUG=False, AUDIT_LIST_REPEAT_SECONDS=0):
        clients = {}
        for account in (big, small):
            clients[account.code] = Client()
            clients[account.code].force_login(User.objects.get(account=account, username="desk"))
        client = clients["board"]
        for url in ("/board/", "/bench/bare-board/"):
            for _ in range(10):  # warm up
                assert client.get(url, headers=htmx).status_code == 200
        times = {"/board/": [], "/bench/bare-board/": []}
        for _ in range(RUNS):
            for url in times:
                started = time.perf_counter()
                client.get(url, headers=htmx)
                times[url].append((time.perf_counter() - started) * 1000)
        counts = {}
        # Every request records its list (no "listed lately" skip), so that only the patients could differ.
        for code, each in clients.items():
            each.get("/board/", headers=htmx)  # the first request of a session does more
            with CaptureQueriesContext(connection) as ctx:
                each.get("/board/", headers=htmx)
            counts[code] = len(ctx.captured_queries)
        with CaptureQueriesContext(connection) as ctx:
            client.get("/bench/bare-board/", headers=htmx)
        bare_queries = len(ctx.captured_queries)
    board, bare = statistics.median(times["/board/"]), statistics.median(times["/bench/bare-board/"])
    print(
        f"data: {ROOMS} rooms, {WAITING} waiting, {IN_PROGRESS} in progress, {LEFT} left unseen today "
        f"(and a clinic of a tenth of that)"
    )
    print(
        f"clinic board: p50 {board:.2f} ms, {counts['board']} queries ({counts['board-small']} with "
        f"{WAITING // 10} waiting) | bare raw-SQL view p50 {bare:.2f} ms, {bare_queries} queries | "
        f"ratio {board / bare:.2f}"
    )
    print(f"ratio: {board / bare:.2f}")
    assert counts["board"] == counts["board-small"], counts  # constant in the number of patients


if __name__ == "__main__":
    main()
