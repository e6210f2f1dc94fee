"""This process's fan-out: one listener on the backend for all open streams, each stream's subscription
holding what arrived for it. Nothing here queries the database; a quiet stream costs a sleeping task."""

import asyncio
import logging
import weakref
from collections import defaultdict

from push.backends import backend
from push.backends.base import Backend, Reader
from push.events import Audience, Event

log = logging.getLogger(__name__)

# After the last stream closes, the listener stays this long for the next page (a reload, a reconnect).
LINGER_SECONDS = 30.0


class Subscription:
    """One stream's state. `cursor` is the id the page has seen up to; `replay` asks the stream to read the
    log after it before trusting live events (at the start, and whenever the listener (re)connects)."""

    def __init__(self, audience: Audience, cursor: str, refresh: bool):
        self.audience = audience
        self.cursor = cursor
        self.refresh = refresh
        self.replay = True
        self.pending: list[Event] = []
        self.closed = False
        self.wake = asyncio.Event()
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class Hub:
    def __init__(self, backend: Backend):
        self.backend = backend
        self.reader: Reader = backend.reader()
        self._subscriptions: dict[int, set[Subscription]] = defaultdict(set)
        self._listening = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._retry = 0.5

    def subscribe(self, audience: Audience, *, cursor: str, refresh: bool = False) -> Subscription:
        subscription = Subscription(audience, cursor, refresh)
        self._subscriptions[audience.account_id].add(subscription)
        self._start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        account = self._subscriptions.get(subscription.audience.account_id)
        if account is not None:
            account.discard(subscription)
            if not account:
                del self._subscriptions[subscription.audience.account_id]
        if not self._subscriptions and self._linger is None:
            self._linger = asyncio.get_running_loop().call_later(LINGER_SECONDS, self._stop_if_idle)

    async def ready(self, timeout: float) -> bool:
        """Whether the listener is (or within `timeout` gets) connected: a stream opened without it would
        look live and stay silent."""
        self._start()
        try:
            await asyncio.wait_for(self._listening.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _start(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())

    def _stop_if_idle(self) -> None:
        self._linger = None
        if not self._subscriptions and self._task is not None:
            self._task.cancel()
            self._task = None
            self._listening.clear()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _listen(self) -> None:
        while True:
            try:
                await self.reader.listen(self._deliver, self._connected)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(
                    "push listener lost its connection; retrying in %.1f s", self._retry, exc_info=True
                )
            self._listening.clear()
            # Streams end: each browser reconnects with its Last-Event-ID, or polls until it can.
            for subscriptions in self._subscriptions.values():
                for subscription in subscriptions:
                    subscription.close()
            await asyncio.sleep(self._retry)
            self._retry = min(self._retry * 2, 10.0)

    def _connected(self) -> None:
        self._listening.set()
        self._retry = 0.5
        # Whatever was published while nobody listened is in the log: every stream reads it from there.
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.replay = True
                subscription.wake.set()

    def _deliver(self, event: Event) -> None:
        for subscription in self._subscriptions.get(event.account_id, ()):
            if subscription.audience.rooms_seen(event):
                subscription.pending.append(event)
                subscription.wake.set()


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """The running event loop's hub (a web process has one loop; tests may run several in turn)."""
    loop = asyncio.get_running_loop()
    current = _hubs.get(loop)
    if current is None or current.backend is not backend():
        if current is not None:
            current.stop()  # the settings changed (tests do): start over on the new backend
        current = _hubs[loop] = Hub(backend())
    return current
