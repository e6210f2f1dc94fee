import functools
from collections.abc import Iterable

from django.db import transaction

from push.backends import backend
from push.events import Event, EventKind


def publish_on_commit(*, kind: EventKind, account_id: int, room_ids: Iterable[int]) -> None:
    """Announce, once the current transaction commits, that these rooms' `kind` changed. Checked now (a
    wrong call fails in the caller's transaction); a rolled-back transaction announces nothing. Outside a
    transaction it is sent at once. If the backend cannot be reached the change itself stands and the error
    is logged; open pages learn of it at their next event (a Redis that is down also ends their streams,
    and they poll until it is back)."""
    event = Event.new(kind=kind, account_id=account_id, room_ids=room_ids)
    transaction.on_commit(functools.partial(_publish, event), robust=True)


def _publish(event: Event) -> None:
    backend().publish(event)
