"""Where events go between processes. `backend()` is this process's, chosen by settings.PUSH_URL:
`redis://` (production: any web node hears every node and every Celery worker) or `sqlite:///<path>`
(the embedded default: one machine, the web process and the Celery worker share the file)."""

import abc
import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

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
    def reader(self) -> Reader: ...


@functools.cache
def backend() -> Backend:
    url = settings.PUSH_URL
    if url.startswith(("redis://", "rediss://", "unix://")):
        from push.backends.redis import RedisBackend

        return RedisBackend(url=url, prefix=settings.PUSH_CHANNEL_PREFIX, retention=settings.PUSH_RETENTION)
    if url.startswith("sqlite:///"):
        from push.backends.sqlite import SQLiteBackend

        return SQLiteBackend(
            path=url.removeprefix("sqlite:///"),
            retention=settings.PUSH_RETENTION,
            poll_seconds=settings.PUSH_SQLITE_POLL_SECONDS,
        )
    raise ValueError(f"PUSH_URL must be redis://... or sqlite:///<path>, not {url!r}")


@receiver(setting_changed)
def _forget_backend(*, setting: str, **kwargs) -> None:
    if setting.startswith("PUSH_"):
        backend.cache_clear()
