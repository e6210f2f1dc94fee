"""Bad ids and parameters in page URLs answer 404/400, never a 500."""

import pytest

from tests.clinic.factories import AccountFactory, clinic_admin_user
from tests.visits.factories import VisitFactory
from visits.models import VisitType

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client(client):
    client.raise_request_exception = False
    return client


def test_unknown_or_foreign_appointment_on_the_booking_pages_is_404(page_client, front_desk):
    foreign = VisitFactory(account=AccountFactory(code="other"), type=VisitType.SCHEDULED)
    page_client.force_login(front_desk)
    for visit_id in (999_999, foreign.pk):
        assert page_client.get(f"/scheduling/appointments/{visit_id}/reschedule/").status_code == 404
        assert page_client.post(f"/scheduling/appointments/{visit_id}/cancel/", {}).status_code == 404


def test_a_provider_id_that_is_not_a_number_shows_the_first_provider(page_client, account, provider):
    page_client.force_login(clinic_admin_user(account))
    response = page_client.get("/scheduling/hours/", {"provider": "abc"})
    assert response.status_code == 200
    assert provider.display_name in response.content.decode()
