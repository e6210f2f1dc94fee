"""Who may close which visit, with which reasons (visits.services.visit_close_reasons).

Every refusal leaves the visit as it was."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.clinic.factories import ProviderFactory
from tests.conftest import client_for
from tests.visits.factories import VisitFactory
from visits import services
from visits.models import Visit, VisitStatus, VisitType

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting_walkin(room, member):
    return VisitFactory(account=room.account, room=room, intake__member=member)


@pytest.fixture
def in_progress(room, member, provider):
    visit = VisitFactory(account=room.account, room=room, intake__member=member)
    services.visit_accept(account=room.account, actor=provider.user, visit_id=visit.pk)
    return visit


def _close(api, visit, reason):
    return api.post("visits/close", {"id": visit.pk, "reason": reason})


def _status(visit) -> int:
    return Visit.objects.get(pk=visit.pk).status


def test_the_patient_closes_their_own_visit_with_the_apps_reasons(member_api, in_progress):
    assert _close(member_api, in_progress, "patient_end_call").status_code == 200
    assert _status(in_progress) == VisitStatus.CANCELLED


def test_a_patient_cannot_claim_the_max_wait_before_it_has_passed(member_api, room, waiting_walkin):
    room.max_waiting_time = 600
    room.save()
    early = _close(member_api, waiting_walkin, "max_waiting_time_reached")
    assert early.status_code == 409
    assert _status(waiting_walkin) == VisitStatus.WAITING
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=601)):
        assert _close(member_api, waiting_walkin, "max_waiting_time_reached").status_code == 200
    assert Visit.objects.get(pk=waiting_walkin.pk).close_reason == "max_waiting_time_reached"


def test_a_room_without_a_max_wait_never_lets_a_patient_claim_it(member_api, room, waiting_walkin):
    room.max_waiting_time = None
    room.save()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=5)):
        assert _close(member_api, waiting_walkin, "max_waiting_time_reached").status_code == 409
    assert _status(waiting_walkin) == VisitStatus.WAITING


def test_the_provider_with_the_patient_ends_the_call(provider_api, in_progress):
    assert _close(provider_api, in_progress, "call_ended").status_code == 200
    assert _status(in_progress) == VisitStatus.CANCELLED


def test_a_provider_cannot_use_the_patient_apps_reasons(provider_api, in_progress):
    response = _close(provider_api, in_progress, "patient_end_call")
    assert response.status_code == 403
    assert _status(in_progress) == VisitStatus.IN_PROGRESS


def test_another_provider_of_the_room_cannot_close_a_colleagues_visit(account, room, in_progress):
    colleague = ProviderFactory(account=account, rooms=[room])
    response = _close(client_for(colleague.user), in_progress, "call_ended")
    assert response.status_code == 403
    assert _status(in_progress) == VisitStatus.IN_PROGRESS


def test_a_provider_may_close_an_unheld_waiting_patient_of_their_queue(provider_api, waiting_walkin):
    assert _close(provider_api, waiting_walkin, "call_ended").status_code == 200


def test_front_desk_closes_what_has_not_started_but_never_a_visit_in_progress(
    front_desk_api, waiting_walkin, in_progress
):
    refused = _close(front_desk_api, in_progress, "patient_exit_room")
    assert refused.status_code == 403
    assert _status(in_progress) == VisitStatus.IN_PROGRESS
    assert _close(front_desk_api, waiting_walkin, "call_ended").status_code == 403
    assert _close(front_desk_api, waiting_walkin, "patient_exit_room").status_code == 200


def test_front_desk_cancels_an_appointment_by_phone(front_desk_api, room, member):
    appointment = VisitFactory(
        account=room.account, room=room, intake__member=member, type=VisitType.SCHEDULED
    )
    assert _close(front_desk_api, appointment, "patient_cancel_appointment").status_code == 200


def test_a_clinic_admin_closes_a_visit_in_progress(admin_api, in_progress):
    assert _close(admin_api, in_progress, "patient_end_call").status_code == 200


def test_nobody_closes_with_the_providers_or_the_systems_own_codes_through_the_api(admin_api, in_progress):
    for reason in ("no_answer", "force_cancelled", "duplicate"):
        response = _close(admin_api, in_progress, reason)
        assert response.status_code == 400
        assert "reason" in response.json()["errors"]
    assert _status(in_progress) == VisitStatus.IN_PROGRESS


def test_the_dashboard_closes_with_the_providers_reasons_and_their_words(client, provider, in_progress):
    client.force_login(provider.user)
    url = reverse("visits:close", args=[in_progress.pk])
    missing = client.post(url, {"reason": "provider_other", "note": ""}, HTTP_HX_REQUEST="true")
    assert "Say why, in a few words." in missing.content.decode()
    assert _status(in_progress) == VisitStatus.IN_PROGRESS
    client.post(
        url, {"reason": "emergency_referral", "note": "Chest pain: sent to the ER"}, HTTP_HX_REQUEST="true"
    )
    visit = Visit.objects.get(pk=in_progress.pk)
    assert (visit.status, visit.close_reason, visit.close_note) == (
        VisitStatus.CANCELLED,
        "emergency_referral",
        "Chest pain: sent to the ER",
    )
    assert visit.get_close_reason_display() == "Redirected to emergency care"
