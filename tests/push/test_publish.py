"""publish_on_commit: checked at the call, sent only once the transaction commits."""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import transaction

from clinic.models import Account
from push.events import ORIGIN, EventKind
from push.services import publish_on_commit


@pytest.mark.django_db(transaction=True)
def test_an_event_is_published_when_the_transaction_commits_and_not_before(push_backend):
    with transaction.atomic():
        publish_on_commit(kind=EventKind.QUEUE, account_id=7, room_ids=[3, 4])
        assert push_backend.last_id(7) == ORIGIN
    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        replay = pool.submit(asyncio.run, push_backend.reader().replay(7, ORIGIN)).result()
    assert [(e.kind, e.account_id, e.room_ids) for e in replay.events] == [(EventKind.QUEUE, 7, {3, 4})]
    assert replay.events[0].id == push_backend.last_id(7)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_publishes_nothing(push_backend):
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_on_commit(kind=EventKind.QUEUE, account_id=7, room_ids=[3])
        raise RuntimeError("the change failed")
    # A savepoint rolled back inside a transaction that commits takes its event with it too.
    with transaction.atomic():
        publish_on_commit(kind=EventKind.QUEUE, account_id=8, room_ids=[1])
        with pytest.raises(RuntimeError), transaction.atomic():
            publish_on_commit(kind=EventKind.QUEUE, account_id=7, room_ids=[3])
            raise RuntimeError("this part failed")
    assert push_backend.last_id(7) == ORIGIN
    assert push_backend.last_id(8) != ORIGIN


@pytest.mark.parametrize(
    "call, error",
    [
        ({"kind": "queue", "account_id": 1, "room_ids": [1]}, TypeError),
        ({"kind": EventKind.QUEUE, "account_id": 0, "room_ids": [1]}, ValueError),
        ({"kind": EventKind.QUEUE, "account_id": True, "room_ids": [1]}, ValueError),
        ({"kind": EventKind.QUEUE, "account_id": 1, "room_ids": []}, ValueError),
        ({"kind": EventKind.QUEUE, "account_id": 1, "room_ids": ["1"]}, ValueError),
    ],
)
@pytest.mark.django_db
def test_a_wrong_event_fails_at_the_call_inside_the_transaction(
    django_capture_on_commit_callbacks, call, error
):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(error), transaction.atomic():
        publish_on_commit(**call)
    assert callbacks == []


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_backend_does_not_undo_or_fail_the_change(settings, caplog):
    settings.PUSH_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with caplog.at_level(logging.ERROR), transaction.atomic():
        account = Account.objects.create(code="kept", name="Kept")
        publish_on_commit(kind=EventKind.QUEUE, account_id=account.pk, room_ids=[1])
    assert Account.objects.filter(code="kept").exists()
    assert any("could not publish a queue event" in r.getMessage() for r in caplog.records)
