"""What an event says: which rooms' queues changed in which account, and the event's id. Never a patient,
a visit or a name: the page fetches the same audited queue partial it fetches when polling."""

import enum
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Ids are "<milliseconds>-<sequence>" (Redis stream ids; the SQLite backend writes "<row>-0"): ordered,
# opaque to the browser, which sends the last one back as Last-Event-ID.
_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")
ORIGIN = "0-0"


def id_key(event_id: str) -> tuple[int, int] | None:
    """An event id as something to compare, or None when it is not one of ours."""
    match = _ID.match(event_id or "")
    return (int(match[1]), int(match[2])) if match else None


class EventKind(enum.StrEnum):
    """What changed in the rooms an event names; the page's stream sends it as the SSE event's name."""

    # The waiting walk-ins and e-consults: someone joined, was accepted, left, was marked urgent.
    QUEUE = "queue"
    # The walk-ins and e-consults in progress: one started, ended, went back to the queue.
    IN_PROGRESS = "in-progress"
    # A room's waitlist: a patient added or taken off, an offer made, answered, run out or stopped.
    WAITLIST = "waitlist"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    account_id: int
    room_ids: frozenset[int]
    id: str = ""

    @classmethod
    def new(cls, *, kind: EventKind, account_id: int, room_ids: Iterable[int]) -> "Event":
        """Checked here, at the call, so that a wrong publish fails in the caller's transaction rather
        than after its commit, where nobody would see the error."""
        if not isinstance(kind, EventKind):
            raise TypeError(f"kind must be an EventKind, not {kind!r}")
        if isinstance(account_id, bool) or not isinstance(account_id, int) or account_id <= 0:
            raise ValueError(f"account_id must be a positive int, not {account_id!r}")
        rooms = frozenset(room_ids)
        if not rooms:
            raise ValueError("an event names at least one room")
        if any(isinstance(r, bool) or not isinstance(r, int) or r <= 0 for r in rooms):
            raise ValueError(f"room ids must be positive ints, not {sorted(rooms, key=str)!r}")
        return cls(kind=kind, account_id=account_id, room_ids=rooms)

    def encode(self) -> str:
        return json.dumps({"k": self.kind.value, "a": self.account_id, "r": sorted(self.room_ids)})

    @classmethod
    def decode(cls, body: str | bytes, *, id: str) -> "Event":
        data = json.loads(body)
        return cls(kind=EventKind(data["k"]), account_id=data["a"], room_ids=frozenset(data["r"]), id=id)


@dataclass(frozen=True)
class Audience:
    """Who a stream is for: one account, its rooms the user may see (None: every room, for the front desk
    and clinic admins), and the kinds of change their pages show."""

    account_id: int
    room_ids: frozenset[int] | None
    kinds: frozenset[EventKind]

    def rooms_seen(self, event: Event) -> frozenset[int]:
        """The rooms of `event` this audience may hear about; empty when the event is not for it."""
        if event.account_id != self.account_id or event.kind not in self.kinds:
            return frozenset()
        return event.room_ids if self.room_ids is None else event.room_ids & self.room_ids
