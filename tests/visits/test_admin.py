"""The Django admin goes through the same services: a group visit there holds its provider's time too."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.clinic.factories import ConsultationFactory, UserFactory
from tests.scheduling.factories import EVERY_DAY, work
from visits.models import VisitGroup

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(account=None, is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def group_class(room):
    return ConsultationFactory(room=room, description="Yoga", duration=3600, capacity=5)


def _add(admin_client, room, consultation, provider, start):
    local = timezone.localtime(start)
    return admin_client.post(
        "/admin/visits/visitgroup/add/",
        {
            "room": room.pk,
            "consultation": consultation.pk,
            "provider": provider.pk,
            "start_0": local.strftime("%Y-%m-%d"),
            "start_1": local.strftime("%H:%M:%S"),
        },
    )


def _next_hour(days: int) -> dt.datetime:
    return (timezone.now() + dt.timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


def test_admin_plans_a_group_visit_when_the_provider_is_free(admin_client, room, provider, group_class):
    work(provider, room, days=EVERY_DAY, start=dt.time(0), end=dt.time(0))
    start = _next_hour(2)
    response = _add(admin_client, room, group_class, provider, start)
    assert response.status_code == 302
    group = VisitGroup.objects.get()
    assert (group.start, group.end, group.capacity, group.account_id) == (
        start,
        start + dt.timedelta(hours=1),
        5,
        room.account_id,
    )


def test_admin_is_told_when_the_provider_is_not_free(admin_client, room, provider, group_class):
    response = _add(admin_client, room, group_class, provider, _next_hour(2))  # no working hours at all
    assert response.status_code == 200
    assert "is not free then" in response.content.decode()
    assert not VisitGroup.objects.exists()
