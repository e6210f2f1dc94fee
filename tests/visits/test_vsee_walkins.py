"""VSee clients: walk-ins for a named provider, and the video call's `meeting` object."""

import pytest
from django.urls import reverse

from tests.conftest import client_for
from tests.visits.factories import IntakeFactory
from visits.models import Visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def intake(member, room):
    return IntakeFactory(account=room.account, room=room, member=member)


def _walkin(api, intake, **extra):
    return api.post(
        "visits/add_walkin", {"intake_id": str(intake.pk), "room_code": intake.room.code, **extra}
    )


def test_a_walkin_for_a_named_provider_waits_in_their_queue_alone(
    client, member_api, intake, provider, other_provider
):
    response = _walkin(member_api, intake, provider_id=provider.user_id)
    assert response.status_code == 201, response.json()
    visit = response.json()["data"]
    assert (visit["status"], visit["provider"]["id"]) == (10, provider.user_id)

    client.force_login(provider.user)
    mine = client.get(reverse("visits:dashboard")).content.decode()
    assert f'id="visit-{visit["id"]}"' in mine and "For you" in mine
    client.force_login(other_provider.user)
    assert f'id="visit-{visit["id"]}"' not in client.get(reverse("visits:dashboard")).content.decode()

    refused = client_for(other_provider.user).post("visits/accept", {"id": visit["id"]})
    assert refused.status_code == 409
    assert client_for(provider.user).post("visits/accept", {"id": visit["id"]}).status_code == 200


def test_a_walkin_for_a_provider_of_another_room_is_a_400(member_api, intake, account):
    from tests.clinic.factories import ProviderFactory, RoomFactory

    elsewhere = ProviderFactory(account=account, rooms=[RoomFactory(account=account, code="derm")])
    response = _walkin(member_api, intake, provider_id=elsewhere.user_id)
    assert response.status_code == 400
    assert "provider_id" in response.json()["errors"]
    assert not Visit.objects.exists()


def test_every_visit_has_a_stable_meeting_and_links_only_when_configured(member_api, intake, room, account):
    first = _walkin(member_api, intake).json()["data"]
    meeting = first["meeting"]
    assert meeting["patient_url"] is None and meeting["provider_url"] is None
    again = member_api.get(f"visits/{first['id']}").json()["data"]["meeting"]
    assert again["meeting_id"] == meeting["meeting_id"]

    account.video_link_template = "https://meet.example.org/{meeting_id}?as={role}"
    account.save()
    links = member_api.get(f"visits/{first['id']}").json()["data"]["meeting"]
    assert links["patient_url"] == f"https://meet.example.org/{meeting['meeting_id']}?as=patient"
    room.video_link_template = "https://video.clinic.test/r/{meeting_id}"
    room.save()
    room_links = member_api.get(f"visits/{first['id']}").json()["data"]["meeting"]
    assert room_links["provider_url"] == f"https://video.clinic.test/r/{meeting['meeting_id']}"


def test_meeting_ids_differ_between_visits(member_api, member, room):
    ids = {
        _walkin(member_api, IntakeFactory(account=room.account, room=room, member=member)).json()["data"][
            "meeting"
        ]["meeting_id"]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_the_providers_card_offers_join_call_when_there_is_a_link(
    client, member_api, intake, provider, settings
):
    settings.VIDEO_LINK_TEMPLATE = "https://meet.example.org/{meeting_id}"
    visit = _walkin(member_api, intake).json()["data"]
    client_for(provider.user).post("visits/accept", {"id": visit["id"]})
    client.force_login(provider.user)
    html = client.get(reverse("visits:dashboard")).content.decode()
    assert f'href="https://meet.example.org/{visit["meeting"]["meeting_id"]}"' in html
    assert "Join call" in html
