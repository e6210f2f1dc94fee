"""PDF visit summaries: one render against WeasyPrint's floor, and 200 summaries through one worker.

Data (PostgreSQL database `clinic_bench_pdf`, built once and reused; `--rebuild` starts over): one clinic,
one room, 201 completed walk-ins with four events each, an intake with five custom answers and a paragraph
of provider notes.

Figures, each against a floor measured in the same run:
- p50 of rendering one summary to PDF bytes (template, context queries, WeasyPrint), against WeasyPrint
  rendering a one-line HTML page (the library's floor); plus summary_render (render, store the file, save
  the row) with its query count;
- throughput of 200 summaries through one real Celery worker (solo pool, Redis broker from
  CELERY_BROKER_URL), from enqueueing the first to the last summary stored, against 200 one-line WeasyPrint
  renders in this process.

Usage: .venv/bin/python bench/summaries.py [--rebuild]   (DATABASE_URL names the server; the database
name in it is replaced by clinic_bench_pdf. CELERY_BROKER_URL must be a redis:// URL for the worker part.)
"""

import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, bench_django

MEDIA = Path(tempfile.mkdtemp(prefix="bench-summaries-"))
# WeasyPrint logs every step at INFO.
bench_django("clinic_bench_pdf", LOG_LEVEL="WARNING", MEDIA_ROOT=str(MEDIA))

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from clinic.models import Account, Consultation, Member, Provider, Room, User  # noqa: E402
from clinic.roles import PROVIDER, ensure_role_groups  # noqa: E402
from visits.models import Intake, Visit, VisitEvent, VisitStatus, VisitSummary, VisitType  # noqa: E402
from visits.summaries import render as summary_pdf  # noqa: E402
from visits.summaries import services as summary_services  # noqa: E402

VISITS = 201  # one to warm the worker up, 200 timed
RUNS = 30
NOTES = (
    "<p>Presented with an itchy <b>erythematous rash</b> on the left forearm for two weeks.</p>"
    "<ul><li>Hydrocortisone 1% cream twice daily for 7 days</li><li>Oral antihistamine at night</li>"
    "<li>Avoid the new detergent</li></ul><p>Follow up in <i>two weeks</i> if not improving.</p>"
)


def build() -> None:
    call_command("migrate", verbosity=0)
    if Account.objects.filter(code="bench").exists():
        return
    groups = ensure_role_groups()
    with transaction.atomic():
        account = Account.objects.create(code="bench", name="Bench Clinic")
        room = Room.objects.create(
            account=account, code="main", name="Main room", time_zone="America/Chicago"
        )
        consultation = Consultation.objects.create(
            room=room, description="General consultation", duration=900, amount="50.00"
        )
        user = User.objects.create(
            account=account,
            username="dr.bench",
            first_name="Grace",
            last_name="Lee",
            password=make_password("x"),
        )
        user.groups.add(groups[PROVIDER])
        provider = Provider.objects.create(account=account, user=user, title="MD")
        provider.rooms.add(room)
        start = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
        for n in range(VISITS):
            member = Member.objects.create(
                account=account,
                code=f"P-{n:05d}",
                first_name="Pat",
                last_name=f"Jones{n}",
                dob=dt.date(1980, 1, 1) + dt.timedelta(days=n),
                phone="+14155550100",
                state="IL",
            )
            intake = Intake.objects.create(
                account=account,
                room=room,
                member=member,
                reason_for_visit="Itchy rash on the left arm",
                location="IL",
                phone="+14155550100",
                consultation=consultation,
                custom={
                    "custom_symptoms_duration": "2 weeks",
                    "custom_is_allergic": "Yes",
                    "custom_symptoms": "Rash, red eyes",
                    "custom_medications": "None",
                    "custom_pain_level": "3",
                },
            )
            joined = start + dt.timedelta(minutes=30 * n)
            accepted, done = joined + dt.timedelta(minutes=7), joined + dt.timedelta(minutes=25)
            visit = Visit.objects.create(
                account=account,
                room=room,
                type=VisitType.WALKIN,
                status=VisitStatus.COMPLETED,
                member=member,
                provider=provider,
                intake=intake,
                consultation=consultation,
                start=joined,
                actual_start=accepted,
                actual_end=done,
                notes=NOTES,
            )
            VisitEvent.objects.bulk_create(
                [
                    VisitEvent(visit=visit, to_status=10, reason="created", created=joined),
                    VisitEvent(
                        visit=visit,
                        from_status=10,
                        to_status=20,
                        actor=user,
                        reason="accepted",
                        created=accepted,
                    ),
                    VisitEvent(
                        visit=visit,
                        from_status=20,
                        to_status=30,
                        actor=user,
                        reason="completed",
                        created=done,
                    ),
                ]
            )


def p50_ms(fn, runs: int = RUNS) -> float:
    fn()  # warm: fonts, templates, imports
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def one_line_pdf() -> bytes:
    """The floor: a one-line page, rendered the way summaries are (shared fonts, local-only fetcher)."""
    return summary_pdf.html_to_pdf("<p>Hello</p>")


def one_line_pdf_default() -> bytes:
    """WeasyPrint's defaults (a new font configuration per document), for reference."""
    from weasyprint import HTML

    return HTML(string="<p>Hello</p>").write_pdf()


def through_the_worker(visit_ids: list[int]) -> float:
    """Seconds for one solo worker to render and store `visit_ids`, warm-up task excluded."""
    from clinic.celery import app
    from visits.tasks import render_visit_summary

    app.control.purge()
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        warm, timed = visit_ids[0], visit_ids[1:]
        render_visit_summary.delay(warm)
        wait_ready([warm], timeout=120)
        t0 = time.perf_counter()
        for visit_id in timed:
            render_visit_summary.delay(visit_id)
        wait_ready(timed, timeout=900)
        return time.perf_counter() - t0
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def wait_ready(visit_ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = VisitSummary.objects.filter(visit_id__in=visit_ids, status=VisitSummary.Status.READY).count()
        if ready == len(visit_ids):
            return
        time.sleep(0.05)
    sys.exit(f"Timed out: {ready} of {len(visit_ids)} summaries ready.")


def main() -> None:
    build()
    visit_ids = list(Visit.objects.filter(account__code="bench").order_by("pk").values_list("pk", flat=True))
    VisitSummary.objects.filter(visit_id__in=visit_ids).delete()
    sample = Visit.objects.with_related().get(pk=visit_ids[0])

    # The floor is a few milliseconds: many runs, or one busy moment of the machine moves its median.
    floor = p50_ms(one_line_pdf, runs=300)
    floor_default = p50_ms(one_line_pdf_default, runs=300)
    render = p50_ms(lambda: summary_pdf.render_summary_pdf(Visit.objects.with_related().get(pk=sample.pk)))
    stored = p50_ms(lambda: summary_services.summary_render(visit_id=sample.pk, force=True))
    with CaptureQueriesContext(connection) as queries:
        summary_services.summary_render(visit_id=sample.pk, force=True)
    with CaptureQueriesContext(connection) as skip_queries:
        summary_services.summary_render(visit_id=sample.pk)
    size = len(summary_pdf.render_summary_pdf(sample))
    VisitSummary.objects.filter(visit_id__in=visit_ids).delete()

    t0 = time.perf_counter()
    for _ in range(len(visit_ids) - 1):
        one_line_pdf()
    floor_batch = time.perf_counter() - t0
    n = len(visit_ids) - 1
    with_worker = os.environ.get("CELERY_BROKER_URL", "").startswith("redis")
    batch = through_the_worker(visit_ids) if with_worker else None

    print(
        f"one-line WeasyPrint page (floor): p50 {floor:.1f} ms "
        f"(with WeasyPrint's per-document font set-up: {floor_default:.1f} ms)"
    )
    print(
        f"render one summary to PDF bytes: p50 {render:.1f} ms = {render / floor:.1f}x the floor "
        f"({size} bytes)"
    )
    print(
        f"summary_render (render + store + row): p50 {stored:.1f} ms = {stored / floor:.1f}x the floor, "
        f"{len(queries)} queries; when current: {len(skip_queries)} queries, no render"
    )
    if batch is None:
        print("worker throughput skipped: set CELERY_BROKER_URL=redis://... to measure it")
        return
    print(
        f"{n} summaries through one solo worker: {batch:.1f} s = {n / batch:.1f} summaries/s "
        f"({batch / n * 1000:.0f} ms each); {n} one-line renders in-process: {floor_batch:.1f} s "
        f"= {batch / floor_batch:.1f}x the floor"
    )


if __name__ == "__main__":
    main()
