"""The clinic admin's visits page: filters, sorting, counts, wait figures, PDF cells, bulk export, the log."""

import datetime as dt
import io
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from tests.clinic.factories import AccountFactory, MemberFactory, RoomFactory, clinic_admin_user
from tests.visits.summary_factories import eager_celery, media, pdf_text, walk_through  # noqa: F401
from visits import analytics, selectors
from visits.models import SummaryDownload, SummaryExport, VisitSummary
from visits.summaries import exports
from visits.summaries import services as summary_services

pytestmark = pytest.mark.usefixtures("media")

DAY = dt.datetime(2026, 6, 1, 17, 0, tzinfo=dt.UTC)  # 10:00 PDT
PAGE = reverse("visits:admin-visits")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


@pytest.fixture
def clinic(account, room, provider, other_provider, member):
    """Five visits: three in `main` on 1 June (waits 2, 4 and 10 min), one in `east` on 3 June
    (waits 6 min) and one still waiting on 5 June."""
    east = RoomFactory(account=account, code="east", name="East wing", time_zone="America/New_York")
    provider.rooms.add(east)
    ada = MemberFactory(account=account, first_name="Ada", last_name="Okafor", code="P-2002")
    visits = {
        "pat1": walk_through(
            member=member, provider=provider, room=room, joined=DAY, wait=dt.timedelta(minutes=2)
        ),
        "ada1": walk_through(
            member=ada,
            provider=other_provider,
            room=room,
            joined=DAY + dt.timedelta(hours=1),
            wait=dt.timedelta(minutes=4),
            reason="Sprained ankle",
        ),
        "pat2": walk_through(
            member=member,
            provider=provider,
            room=room,
            joined=DAY + dt.timedelta(hours=2),
            wait=dt.timedelta(minutes=10),
            finish="close",
        ),
        "ada2": walk_through(
            member=ada,
            provider=provider,
            room=east,
            joined=DAY + dt.timedelta(days=2),
            wait=dt.timedelta(minutes=6),
        ),
        "waiting": walk_through(
            member=ada, provider=provider, room=room, joined=DAY + dt.timedelta(days=4), wait=None
        ),
    }
    return {"east": east, "ada": ada, **visits}


def _ids(response) -> list[int]:
    return [row["visit"].pk for row in response.context["rows"]]


def test_only_clinic_admins_reach_the_page(client, front_desk, provider):
    assert client.get(PAGE).status_code == 302  # to the login page
    client.force_login(front_desk)
    assert client.get(PAGE).status_code == 403
    client.force_login(provider.user)
    assert client.get(PAGE).status_code == 403


def test_a_polling_cell_whose_session_expired_sends_the_page_to_the_login_form(client, clinic):
    status = reverse("visits:admin-summary-status", args=[clinic["pat1"].pk])
    response = client.get(status, HTTP_HX_CURRENT_URL="http://testserver/manage/visits/?patient=ada", **HTMX)
    assert response.status_code == 200
    assert parse_qs(urlsplit(response["HX-Redirect"]).query) == {"next": ["/manage/visits/?patient=ada"]}


def test_the_home_page_sends_admins_here(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 302 and response["Location"] == PAGE


def test_lists_counts_and_newest_first(admin_client, clinic):
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    assert _ids(response) == [clinic[k].pk for k in ("waiting", "ada2", "pat2", "ada1", "pat1")]
    assert response.context["total"] == 5
    assert response.context["counts"] == [
        ("waiting", "waiting", 1),
        ("inprogress", "in progress", 0),
        ("completed", "completed", 3),
        ("cancelled", "cancelled", 1),
    ]
    html = response.content.decode()
    assert "Mon 01 Jun 2026, 10:00 PDT" in html  # the room's local time
    assert "Wed 03 Jun 2026, 13:00 EDT" in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"patient": "ada"}, ["waiting", "ada2", "ada1"]),
        ({"patient": "P-1001"}, ["pat2", "pat1"]),
        ({"patient": "Pat Jones"}, ["pat2", "pat1"]),
        ({"room": "east"}, ["ada2"]),
        ({"status": "40"}, ["pat2"]),
        ({"type": "1", "status": "10"}, ["waiting"]),
        ({"date_from": "2026-06-02", "date_to": "2026-06-03"}, ["ada2"]),
        ({"date_from": "2026-06-01", "date_to": "2026-06-01"}, ["pat2", "ada1", "pat1"]),
    ],
)
def test_filters(admin_client, clinic, params, expected):
    if params.get("room") == "east":
        params = {**params, "room": clinic["east"].pk}
    response = admin_client.get(PAGE, params)
    assert _ids(response) == [clinic[k].pk for k in expected]
    assert response.context["total"] == len(expected)


def test_filter_by_provider(admin_client, clinic, other_provider):
    assert _ids(admin_client.get(PAGE, {"provider": other_provider.pk})) == [clinic["ada1"].pk]


def test_dates_are_read_in_the_rooms_zone(admin_client, account, room, member, provider):
    # 23:30 PDT on 1 June is already 2 June in UTC: it belongs to 1 June for a Los Angeles clinic.
    late = walk_through(
        member=member, provider=provider, room=room, joined=dt.datetime(2026, 6, 2, 6, 30, tzinfo=dt.UTC)
    )
    assert _ids(admin_client.get(PAGE, {"date_from": "2026-06-01", "date_to": "2026-06-01"})) == [late.pk]
    assert _ids(admin_client.get(PAGE, {"date_from": "2026-06-02"})) == []


def test_bad_filters_say_so(admin_client, clinic):
    response = admin_client.get(PAGE, {"date_from": "2026-06-05", "date_to": "2026-06-01", "status": "99"})
    assert response.status_code == 200
    assert "Check the filters" in response.content.decode()


def test_sorting(admin_client, clinic):
    by_patient = _ids(admin_client.get(PAGE, {"sort": "patient"}))
    # Jones before Okafor; the same patient's visits newest first.
    assert by_patient == [clinic[k].pk for k in ("pat2", "pat1", "waiting", "ada2", "ada1")]
    assert _ids(admin_client.get(PAGE, {"sort": "room"}))[0] == clinic["ada2"].pk  # "east" before "main"
    assert _ids(admin_client.get(PAGE, {"sort": "-room"}))[-1] == clinic["ada2"].pk
    oldest_first = _ids(admin_client.get(PAGE, {"sort": "start"}))
    assert oldest_first[0] == clinic["pat1"].pk


def test_pagination(admin_client, clinic, monkeypatch):
    from visits import admin_views

    monkeypatch.setattr(admin_views, "PAGE_SIZE", 2)
    first = admin_client.get(PAGE, {"sort": "start"})
    third = admin_client.get(PAGE, {"sort": "start", "page": 3})
    assert _ids(first) == [clinic["pat1"].pk, clinic["ada1"].pk]
    assert _ids(third) == [clinic["waiting"].pk]
    assert "Page 1 of 3" in first.content.decode()
    assert "sort=start&amp;page=2" in first.content.decode()


def test_a_history_restore_gets_the_whole_page(admin_client, clinic):
    html = admin_client.get(PAGE, {"patient": "ada"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX).content
    assert b'id="visit-filters"' in html


def test_htmx_gets_only_the_results(admin_client, clinic):
    response = admin_client.get(PAGE, {"patient": "ada"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html and 'id="visit-filters"' not in html
    assert "Sprained ankle" not in html  # the reason is in the PDF, not the list
    assert 'data-testid="visit-table"' in html and "Okafor" in html and "Jones" not in html


def test_wait_figures_by_room(admin_client, clinic):
    response = admin_client.get(PAGE)
    waits = {w.room_code: w for w in response.context["waits"]}
    # main: 2, 4 and 10 min → median 4 min, p90 = 4 + 0.8 * 6 = 8.8 min; east: one 6-min wait.
    assert waits["main"].visits == 3
    assert waits["main"].median == dt.timedelta(minutes=4)
    assert waits["main"].p90 == dt.timedelta(minutes=8, seconds=48)
    assert waits["east"].median == waits["east"].p90 == dt.timedelta(minutes=6)
    assert "8 min 48 s" in response.content.decode()
    filtered = admin_client.get(
        PAGE, {"provider": clinic["pat1"].provider_id, "room": clinic["pat1"].room_id}
    )
    assert [(w.room_code, w.median) for w in filtered.context["waits"]] == [("main", dt.timedelta(minutes=6))]


def test_wait_figures_in_the_database_match_the_portable_fallback(clinic, account, clinic_admin):
    visits = selectors.admin_visit_search(account=account, user=clinic_admin)
    waited = analytics.with_wait(visits.order_by().filter(type__in=(1, 3))).filter(
        started_at__isnull=False, queued_at__isnull=False
    )
    in_python = analytics.wait_stats_in_python(waited)
    assert analytics.wait_stats(visits) == in_python
    assert analytics.percentile_cont([120, 240, 600], 0.9) == 528


@pytest.mark.usefixtures("eager_celery")
def test_download_pdf_cell_polls_then_links(
    admin_client, clinic, clinic_admin, django_capture_on_commit_callbacks
):
    visit = clinic["ada1"]
    VisitSummary.objects.filter(visit=visit).delete()
    cell = reverse("visits:admin-summary-request", args=[visit.pk])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = admin_client.post(cell, **HTMX)
    html = started.content.decode()
    assert 'data-state="pending"' in html and "Rendering" in html and 'hx-trigger="every 1s"' in html
    assert reverse("visits:admin-summary-status", args=[visit.pk]) in html
    still = admin_client.get(reverse("visits:admin-summary-status", args=[visit.pk]), **HTMX)
    assert 'data-state="pending"' in still.content.decode()

    for callback in callbacks:  # the worker picks the task up
        callback()
    ready = admin_client.get(reverse("visits:admin-summary-status", args=[visit.pk]), **HTMX).content.decode()
    assert 'data-state="ready"' in ready and "hx-trigger" not in ready
    link = reverse("visits:admin-summary-download", args=[visit.pk])
    assert link in ready

    pdf = admin_client.get(link)
    assert pdf["Content-Type"] == "application/pdf"
    assert "Sprained ankle" in pdf_text(b"".join(pdf.streaming_content))
    assert SummaryDownload.objects.get().user == clinic_admin

    log = admin_client.get(reverse("visits:admin-downloads")).content.decode()
    assert f"#{visit.pk}" in log and clinic_admin.username in log and "Ada Okafor" in log
    assert "When (America/Los_Angeles)" in log and " PST" in log


def test_a_get_never_starts_a_render(admin_client, clinic, django_capture_on_commit_callbacks):
    visit = clinic["ada1"]
    VisitSummary.objects.filter(visit=visit).delete()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.get(reverse("visits:admin-summary-download", args=[visit.pk]))
    assert response.status_code == 302
    assert not VisitSummary.objects.filter(visit=visit).exists() and callbacks == []
    assert not SummaryDownload.objects.exists()  # logged only when a file is sent
    followed = admin_client.get(response["Location"]).content.decode()
    assert "must be prepared first" in followed


def test_rows_show_ready_summaries_as_links(admin_client, clinic):
    summary_services.summary_render(visit_id=clinic["pat1"].pk)
    html = admin_client.get(PAGE, {"patient": "P-1001"}).content.decode()
    assert reverse("visits:admin-summary-download", args=[clinic["pat1"].pk]) in html
    assert reverse("visits:admin-summary-request", args=[clinic["pat2"].pk]) in html


@pytest.mark.usefixtures("eager_celery")
def test_bulk_export_of_the_filtered_visits(admin_client, clinic, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = admin_client.post(
            reverse("visits:admin-export"), {"patient": "ada", "status": "30"}, **HTMX
        )
    export = SummaryExport.objects.get()
    assert sorted(export.visit_ids) == sorted([clinic["ada1"].pk, clinic["ada2"].pk])
    assert export.total == 2
    assert "0 of 2 summaries" in started.content.decode()
    assert reverse("visits:admin-export-status", args=[export.pk]) in started.content.decode()

    for callback in callbacks:
        callback()
    export.refresh_from_db()
    assert (export.status, export.done) == ("ready", 2)
    status = admin_client.get(
        reverse("visits:admin-export-status", args=[export.pk]), **HTMX
    ).content.decode()
    assert "Download ZIP (2 PDFs)" in status and "hx-trigger" not in status

    response = admin_client.get(reverse("visits:admin-export-download", args=[export.pk]))
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = sorted(archive.namelist())
    assert names == sorted(
        f"visit-summary-{clinic[k].pk}-ada-okafor-{d}.pdf"
        for k, d in (("ada1", "2026-06-01"), ("ada2", "2026-06-03"))
    )
    assert all(archive.read(name).startswith(b"%PDF") for name in names)
    # The download log has one entry for the ZIP, with its count; the audit trail has each visit read.
    entry = SummaryDownload.objects.get()
    assert (entry.export, entry.visit, entry.visit_count) == (export, None, 2)
    downloaded = AuditEvent.objects.filter(action=AuditEvent.Action.DOWNLOAD, object_type="visit")
    read = sorted(int(pk) for pk in downloaded.values_list("object_id", flat=True))
    assert read == sorted(export.visit_ids)
    log = admin_client.get(reverse("visits:admin-downloads")).content.decode()
    assert "ZIP export of 2 visit summaries" in log
    assert log.count("<tr>") == 2  # the header and the one entry


def test_export_progress_is_counted(clinic, account, clinic_admin):
    export = SummaryExport.objects.create(
        account=account, requested_by=clinic_admin, visit_ids=[clinic["pat1"].pk, 999999], total=2
    )
    seen = []
    original = summary_services.summary_render

    def spy(**kwargs):
        seen.append(SummaryExport.objects.get(pk=export.pk).done)
        return original(**kwargs)

    exports.summary_render = spy
    try:
        exports.export_build(export_id=export.pk)
    finally:
        exports.summary_render = original
    export.refresh_from_db()
    assert seen == [0]  # progress before the first render
    assert (export.status, export.done, export.total) == ("ready", 2, 2)  # an unknown id is skipped


def test_another_account_cannot_touch_our_visits_or_exports(client, clinic, account, clinic_admin):
    export = SummaryExport.objects.create(account=account, requested_by=clinic_admin, total=0)
    stranger = clinic_admin_user(AccountFactory(code="other"))
    client.force_login(stranger)
    visit = clinic["pat1"]
    before = list(VisitSummary.objects.values_list("visit_id", "status", "requested"))
    assert client.post(reverse("visits:admin-summary-request", args=[visit.pk])).status_code == 404
    assert client.get(reverse("visits:admin-summary-download", args=[visit.pk])).status_code == 404
    assert client.get(reverse("visits:admin-export-status", args=[export.pk])).status_code == 404
    assert client.get(PAGE).context["total"] == 0
    assert list(VisitSummary.objects.values_list("visit_id", "status", "requested")) == before
    assert not SummaryDownload.objects.exists()


def test_the_page_runs_a_fixed_number_of_queries(
    admin_client, clinic, django_assert_max_num_queries, settings
):
    settings.AUDIT_LIST_REPEAT_SECONDS = 0  # every view records its rows: the same insert each time
    for key in ("pat1", "ada1"):
        summary_services.summary_render(visit_id=clinic[key].pk)
    admin_client.get(PAGE)
    # Session, user, permissions (2), account, zone, count, rows, the audit trail's insert, summaries,
    # status counts, waits, the nav's provider check and the two filter dropdowns.
    with django_assert_max_num_queries(14) as captured:
        admin_client.get(PAGE)
    few = len(captured)
    for n in range(6):
        walk_through(
            member=clinic["ada"],
            provider=clinic["pat1"].provider,
            room=clinic["pat1"].room,
            joined=DAY + dt.timedelta(days=7, hours=n),
        )
    with django_assert_max_num_queries(few):
        admin_client.get(PAGE)  # more rows, no more queries


def test_seeing_all_visits_without_the_export_permission_is_refused_the_pdf(client, clinic, account):
    from django.contrib.auth.models import Permission

    from tests.clinic.factories import UserFactory

    viewer = UserFactory(account=account)
    viewer.user_permissions.add(Permission.objects.get(codename="view_all_visits"))
    client.force_login(viewer)
    assert client.get(PAGE).status_code == 200
    assert client.post(reverse("visits:admin-summary-request", args=[clinic["pat1"].pk])).status_code == 403
    assert client.get(reverse("visits:admin-summary-download", args=[clinic["pat1"].pk])).status_code == 403
    export = client.post(reverse("visits:admin-export"), {}).content.decode()
    assert "Only clinic admins export visit summaries." in export
    assert not SummaryExport.objects.exists()


def test_old_export_zips_are_removed_and_recent_ones_kept(clinic, account, clinic_admin, settings):
    def built_export():
        export = SummaryExport.objects.create(
            account=account, requested_by=clinic_admin, visit_ids=[clinic["pat1"].pk], total=1
        )
        return exports.export_build(export_id=export.pk)

    old, recent = built_export(), built_export()
    SummaryExport.objects.filter(pk=old.pk).update(
        created=old.created - dt.timedelta(seconds=settings.SUMMARY_EXPORT_TTL + 60)
    )
    storage = old.file.storage
    assert storage.exists(old.file.name)

    assert exports.exports_cleanup() == 1

    assert list(SummaryExport.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not storage.exists(old.file.name)
    assert storage.exists(recent.file.name)
    assert VisitSummary.objects.filter(visit=clinic["pat1"]).exists()  # the summary itself stays


def test_rows_read_in_words_link_to_the_visit_and_filter_by_who_ended_it(admin_client, clinic, room):
    from tests.visits.factories import VisitFactory
    from visits.models import VisitType

    booked = VisitFactory(account=room.account, room=room, type=VisitType.SCHEDULED)
    timed_out = VisitFactory(
        account=room.account, room=room, status=40, close_reason="max_waiting_time_reached"
    )
    html = admin_client.get(PAGE).content.decode()
    assert reverse("visits:detail", args=[booked.pk]) in html
    row = html[html.index(f'data-visit-id="{booked.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Booked" in row and "Not held yet" in row and "Prepare PDF" not in row
    assert room.name in row and "Appointment" in row
    system = admin_client.get(PAGE, {"closed_by": "system"}).content.decode()
    assert f'data-visit-id="{timed_out.pk}"' in system and f'data-visit-id="{booked.pk}"' not in system
    assert "Maximum waiting time reached" in system
    detail = admin_client.get(reverse("visits:detail", args=[booked.pk])).content.decode()
    assert f'href="{PAGE}"' in detail  # and back


def test_wait_figures_count_the_patients_who_left_unseen(admin_client, clinic, room):
    from tests.visits.factories import VisitFactory

    for reason in ("max_waiting_time_reached", "patient_exit_room"):
        VisitFactory(account=room.account, room=room, status=40, close_reason=reason)
    html = admin_client.get(PAGE).content.decode()
    stats = html[html.index('data-testid="wait-stats"') :]
    stats = stats[: stats.index("</table>")]
    assert "Left unseen" in stats and '<td class="text-end left-unseen">2</td>' in stats
