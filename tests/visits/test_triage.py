"""Triage: urgent patients first (by a room's rule on intake answers, or set by staff), and sending a
patient in progress back to the queue."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from clinic.errors import NotFound
from tests.clinic.factories import MemberFactory, ProviderFactory, RoomFactory
from tests.visits.factories import IntakeFactory
from visits import services
from visits.models import Priority, Visit, VisitEvent, VisitStatus

pytestmark = pytest.mark.django_db


def _join(room, member, **custom):
    intake = IntakeFactory(account=room.account, room=room, member=member, custom=custom)
    return services.visit_add_walkin(
        account=room.account, actor=member.user, intake_id=intake.pk, room_code=room.code
    )


def test_a_rooms_urgent_answer_puts_the_patient_first(client, room, member, provider):
    room.urgent_answers = {"custom_chest_pain": ["yes"]}
    room.save()
    with time_machine.travel(timezone.now() - dt.timedelta(minutes=10)):
        earlier = _join(room, member, custom_chest_pain="No")
    urgent = _join(room, MemberFactory(account=room.account), custom_chest_pain="Yes")
    assert (earlier.priority, urgent.priority) == (Priority.NORMAL, Priority.URGENT)
    client.force_login(provider.user)
    html = client.get(reverse("visits:dashboard")).content.decode()
    assert html.index(f'id="visit-{urgent.pk}"') < html.index(f'id="visit-{earlier.pk}"')
    assert "Urgent" in html


@pytest.mark.parametrize(
    "rule", ['["yes"]', {"custom_chest_pain": "yes"}, {"custom_chest_pain": []}, {"custom_chest_pain": [""]}]
)
def test_a_misshapen_urgent_rule_is_refused_with_its_shape(room, rule):
    room.urgent_answers = rule
    with pytest.raises(ValidationError) as refused:
        room.full_clean()
    assert "custom_chest_pain" in str(refused.value) or "Write it as" in str(refused.value)


def test_staff_and_the_rooms_providers_set_priority_and_it_is_recorded(
    account, room, member, front_desk, provider
):
    visit = _join(room, member)
    services.visit_priority_set(
        account=account, actor=front_desk, visit_id=visit.pk, priority=Priority.URGENT
    )
    assert Visit.objects.get(pk=visit.pk).priority == Priority.URGENT
    event = VisitEvent.objects.filter(visit=visit).last()
    assert (event.actor, event.reason) == (front_desk, "priority urgent")
    services.visit_priority_set(
        account=account, actor=provider.user, visit_id=visit.pk, priority=Priority.NORMAL
    )
    outsider = ProviderFactory(account=account, rooms=[RoomFactory(account=account, code="derm")])
    with pytest.raises(NotFound):  # not even visible to a provider of another room
        services.visit_priority_set(account=account, actor=outsider.user, visit_id=visit.pk, priority=1)
    assert Visit.objects.get(pk=visit.pk).priority == Priority.NORMAL


def test_a_patient_in_progress_goes_back_to_the_queue(account, room, member, provider, front_desk):
    visit = _join(room, member)
    services.visit_accept(account=account, actor=provider.user, visit_id=visit.pk)
    back = services.visit_requeue(account=account, actor=front_desk, visit_id=visit.pk)
    assert (back.status, back.provider_id, back.actual_start) == (VisitStatus.WAITING, None, None)
    assert VisitEvent.objects.filter(visit=visit).last().reason == "sent back to the queue"
    services.visit_accept(account=account, actor=provider.user, visit_id=visit.pk)  # and can be taken again
