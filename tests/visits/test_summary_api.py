"""GET /api/v3/visits/:id/exports/visit_summary: 202 while rendering, then the PDF; who may fetch it."""

import datetime as dt

import pytest

from tests.clinic.factories import (
    AccountFactory,
    MemberFactory,
    ProviderFactory,
    RoomFactory,
    clinic_admin_user,
)
from tests.conftest import client_for
from tests.visits.summary_factories import eager_celery, media, pdf_text, walk_through  # noqa: F401
from visits.models import SummaryDownload, VisitSummary

pytestmark = pytest.mark.usefixtures("media", "eager_celery")

JOINED = dt.datetime(2026, 3, 10, 18, 0, tzinfo=dt.UTC)  # 11:00 PDT: two days after DST began


def _path(visit) -> str:
    return f"visits/{visit.pk}/exports/visit_summary"


def _content(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def visit(account, room, member, provider):
    return walk_through(member=member, provider=provider, room=room, joined=JOINED)


def test_202_while_rendering_then_200_with_the_pdf(
    django_capture_on_commit_callbacks, visit, admin_api, clinic_admin
):
    # No summary yet (the hook's task never ran): the first call starts the render and says wait.
    VisitSummary.objects.filter(visit=visit).delete()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = admin_api.get(_path(visit))
    assert first.status_code == 202
    assert first.json() == {"data": {"status": "pending"}}
    assert int(first["Retry-After"]) > 0
    assert len(callbacks) == 1  # the render was enqueued on commit (and ran, eagerly)
    assert not SummaryDownload.objects.exists()

    second = admin_api.get(_path(visit))
    assert second.status_code == 200
    assert second["Content-Type"] == "application/pdf"
    disposition = second["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="visit-summary-{visit.pk}-pat-jones-2026-03-10.pdf"' in disposition
    text = pdf_text(_content(second))
    assert "Pat Jones" in text and "11:00 PDT" in text

    download = SummaryDownload.objects.get()
    assert (download.visit_id, download.user_id, download.account_id) == (
        visit.pk,
        clinic_admin.pk,
        visit.account_id,
    )


def test_polling_while_pending_does_not_enqueue_again(django_capture_on_commit_callbacks, visit, admin_api):
    VisitSummary.objects.filter(visit=visit).delete()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert admin_api.get(_path(visit)).status_code == 202
        assert admin_api.get(_path(visit)).status_code == 202
    assert len(callbacks) == 1


def test_a_changed_visit_answers_202_until_rendered_again(
    django_capture_on_commit_callbacks, visit, admin_api, member_api
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.get(_path(visit))
    assert admin_api.get(_path(visit)).status_code == 200

    visit.member.last_name = "Jones-Okafor"
    visit.member.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_api.get(_path(visit)).status_code == 202
    again = admin_api.get(_path(visit))
    assert again.status_code == 200
    assert "Jones-Okafor" in pdf_text(_content(again))


def test_the_intake_of_an_ended_visit_is_read_only_and_the_summary_stays(
    django_capture_on_commit_callbacks, visit, admin_api, member_api
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.get(_path(visit))
    rewritten = member_api.post(f"intakes/{visit.intake_id}", {"reason_for_visit": "Something else"})
    assert rewritten.status_code == 409
    assert rewritten.json()["errors"] == {"id": ["The visit has ended."]}
    assert admin_api.get(_path(visit)).status_code == 200  # still current: nothing changed
    assert "Something else" not in pdf_text(_content(admin_api.get(_path(visit))))


def test_completing_through_the_api_renders_in_the_background(
    django_capture_on_commit_callbacks, account, room, member, provider, provider_api
):
    visit = walk_through(member=member, provider=provider, room=room, joined=JOINED, wait=None)
    provider_api.post("visits/accept", {"id": visit.pk})
    with django_capture_on_commit_callbacks(execute=True):
        done = provider_api.post("visits/complete", {"id": visit.pk, "notes": "<p>Ice pack</p>"})
    assert done.status_code == 200
    response = provider_api.get(_path(visit))
    assert response.status_code == 200  # ready at once: rendered when the visit completed
    assert "Ice pack" in pdf_text(_content(response))


@pytest.fixture
def ready(django_capture_on_commit_callbacks, visit, admin_api):
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.get(_path(visit))
    SummaryDownload.objects.all().delete()
    return visit


def test_the_patient_gets_their_own_summary(ready, member_api, member):
    response = member_api.get(_path(ready))
    assert response.status_code == 200
    assert SummaryDownload.objects.get().user_id == member.user_id


def test_another_patient_gets_404(ready, account):
    stranger = MemberFactory(account=account)
    response = client_for(stranger.user).get(_path(ready))
    assert response.status_code == 404
    assert response.json()["code"] == 404
    assert not SummaryDownload.objects.exists()


def test_the_visits_provider_gets_it(ready, provider_api):
    assert provider_api.get(_path(ready)).status_code == 200


def test_a_colleague_in_the_same_room_reads_it_as_they_read_the_notes(ready, other_provider):
    # One rule for clinical content: whoever sees the visit's notes sees its summary.
    response = client_for(other_provider.user).get(_path(ready))
    assert response.status_code == 200
    assert SummaryDownload.objects.filter(user=other_provider.user).exists()


def test_a_provider_of_another_room_gets_404(ready, account):
    elsewhere = ProviderFactory(account=account, rooms=[RoomFactory(account=account, code="annex")])
    assert client_for(elsewhere.user).get(_path(ready)).status_code == 404


def test_the_front_desk_cannot_fetch_a_waiting_visit_either(account, room, member, provider, front_desk_api):
    waiting = walk_through(member=member, provider=provider, room=room, joined=JOINED, wait=None)
    response = front_desk_api.get(_path(waiting))
    assert response.status_code == 403
    assert not VisitSummary.objects.filter(visit=waiting).exists()  # refused before any render


def test_front_desk_is_refused(ready, front_desk_api):
    response = front_desk_api.get(_path(ready))
    assert response.status_code == 403
    assert response.json()["message"]


def test_another_accounts_admin_gets_404(ready):
    other = AccountFactory(code="elsewhere")
    RoomFactory(account=other, code="main")
    ProviderFactory(account=other)
    response = client_for(clinic_admin_user(other)).get(_path(ready))
    assert response.status_code == 404
    assert not SummaryDownload.objects.exists()


def test_unknown_and_malformed_ids_are_404(admin_api):
    assert admin_api.get("visits/999999/exports/visit_summary").status_code == 404
    assert admin_api.get("visits/abc/exports/visit_summary").status_code == 404


def test_every_download_is_logged(ready, admin_api, member_api, clinic_admin, member):
    admin_api.get(_path(ready))
    member_api.get(_path(ready))
    admin_api.get(_path(ready))
    users = list(SummaryDownload.objects.order_by("created", "id").values_list("user_id", flat=True))
    assert users == [clinic_admin.pk, member.user_id, clinic_admin.pk]


def test_a_summary_lost_from_storage_is_rendered_again(ready, admin_api, django_capture_on_commit_callbacks):
    summary = VisitSummary.objects.get(visit=ready)
    summary.file.storage.delete(summary.file.name)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_api.get(_path(ready)).status_code == 202
    again = admin_api.get(_path(ready))
    assert again.status_code == 200
    assert b"".join(again.streaming_content).startswith(b"%PDF")
