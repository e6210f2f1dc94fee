"""One rule for clinical content (notes, the patient's files, the PDF summary), the same on every path:
patients their own, providers and clinic admins the visits they see, the front desk none."""

import pytest
from django.urls import reverse

from tests.visits.attachment_factories import stored_attachment
from tests.visits.factories import VisitFactory
from visits.models import VisitStatus

pytestmark = pytest.mark.django_db

NOTE = "Penicillin allergy confirmed"


@pytest.fixture
def finished(account, room, member, provider):
    visit = VisitFactory(
        account=account,
        room=room,
        intake__member=member,
        member=member,
        provider=provider,
        status=VisitStatus.COMPLETED,
        notes=f"<p>{NOTE}</p>",
    )
    stored_attachment(user=member.user, intake=visit.intake)
    return visit


def test_the_front_desk_reads_no_notes_or_files_through_the_api(front_desk_api, finished):
    data = front_desk_api.get(f"visits/{finished.pk}").json()["data"]
    assert data["notes"] == "" and data["intake"]["attachments"] == []
    assert data["intake"]["reason_for_visit"]  # who, when and why stay visible
    listed = front_desk_api.get("visits").json()["data"][0]
    assert listed["notes"] == "" and listed["intake"]["attachments"] == []
    assert front_desk_api.get(f"intakes/{finished.intake_id}").json()["data"]["attachments"] == []
    assert front_desk_api.get(f"visits/{finished.pk}/exports/visit_summary").status_code == 403


def test_providers_admins_and_the_patient_read_them(provider_api, admin_api, member_api, finished):
    for api in (provider_api, admin_api, member_api):
        data = api.get(f"visits/{finished.pk}").json()["data"]
        assert NOTE in data["notes"] and len(data["intake"]["attachments"]) == 1


def test_the_visit_page_withholds_notes_and_files_from_the_front_desk(client, front_desk, provider, finished):
    url = reverse("visits:detail", args=[finished.pk])
    client.force_login(front_desk)
    page = client.get(url).content.decode()
    assert NOTE not in page and "/attachments/" not in page
    assert "shown to providers and clinic admins" in page
    client.force_login(provider.user)
    page = client.get(url).content.decode()
    assert NOTE in page and "/attachments/" in page
