import logging
from collections.abc import Iterable

from django.db import transaction

from push.backends import backend
from push.events import Event, EventKind

log = logging.getLogger(__name__)


def publish_on_commit(*, kind: EventKind, account_id: int, room_ids: Iterable[int]) -> None:
    """Announce, once the current transaction commits, that these rooms' `kind` changed. Checked now (a
    wrong call fails in the caller's transaction); a rolled-back transaction announces nothing. Outside a
    transaction it is sent at once."""
    event = Event.new(kind=kind, account_id=account_id, room_ids=room_ids)
    transaction.on_commit(lambda: _publish(event))


def _publish(event: Event) -> None:
    """The change has committed and stands whatever happens here, so a failure is logged, not raised.
    Open pages then learn of it at their next event; a Redis that is down also ends their streams, and
    they poll until it is back."""
    try:
        backend().publish(event)
    except Exception:
        log.exception("could not publish a %s event of account %s", event.kind, event.account_id)
