"""What a backend is: the sending side (any process) and the receiving side (a web process's event loop)."""

import abc
from collections.abc import Callable
from dataclasses import dataclass

from push.events import Event


@dataclass(frozen=True)
class Replay:
    """An account's events after a given id. `complete` is False when some of them may be gone (past the
    retention, or the log was reset): the page must then refresh instead. `last_id` is the log's newest."""

    events: list[Event]
    complete: bool
    last_id: str


class Reader(abc.ABC):
    """The receiving side, bound to one event loop (a web process has one; each test may bring its own)."""

    @abc.abstractmethod
    async def listen(self, deliver: Callable[[Event], None], ready: Callable[[], None]) -> None:
        """Hand every account's new events to `deliver`, for ever; call `ready` once listening, so that
        whatever was published before can be replayed from the log. Raises when the connection fails."""

    @abc.abstractmethod
    async def replay(self, account_id: int, after: str | None) -> Replay:
        """The account's events after `after`; with None, none, just the newest id."""


class Backend(abc.ABC):
    @abc.abstractmethod
    def publish(self, event: Event) -> str:
        """Append to the account's log and announce to every listening process; returns the event's id."""

    @abc.abstractmethod
    def last_id(self, account_id: int) -> str:
        """The id of the account's newest event (events.ORIGIN when it has none)."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise unless the backend answers now: the readiness probe's check."""

    @abc.abstractmethod
    def reader(self) -> Reader: ...
