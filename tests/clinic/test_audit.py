"""The audit trail: append-only, one insert per request, readable by clinic admins only, one clinic's own."""

import csv
import datetime as dt
import io
import re

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from clinic import audit
from clinic.models import AppendOnly, AuditEvent, Member, User
from tests.clinic.factories import (
    AccountFactory,
    MemberFactory,
    ProviderFactory,
    RoomFactory,
    clinic_admin_user,
)
from tests.conftest import client_for
from tests.visits.factories import VisitFactory
from visits import services
from visits.models import VisitStatus

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 3, 8, 17, 0, tzinfo=dt.UTC)


def event(account, *, user=None, member=None, at=T0, action="read", object_type="visit", object_id="1", **kw):
    return AuditEvent.objects.create(
        account=account,
        user=user,
        member=member,
        at=at,
        action=action,
        object_type=object_type,
        object_id=object_id,
        ip=kw.pop("ip", "10.0.0.1"),
        via=kw.pop("via", "page"),
        **kw,
    )


def inserts_into_the_trail(ctx) -> int:
    return sum(1 for q in ctx.captured_queries if re.match(r'INSERT INTO "?clinic_auditevent"? ', q["sql"]))


# --- append-only -----------------------------------------------------------------------------------------


def test_the_application_cannot_change_or_delete_an_event(account, member):
    recorded = event(account, member=member)
    recorded.detail = "rewritten"
    with pytest.raises(AppendOnly):
        recorded.save()
    with pytest.raises(AppendOnly):
        recorded.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=recorded.pk).update(detail="rewritten")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=recorded.pk).delete()
    with pytest.raises(AppendOnly), transaction.atomic():
        AuditEvent.objects.bulk_update([recorded], ["detail"])
    # A new instance carrying an existing id is an insert (refused as a duplicate), never an update.
    copy = AuditEvent(pk=recorded.pk, account=account, action="list", object_type="visit", object_id="2")
    copy.via = "api"
    with pytest.raises(DatabaseError), transaction.atomic():
        copy.save()
    recorded.refresh_from_db()
    assert (recorded.detail, recorded.action) == ("", "read")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_changes_made_past_the_application(account):
    recorded = event(account)
    for sql in ("UPDATE clinic_auditevent SET detail = 'x'", "DELETE FROM clinic_auditevent"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(sql)
    assert AuditEvent.objects.get().pk == recorded.pk


def test_deleting_a_user_or_a_patient_keeps_their_trail(account, admin_api):
    someone = MemberFactory(account=account)
    recorded = event(account, user=someone.user, member=someone)
    user_id, member_id = someone.user_id, someone.pk
    someone.delete()
    User.objects.filter(pk=user_id).delete()
    recorded = AuditEvent.objects.select_related("user", "member").get(pk=recorded.pk)
    assert (recorded.user_id, recorded.member_id) == (user_id, member_id)
    assert recorded.actor_words == f"Deleted user #{user_id}"
    assert recorded.patient_words == f"Deleted patient #{member_id}"
    # The API names patients by person id (their user), which went with the patient: the row stays, unnamed.
    assert admin_api.get("audit_events").json()["data"][0]["member_id"] is None


# --- recording -------------------------------------------------------------------------------------------


def test_a_list_records_every_row_of_the_page_in_one_insert(account, room, member, member_api):
    visits = [
        VisitFactory(account=account, room=room, member=member, intake__member=member) for _ in range(25)
    ]
    with CaptureQueriesContext(connection) as ctx:
        listed = member_api.get("visits", {"limit": 20})
    assert listed.status_code == 200
    assert inserts_into_the_trail(ctx) == 1
    shown = {row["id"] for row in listed.json()["data"]}
    recorded = AuditEvent.objects.filter(action="list")
    assert {e.object_id for e in recorded} == shown and len(shown) == 20
    assert {(e.user_id, e.member_id, e.via, e.object_type) for e in recorded} == {
        (member.user_id, member.pk, "api", "visit")
    }
    assert len(visits) == 25


def test_the_overdue_closer_records_each_batch_in_one_insert_as_the_system(account, room):
    room.max_waiting_time = 600
    room.save()
    with time_machine.travel(T0, tick=False):
        waiting = [VisitFactory(account=account, room=room) for _ in range(5)]
    with (
        time_machine.travel(T0 + dt.timedelta(hours=1), tick=False),
        CaptureQueriesContext(connection) as ctx,
    ):
        assert services.visits_close_overdue(batch_size=2) == 5
    assert inserts_into_the_trail(ctx) == 3  # batches of 2, 2 and 1
    recorded = AuditEvent.objects.all()
    assert sorted(int(e.object_id) for e in recorded) == sorted(v.pk for v in waiting)
    assert {(e.account_id, e.user_id, e.via, e.action, e.ip) for e in recorded} == {
        (account.pk, None, "task", "update", None)
    }
    assert {e.member_id for e in recorded} == {v.member_id for v in waiting}
    assert all(e.detail == "closed: max_waiting_time_reached" for e in recorded)


def test_creating_and_then_reusing_an_intake_are_told_apart(member_api, room, member):
    first = member_api.post("intakes", {"room_code": room.code, "reason_for_visit": "Cough"}).json()["data"]
    again = member_api.post("intakes", {"room_code": room.code, "reason_for_visit": "Worse"}).json()["data"]
    assert first["id"] == again["id"]  # the open intake is reused
    assert list(AuditEvent.objects.order_by("id").values_list("action", "object_type", "object_id")) == [
        ("create", "intake", first["id"]),
        ("update", "intake", first["id"]),
    ]


def test_sso_records_creating_then_updating_the_patient_with_the_key_as_actor(key_api, account):
    body = {"code": "EXT-9", "first_name": "Eve", "last_name": "Stone"}
    key_api.post("users/sso", body)
    key_api.post("users/sso", {**body, "phone": "4155550100"})
    patient = Member.objects.get(account=account, code="EXT-9")
    rows = list(AuditEvent.objects.order_by("id"))
    assert [(e.action, e.object_type, e.member_id, e.user_id, e.via) for e in rows] == [
        ("create", "user", patient.pk, None, "api"),
        ("update", "user", patient.pk, None, "api"),
    ]
    assert rows[0].detail.startswith("SSO with API key ")
    assert rows[0].actor_words == "A partner system (API key)"


@pytest.mark.parametrize(
    "proxies,forwarded,expected",
    [
        (0, "203.0.113.9", "192.0.2.1"),  # no trusted proxy: the header is the client's, ignored
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # the address our proxy saw, not the one sent
        (2, "198.51.100.7, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "203.0.113.9", "192.0.2.1"),  # fewer hops than proxies: it did not come through them
        (1, "not-an-address", None),
    ],
)
def test_the_address_is_the_peer_unless_a_trusted_proxy_says(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert audit.client_ip(request) == expected


# --- reading: the API ------------------------------------------------------------------------------------


def test_only_clinic_admins_read_the_trail(
    account, member_api, provider_api, front_desk_api, key_api, admin_api
):
    event(account)
    for caller in (member_api, provider_api, front_desk_api):
        refused = caller.get("audit_events")
        assert refused.status_code == 403, refused.json()
        assert refused.json()["code"] == 403
    assert key_api.get("audit_events").status_code in (401, 403)
    assert admin_api.get("audit_events").status_code == 200


def test_items_have_the_contracts_fields(account, member, admin_api, clinic_admin):
    recorded = event(account, user=clinic_admin, member=member, object_id="42", via="api", ip="2001:db8::1")
    body = admin_api.get("audit_events").json()
    assert body["total_count"] == 1 and (body["page"], body["limit"]) == (1, 20)
    assert body["data"] == [
        {
            "id": recorded.pk,
            "at": int(T0.timestamp()),
            "user_id": clinic_admin.pk,
            "action": "read",
            "object_type": "visit",
            "object_id": "42",
            "member_id": member.user_id,
            "ip": "2001:db8::1",
            "via": "api",
        }
    ]


@pytest.fixture
def trail(account, member, clinic_admin, provider):
    other = MemberFactory(account=account, code="P-2002")
    hour = dt.timedelta(hours=1)
    return {
        "pat_read": event(account, user=provider.user, member=member, object_id="1"),
        "pat_file": event(
            account, user=provider.user, member=member, object_type="file", object_id="f1", at=T0 + hour
        ),
        "other_list": event(
            account, user=clinic_admin, member=other, action="list", object_id="2", at=T0 + 2 * hour
        ),
        "system": event(account, member=other, action="update", via="task", object_id="3", at=T0 + 3 * hour),
    }


@pytest.mark.parametrize(
    "params,expected",
    [
        ({}, ["system", "other_list", "pat_file", "pat_read"]),
        ({"member_id": "P-1001"}, ["pat_file", "pat_read"]),
        ({"member_id": "P-2002"}, ["system", "other_list"]),
        ({"member_id": "nobody"}, []),
        ({"object_type": "file"}, ["pat_file"]),
        ({"object_type": "visit", "object_id": "1"}, ["pat_read"]),
        ({"action": "update"}, ["system"]),
        ({"start_time": int(T0.timestamp()) + 3600}, ["system", "other_list", "pat_file"]),
        ({"end_time": int(T0.timestamp()) + 3600}, ["pat_read"]),  # the end is exclusive
        (
            {"start_time": int(T0.timestamp()) + 1, "end_time": int(T0.timestamp()) + 3 * 3600},
            ["other_list", "pat_file"],
        ),
    ],
)
def test_api_filters(admin_api, trail, params, expected):
    body = admin_api.get("audit_events", params).json()
    assert [row["id"] for row in body["data"]] == [trail[name].pk for name in expected]
    assert body["total_count"] == len(expected)


def test_api_filters_by_user_and_by_the_patients_id(admin_api, trail, provider, member):
    by_user = admin_api.get("audit_events", {"user_id": provider.user_id}).json()["data"]
    assert [row["id"] for row in by_user] == [trail["pat_file"].pk, trail["pat_read"].pk]
    by_member_id = admin_api.get("audit_events", {"member_id": str(member.user_id)}).json()["data"]
    assert len(by_member_id) == 2


def test_api_pages(admin_api, trail):
    second = admin_api.get("audit_events", {"limit": 3, "page": 2}).json()
    assert [row["id"] for row in second["data"]] == [trail["pat_read"].pk]
    assert second["total_count"] == 4


@pytest.mark.parametrize(
    "params,field",
    [
        ({"object_type": "spaceship"}, "object_type"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"user_id": "me"}, "user_id"),
        ({"limit": 1000}, "limit"),
    ],
)
def test_api_bad_filters_name_the_field(admin_api, params, field):
    refused = admin_api.get("audit_events", params)
    assert refused.status_code == 400
    assert field in refused.json()["errors"]


def test_another_clinics_events_never_show(account, admin_api, client, clinic_admin):
    elsewhere = AccountFactory(code="elsewhere")
    stranger = MemberFactory(account=elsewhere, code="P-1001")  # the same code as a patient here
    event(elsewhere, member=stranger, object_id="99")
    ours = event(account, object_id="1")
    assert [row["id"] for row in admin_api.get("audit_events").json()["data"]] == [ours.pk]
    assert admin_api.get("audit_events", {"member_id": "P-1001"}).json()["total_count"] == 0
    assert admin_api.get("audit_events", {"member_id": str(stranger.pk)}).json()["total_count"] == 0
    their_admin = client_for(clinic_admin_user(elsewhere))
    assert [row["object_id"] for row in their_admin.get("audit_events").json()["data"]] == ["99"]
    client.force_login(clinic_admin)
    page = client.get("/manage/audit/")
    assert page.context["page"].paginator.count == 1
    exported = client.get("/manage/audit/export.csv")
    assert len(list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))) == 2


# --- reading: the page -----------------------------------------------------------------------------------


@pytest.fixture
def admin_page(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


def test_the_page_is_for_clinic_admins(client, account, provider, front_desk, clinic_admin):
    assert client.get("/manage/audit/").status_code == 302  # to the login form
    for user in (provider.user, front_desk):
        client.force_login(user)
        assert client.get("/manage/audit/").status_code == 403
        assert client.get("/manage/audit/export.csv").status_code == 403
        assert 'href="/manage/audit/"' not in client.get("/scheduling/day/").content.decode()
    client.force_login(clinic_admin)
    assert client.get("/manage/audit/").status_code == 200
    assert 'href="/manage/audit/"' in client.get("/manage/visits/").content.decode()


def test_the_page_says_it_in_words(admin_page, trail):
    body = admin_page.get("/manage/audit/").content.decode()
    assert "Grace Lee" in body and "Viewed" in body and "File" in body and "Staff page" in body
    assert "Pat Jones (P-1001)" in body and "The system" in body and "Background task" in body
    assert "Seen in a list" in body and "from 10.0.0.1" in body
    # The times are the clinic's (its rooms are in Los Angeles): 17:00 UTC is 09:00 PST.
    assert "2027-03-08 09:00:00" in body


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"patient": "Pat Jones"}, ["pat_file", "pat_read"]),
        ({"patient": "p-2002"}, ["system", "other_list"]),
        ({"person": "grace"}, ["pat_file", "pat_read"]),
        ({"action": "list"}, ["other_list"]),
        # Dates are whole days in the clinic's zone: 8 March there ends at 08:00 UTC on the 9th.
        (
            {"date_from": "2027-03-08", "date_to": "2027-03-08"},
            ["system", "other_list", "pat_file", "pat_read"],
        ),
        ({"date_from": "2027-03-09"}, []),
    ],
)
def test_page_filters(admin_page, trail, params, expected):
    page = admin_page.get("/manage/audit/", params).context["page"]
    assert [e.pk for e in page] == [trail[name].pk for name in expected]


def test_page_bad_dates_say_so(admin_page, trail):
    body = admin_page.get("/manage/audit/", {"date_from": "2027-03-09", "date_to": "2027-03-08"})
    assert "The end date is before the start date." in body.content.decode()


def test_the_page_is_paged_and_the_csv_has_every_filtered_row(admin_page, room, member, monkeypatch):
    account = room.account
    from clinic import admin_views

    monkeypatch.setattr(admin_views, "PAGE_SIZE", 2)
    for n in range(5):
        event(account, member=member, object_id=str(n), at=T0 + dt.timedelta(minutes=n))
    event(account, object_id="no patient")
    first = admin_page.get("/manage/audit/", {"patient": "P-1001"})
    assert first.context["page"].paginator.num_pages == 3
    assert "Page 1 of 3" in first.content.decode()
    assert "export.csv?patient=P-1001" in first.content.decode()
    exported = admin_page.get("/manage/audit/export.csv", {"patient": "P-1001"})
    assert exported["Content-Type"].startswith("text/csv")
    assert exported["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[0][:4] == ["When (America/Los_Angeles)", "User", "Username", "Action"]
    assert [r[5] for r in rows[1:]] == ["4", "3", "2", "1", "0"]
    assert {(r[3], r[4], r[6], r[7], r[8]) for r in rows[1:]} == {
        ("Viewed", "Visit", "Pat Jones", "P-1001", "Staff page")
    }


def test_the_csv_cannot_carry_a_formula(admin_page, account):
    sly = MemberFactory(account=account, first_name='=HYPERLINK("http://x")', last_name="Doe", code="P-3")
    event(account, member=sly)
    exported = admin_page.get("/manage/audit/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[1][6] == '\'=HYPERLINK("http://x") Doe'


def test_the_page_fits_a_phone(admin_page, trail):
    body = admin_page.get("/manage/audit/").content.decode()
    # No table to scroll sideways: each event is a wrapping list item; filters take half a row each.
    assert "<table" not in body and 'class="list-group-item audit-event"' in body
    assert "col-6 col-md-4" in body


# --- Django's admin --------------------------------------------------------------------------------------


def test_djangos_admin_shows_the_trail_read_only_and_audits_patient_pages(client, account, member):
    superuser = User.objects.create_superuser(username="root", password="x" * 12, account=None)
    recorded = event(account, member=member)
    client.force_login(superuser)
    change = client.get(f"/admin/clinic/auditevent/{recorded.pk}/change/")
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert client.post(f"/admin/clinic/auditevent/{recorded.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/clinic/auditevent/add/").status_code == 403
    assert AuditEvent.objects.filter(pk=recorded.pk).exists()
    client.get(f"/admin/clinic/member/{member.pk}/change/")
    seen = AuditEvent.objects.exclude(pk=recorded.pk).get()
    assert (seen.user_id, seen.member_id, seen.account_id, seen.detail) == (
        superuser.pk,
        member.pk,
        account.pk,
        "Django admin",
    )


def test_a_provider_sees_only_what_the_queue_shows_recorded(client, account, room):
    provider = ProviderFactory(account=account, rooms=[room])
    elsewhere = RoomFactory(account=account)
    mine = VisitFactory(account=account, room=room)
    VisitFactory(account=account, room=elsewhere)
    VisitFactory(account=account, room=room, status=VisitStatus.COMPLETED)
    client.force_login(provider.user)
    assert client.get("/dashboard/queues/", HTTP_HX_REQUEST="true").status_code == 200
    assert list(AuditEvent.objects.values_list("object_id", "member_id", "action")) == [
        (str(mine.pk), mine.member_id, "list")
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="asynchronous commit is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_reads_are_committed_without_waiting_for_the_disk_and_changes_durably(account, member):
    actor = audit.Actor(account_id=account.pk, user_id=None, ip=None, via="page")
    for action, waits in (("read", False), ("list", False), ("update", True), ("create", True)):
        with CaptureQueriesContext(connection) as ctx:
            assert audit.audit_record(actor, action, member) == 1
        asynchronous = any("synchronous_commit = off" in q["sql"] for q in ctx.captured_queries)
        assert asynchronous is not waits, action
    assert AuditEvent.objects.count() == 4
    # Inside a caller's transaction (the overdue closer's batch) the caller's durability applies.
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        audit.audit_record(actor, "read", member)
    assert not any("synchronous_commit" in q["sql"] for q in ctx.captured_queries)


@time_machine.travel(T0, tick=False)
def test_a_refreshing_queue_records_each_patient_when_they_appear_not_at_every_refresh(client, account, room):
    provider = ProviderFactory(account=account, rooms=[room])
    first = VisitFactory(account=account, room=room)
    client.force_login(provider.user)

    def refresh() -> list[str]:
        before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        assert client.get("/dashboard/queues/", HTTP_HX_REQUEST="true").status_code == 200
        return sorted(AuditEvent.objects.filter(id__gt=before).values_list("object_id", flat=True))

    assert refresh() == [str(first.pk)]
    second = VisitFactory(account=account, room=room)
    assert refresh() == [str(second.pk)]  # the newcomer only
    assert refresh() == []
    with time_machine.travel(T0 + dt.timedelta(seconds=301), tick=False):
        assert refresh() == sorted([str(first.pk), str(second.pk)])  # the window has passed
    # Opening a visit is recorded every time.
    for _ in range(2):
        client.get(f"/dashboard/visits/{first.pk}/")
    assert AuditEvent.objects.filter(action="read", object_id=str(first.pk)).count() == 2


def test_every_list_view_is_recorded_when_the_window_is_zero(settings, client, account, room):
    settings.AUDIT_LIST_REPEAT_SECONDS = 0
    provider = ProviderFactory(account=account, rooms=[room])
    VisitFactory(account=account, room=room)
    client.force_login(provider.user)
    for _ in range(3):
        client.get("/dashboard/queues/", HTTP_HX_REQUEST="true")
    assert AuditEvent.objects.filter(action="list").count() == 3
