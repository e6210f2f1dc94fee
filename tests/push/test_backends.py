"""Both backends keep a per-account log to replay from and hand new events to every listening process."""

import asyncio
import os
import subprocess
import sys

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings

from push.backends import backend
from push.events import ORIGIN, id_key
from tests.push.conftest import ROOT, event

pytestmark = pytest.mark.django_db


def replay(log, account_id, after):
    return async_to_sync(log.reader().replay)(account_id, after)


def test_replay_gives_the_accounts_later_events_in_order(push_backend):
    first = push_backend.publish(event(account_id=1, room_ids=[10]))
    push_backend.publish(event(account_id=2, room_ids=[10]))  # another clinic
    second = push_backend.publish(event(account_id=1, room_ids=[11, 12]))
    third = push_backend.publish(event(account_id=1, room_ids=[10]))
    assert id_key(first) < id_key(second) < id_key(third)
    assert push_backend.last_id(1) == third

    missed = replay(push_backend, 1, first)
    assert missed.complete
    assert [(e.id, e.room_ids) for e in missed.events] == [(second, {11, 12}), (third, {10})]
    assert missed.last_id == third
    assert replay(push_backend, 1, third).events == []
    newest = replay(push_backend, 1, None)
    assert (newest.events, newest.complete, newest.last_id) == ([], True, third)


def test_an_account_without_events_is_complete_only_for_a_page_that_saw_none(push_backend):
    assert push_backend.last_id(5) == ORIGIN
    assert replay(push_backend, 5, ORIGIN).complete
    # An id the log does not hold (Redis flushed, the file removed): the page must refresh.
    assert not replay(push_backend, 5, "1700000000000-0").complete


def test_past_the_retention_a_replay_is_incomplete(push_backend, settings):
    settings.PUSH_RETENTION = 3
    log = backend()
    # Redis trims whole blocks of about 100 entries (MAXLEN ~); the SQLite file trims exactly.
    changes = 300 if settings.PUSH_URL.startswith("redis") else 5
    ids = [log.publish(event(account_id=1, room_ids=[10])) for _ in range(changes)]
    assert not replay(log, 1, ids[0]).complete
    recent = replay(log, 1, ids[-2])
    assert recent.complete
    assert [e.id for e in recent.events] == [ids[-1]]


def test_a_page_ahead_of_the_log_is_told_to_refresh(push_backend):
    push_backend.publish(event(account_id=1, room_ids=[10]))
    assert not replay(push_backend, 1, "99999999999999-0").complete


def test_a_listener_hears_events_published_by_another_process(push_backend):
    """As a web node hears a change made on another node or in a Celery worker."""
    script = (
        "import django; django.setup();"
        "from push.backends import backend; from push.events import Event, EventKind;"
        "print(backend().publish(Event.new(kind=EventKind.QUEUE, account_id=3, room_ids=[30])))"
    )
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "PUSH_URL": django_settings.PUSH_URL,
        "PUSH_CHANNEL_PREFIX": django_settings.PUSH_CHANNEL_PREFIX,
    }

    async def scenario():
        reader = push_backend.reader()
        heard, ready = asyncio.Queue(), asyncio.Event()
        listening = asyncio.create_task(reader.listen(heard.put_nowait, ready.set))
        await asyncio.wait_for(ready.wait(), 5)
        published = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=environ,
            check=True,
            capture_output=True,
            text=True,
        )
        got = await asyncio.wait_for(heard.get(), 5)
        listening.cancel()
        return published.stdout.strip(), got

    published_id, got = async_to_sync(scenario)()
    assert (got.id, got.account_id, got.room_ids) == (published_id, 3, {30})
