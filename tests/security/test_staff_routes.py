"""Who gets what from the new staff routes: the visit's provider, a provider of another room, the front
desk, a user of another clinic, nobody logged in. Refusals name nothing the caller may not see."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.clinic.factories import AccountFactory, ProviderFactory, RoomFactory, front_desk_user
from tests.visits.factories import VisitFactory
from visits.models import NoteDraft, VisitStatus


@pytest.fixture
def visit(account, room, provider, member):
    member.first_name, member.last_name = "Zebediah", "Secretname"
    member.save()
    return VisitFactory(
        account=account, room=room, provider=provider, intake__member=member, status=VisitStatus.IN_PROGRESS
    )


@pytest.fixture
def callers(account, other_provider, front_desk):
    other_room_provider = ProviderFactory(account=account, rooms=[RoomFactory(account=account, code="far")])
    elsewhere = AccountFactory(code="elsewhere")
    stranger = ProviderFactory(account=elsewhere, rooms=[RoomFactory(account=elsewhere, code="main")])
    return {
        "same room, not theirs": other_provider.user,
        "other room": other_room_provider.user,
        "front desk": front_desk,
        "other clinic provider": stranger.user,
        "other clinic desk": front_desk_user(elsewhere),
        "nobody": None,
    }


def _as(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_only_the_visits_provider_reads_or_writes_its_draft_and_preview(visit, provider, callers):
    draft = reverse("visits:notes-draft", args=[visit.pk])
    preview = reverse("visits:queue-preview", args=[visit.pk])
    assert _as(provider.user).post(draft, {"notes": "mine"}).status_code == 200
    for who, user in callers.items():
        client = _as(user)
        wrote = client.post(draft, {"notes": "not yours"})
        assert wrote.status_code in (302, 401, 403, 404, 409), who
        if who == "same room, not theirs":  # sees the room's queue, names included, not the draft
            assert b"not yours" not in wrote.content and b"mine" not in client.get(preview).content
            continue
        assert b"Secretname" not in wrote.content, who
        seen = client.get(preview)
        assert seen.status_code in (302, 401, 403, 404), who
        assert b"Secretname" not in seen.content, who
    assert list(NoteDraft.objects.values_list("text", flat=True)) == ["mine"]


def test_the_calendar_and_waitlist_routes_refuse_other_clinics_and_providers(visit, provider, callers):
    cancel = reverse("scheduling:calendar-cancel", args=[visit.pk])
    undo = reverse("scheduling:calendar-undo", args=[visit.pk])
    for who in ("other clinic desk", "other clinic provider", "same room, not theirs", "nobody"):
        client = _as(callers[who])
        for url in (cancel, undo):
            answer = client.post(url, {"view": "day"})
            assert answer.status_code in (302, 403, 404), (who, url, answer.status_code)
            assert b"Secretname" not in answer.content, who
        if who != "other clinic desk":  # their own clinic's waitlist, naming nobody of ours
            assert client.get(reverse("waitlist:page")).status_code in (302, 403), who
    visit.refresh_from_db()
    assert visit.status == VisitStatus.IN_PROGRESS
