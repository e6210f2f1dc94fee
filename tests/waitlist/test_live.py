"""The waitlist page hears its room's changes on an event stream (no patient on it) and polls only while
the stream is not open."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient, Client, TestCase

from push.events import EventKind
from tests.clinic.factories import AccountFactory, RoomFactory
from tests.push.conftest import open_stream, push_backend  # noqa: F401  (the stream's backend, here too)
from tests.waitlist.conftest import QUARTER, TEN, patient, wait
from waitlist import services
from waitlist.models import Offer

pytestmark = pytest.mark.usefixtures("hours")


def test_the_page_reloads_its_live_part_on_the_streams_word_and_polls_only_as_a_fallback(front_desk, room):
    client = Client()
    client.force_login(front_desk)
    page = client.get(f"/waitlist/?room={room.pk}").content.decode()
    assert (
        'sse-connect="/waitlist/events/?since=' in page
        and 'hx-trigger="sse:waitlist, sse:refresh, poll"' in page
    )
    assert 'data-poll-seconds="5"' in page and "every 5s" not in page and "js/live.js" in page


def test_every_change_of_a_rooms_waitlist_is_announced_after_commit(
    monkeypatch, account, room, consultation, provider, front_desk, django_capture_on_commit_callbacks
):
    told = []
    monkeypatch.setattr(
        services, "publish_on_commit", lambda **event: told.append((event["kind"], list(event["room_ids"])))
    )
    ada, ben = (patient(account, name, "Waiting") for name in ("Ada", "Ben"))
    wait(account, room, consultation, front_desk, ada)
    entry = wait(account, room, consultation, front_desk, ben)
    assert told == [(EventKind.WAITLIST, [room.pk])] * 2
    with django_capture_on_commit_callbacks(execute=True):
        hold = services.offers_make(
            account_id=account.pk, room_id=room.pk, provider_id=provider.pk, consultation_id=consultation.pk,
            start=TEN, end=TEN + QUARTER,
        )  # fmt: skip
    assert len(told) == 3 and Offer.objects.filter(hold=hold).count() == 2
    services.waitlist_entry_remove(account=account, actor=front_desk, entry_id=entry.pk)
    services.offers_stop(account=account, actor=front_desk, hold_id=hold.pk)
    assert told == [(EventKind.WAITLIST, [room.pk])] * 5


def test_the_front_desk_hears_its_clinics_waitlists_and_nobody_else_does(
    push_backend,  # noqa: F811
    account,
    room,
    consultation,
    front_desk,
    provider,
):
    other_clinic = RoomFactory(account=AccountFactory(code="rival"))
    ada = patient(account, "Ada", "Waiting")

    async def scenario():
        stream = await open_stream(front_desk, url="/waitlist/events/")
        await sync_to_async(_add)(other_clinic)
        await stream.nothing_for(0.3)
        await sync_to_async(_add)(room)
        return await stream.event()

    def _add(where):
        with TestCase.captureOnCommitCallbacks(execute=True):
            if where == room:
                wait(account, room, consultation, front_desk, ada)
            else:  # as another clinic's change would
                services.publish_on_commit(
                    kind=EventKind.WAITLIST, account_id=where.account_id, room_ids=[where.pk]
                )

    frame = async_to_sync(scenario)()
    assert frame["event"] == "waitlist" and frame["data"] == {"rooms": [room.pk]}

    async def status(user):
        client = AsyncClient()
        await client.aforce_login(user)
        return (await client.get("/waitlist/events/")).status_code

    assert async_to_sync(status)(provider.user) == 403
