"""The event stream: who hears what, replay after a reconnect, heartbeats, and the ways it is refused."""

import asyncio
import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from push import streams
from push.events import EventKind
from push.services import publish_on_commit
from tests.clinic.factories import AccountFactory, RoomFactory
from tests.push.conftest import open_stream, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def rooms(account, room):
    """The provider's room, another room of the same clinic, and a room of another clinic."""
    return room, RoomFactory(account=account, code="annex"), RoomFactory(account=AccountFactory(code="rival"))


def run(scenario):
    return async_to_sync(scenario)()


def test_a_provider_hears_their_rooms_only(push_backend, provider, rooms):
    mine, not_mine, other_clinic = rooms

    async def scenario():
        stream = await open_stream(provider.user)
        await sync_to_async(publish)(account_id=other_clinic.account_id, room_ids=[other_clinic.pk, mine.pk])
        await sync_to_async(publish)(account_id=mine.account_id, room_ids=[not_mine.pk])
        await stream.nothing_for(0.5)
        await sync_to_async(publish)(account_id=mine.account_id, room_ids=[not_mine.pk, mine.pk])
        return await stream.event()

    frame = run(scenario)
    # What changed and its id; the rooms the provider does not work in are not named.
    assert frame["event"] == "queue"
    assert frame["data"] == {"rooms": [mine.pk]}
    assert frame["id"] == push_backend.last_id(mine.account_id)


def test_a_provider_hears_their_rooms_visits_in_progress_change(push_backend, provider, rooms):
    """The dashboard's "In progress" reloads on it (a patient who hung up on them shows at once)."""
    mine, not_mine, _ = rooms

    def changed(room_ids):
        with TestCase.captureOnCommitCallbacks(execute=True):
            publish_on_commit(kind=EventKind.IN_PROGRESS, account_id=mine.account_id, room_ids=room_ids)

    async def scenario():
        stream = await open_stream(provider.user)
        await sync_to_async(changed)([not_mine.pk])
        await stream.nothing_for(0.5)
        await sync_to_async(changed)([mine.pk])
        return await stream.event()

    frame = run(scenario)
    assert frame["event"] == "in-progress"
    assert frame["data"] == {"rooms": [mine.pk]}


@pytest.mark.parametrize("role", ["front_desk", "clinic_admin"])
def test_front_desk_and_admins_hear_every_room_of_their_clinic_only(push_backend, request, role, rooms):
    mine, annex, other_clinic = rooms
    user = request.getfixturevalue(role)

    async def scenario():
        stream = await open_stream(user)
        await sync_to_async(publish)(account_id=other_clinic.account_id, room_ids=[other_clinic.pk])
        await sync_to_async(publish)(account_id=mine.account_id, room_ids=[annex.pk])
        first = await stream.event()
        await sync_to_async(publish)(account_id=mine.account_id, room_ids=[mine.pk])
        return first, await stream.event()

    first, second = run(scenario)
    assert (first["data"], second["data"]) == ({"rooms": [annex.pk]}, {"rooms": [mine.pk]})


def test_patients_and_anonymous_users_get_no_stream(push_backend, client, member):
    async def status(user):
        from django.test import AsyncClient

        async_client = AsyncClient()
        if user is not None:
            await async_client.aforce_login(user)
        return (await async_client.get(reverse("visits:events"))).status_code

    assert async_to_sync(status)(None) == 403
    assert async_to_sync(status)(member.user) == 403


def test_a_burst_of_changes_reaches_the_page_as_one_more_reload(push_backend, settings, provider, rooms):
    settings.PUSH_MIN_INTERVAL_SECONDS = 0.4
    mine = rooms[0]
    annex = RoomFactory(account=mine.account, code="east")
    provider.rooms.add(annex)

    async def scenario():
        stream = await open_stream(provider.user)
        loop = asyncio.get_running_loop()
        await sync_to_async(publish)(account_id=mine.account_id, room_ids=[mine.pk])
        first, first_at = await stream.event(), loop.time()
        for room in (mine, annex, mine):
            await sync_to_async(publish)(account_id=mine.account_id, room_ids=[room.pk])
        merged, merged_at = await stream.event(), loop.time()
        await stream.nothing_for(0.6)
        return first, merged, merged_at - first_at

    first, merged, gap = run(scenario)
    assert first["data"] == {"rooms": [mine.pk]}
    assert merged["data"] == {"rooms": sorted([mine.pk, annex.pk])}
    assert merged["id"] == push_backend.last_id(mine.account_id)
    assert gap >= 0.35


def test_a_reconnecting_page_gets_what_it_missed_once(push_backend, provider, rooms):
    mine, not_mine, _ = rooms

    async def scenario():
        stream = await open_stream(provider.user)
        await sync_to_async(publish)(account_id=mine.account_id, room_ids=[mine.pk])
        seen = (await stream.event())["id"]
        # The connection drops; meanwhile three changes, one in a room the provider cannot see.
        for room in (mine, not_mine, mine):
            await sync_to_async(publish)(account_id=mine.account_id, room_ids=[room.pk])
        again = await open_stream(provider.user, **{"Last-Event-ID": seen})
        replayed = await again.event()
        await again.nothing_for(0.5)
        return replayed

    replayed = run(scenario)
    assert replayed["event"] == "queue"
    assert replayed["data"] == {"rooms": [mine.pk]}
    assert replayed["id"] == push_backend.last_id(mine.account_id)


@pytest.mark.parametrize("last_seen", ["too-old", "not-an-id"])
def test_a_page_whose_missed_events_are_gone_is_told_to_refresh_once(
    push_backend, settings, provider, rooms, last_seen
):
    mine = rooms[0]
    settings.PUSH_RETENTION = 3

    # Redis trims whole blocks of about 100 entries; the SQLite file trims exactly.
    changes = 300 if settings.PUSH_URL.startswith("redis") else 5

    async def scenario():
        for _ in range(changes):
            await sync_to_async(publish)(account_id=mine.account_id, room_ids=[mine.pk])
        stream = await open_stream(
            provider.user, **{"Last-Event-ID": "1-0" if last_seen == "too-old" else "x"}
        )
        refresh = await stream.event()
        await stream.nothing_for(0.3)
        return refresh

    refresh = run(scenario)
    assert refresh["event"] == "refresh"
    assert refresh["id"] == push_backend.last_id(mine.account_id)


def test_the_page_stream_starts_from_when_the_page_was_rendered(push_backend, client, provider, rooms):
    """A change between rendering the dashboard and opening its stream is not lost."""
    mine = rooms[0]
    publish(account_id=mine.account_id, room_ids=[mine.pk])
    client.force_login(provider.user)
    html = client.get(reverse("visits:dashboard")).content.decode()
    url = re.search(r'sse-connect="([^"]+)"', html)[1].replace("&amp;", "&")
    assert url == f"/events/?since={push_backend.last_id(mine.account_id)}"
    publish(account_id=mine.account_id, room_ids=[mine.pk])  # before the stream opens

    async def scenario():
        stream = await open_stream(provider.user, url=url)
        return await stream.event()

    assert run(scenario)["id"] == push_backend.last_id(mine.account_id)


def test_an_idle_stream_sends_heartbeats_and_queries_nothing(push_backend, settings, provider, rooms):
    settings.PUSH_HEARTBEAT_SECONDS = 0.1
    mine, not_mine, _ = rooms

    async def scenario(queries):
        count = sync_to_async(lambda: len(queries.captured_queries))
        stream = await open_stream(provider.user)
        opened = await count()
        beats = [await stream.frame() for _ in range(3)]
        await sync_to_async(publish)(account_id=mine.account_id, room_ids=[not_mine.pk])
        beats.append(await stream.frame())
        await sync_to_async(publish)(account_id=mine.account_id, room_ids=[mine.pk])
        frame = await stream.event()
        return beats, frame, await count() - opened

    with CaptureQueriesContext(connection) as queries:
        beats, frame, while_open = async_to_sync(scenario)(queries)
    assert beats == [{"comment": "heartbeat"}] * 4
    assert frame["data"] == {"rooms": [mine.pk]}
    assert while_open == 0


def test_a_stream_ends_after_its_lifetime_and_the_page_reconnects(push_backend, settings, provider):
    settings.PUSH_STREAM_MAX_SECONDS = 0.2

    async def scenario():
        stream = await open_stream(provider.user)
        try:
            await stream.event(timeout=2)
        except StopAsyncIteration:
            return True
        return False

    assert run(scenario)


def test_no_stream_when_the_backend_cannot_be_reached(settings, monkeypatch, provider):
    settings.PUSH_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    monkeypatch.setattr(streams, "READY_SECONDS", 0.3)

    async def scenario():
        from django.test import AsyncClient

        async_client = AsyncClient()
        await async_client.aforce_login(provider.user)
        return (await async_client.get(reverse("visits:events"))).status_code

    # The page then polls, and its stream retries later.
    assert run(scenario) == 503


def test_under_runserver_the_stream_answers_204_and_the_page_polls(client, provider):
    client.force_login(provider.user)
    assert client.get(reverse("visits:events")).status_code == 204
