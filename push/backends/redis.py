"""Redis: a stream per account is the log (XADD with MAXLEN), and the same script publishes the event on
the account's channel, so that its id and its place in the log are one atomic step. Every web node
pattern-subscribes once and fans the events out to its open streams."""

import redis
import redis.asyncio

from push.backends.base import Backend, Reader, Replay
from push.events import ORIGIN, Event, id_key

_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('PUBLISH', ARGV[3], id .. ' ' .. ARGV[2])
return id
"""

# One consistent read: the entries after ARGV[1], and what tells whether some were trimmed away.
_REPLAY = """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return {} end
local info = redis.call('XINFO', 'STREAM', key)
local length, added = 0, -1
for i = 1, #info, 2 do
  if info[i] == 'length' then length = info[i + 1] end
  if info[i] == 'entries-added' then added = info[i + 1] end
end
local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1][1]
local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1][1]
return {length, added, first, last, redis.call('XRANGE', key, ARGV[1], '+', 'COUNT', ARGV[2])}
"""


class RedisBackend(Backend):
    def __init__(self, *, url: str, prefix: str, retention: int):
        self.url = url
        self.prefix = prefix
        self.retention = retention
        # Publishing happens inside requests and tasks: a Redis that hangs must not hang them.
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._publish = self._client.register_script(_PUBLISH)

    def log_key(self, account_id: int) -> str:
        return f"{self.prefix}:push:log:{account_id}"

    def channel(self, account_id: int) -> str:
        return f"{self.prefix}:push:live:{account_id}"

    def channels(self) -> str:
        """Every account's channel, as one pattern."""
        return f"{self.prefix}:push:live:*"

    def publish(self, event: Event) -> str:
        event_id = self._publish(
            keys=[self.log_key(event.account_id)],
            args=[self.retention, event.encode(), self.channel(event.account_id)],
        )
        return event_id.decode()

    def last_id(self, account_id: int) -> str:
        newest = self._client.xrevrange(self.log_key(account_id), count=1)
        return newest[0][0].decode() if newest else ORIGIN

    def ping(self) -> None:
        self._client.ping()

    def reader(self) -> "RedisReader":
        return RedisReader(self)


class RedisReader(Reader):
    def __init__(self, backend: RedisBackend):
        self.backend = backend
        self._client = redis.asyncio.Redis.from_url(backend.url, socket_timeout=5, socket_connect_timeout=2)
        self._replay = self._client.register_script(_REPLAY)

    async def listen(self, deliver, ready) -> None:
        # Its own connection without a read timeout: a quiet hour on the channel is normal.
        client = redis.asyncio.Redis.from_url(
            self.backend.url, socket_connect_timeout=2, socket_keepalive=True
        )
        try:
            async with client.pubsub() as pubsub:
                await pubsub.psubscribe(self.backend.channels())
                ready()
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        event_id, body = message["data"].split(b" ", 1)
                        deliver(Event.decode(body, id=event_id.decode()))
        finally:
            await client.aclose()

    async def replay(self, account_id: int, after: str | None) -> Replay:
        start = "+" if after is None else f"({after}"
        reply = await self._replay(
            keys=[self.backend.log_key(account_id)], args=[start, self.backend.retention]
        )
        after_key = id_key(after or ORIGIN)
        if not reply:
            # No log (never an event, or Redis lost it): only a page that has seen nothing is up to date.
            return Replay(events=[], complete=after is None or after_key == (0, 0), last_id=ORIGIN)
        length, added, first, last, entries = reply
        first, last = first.decode(), last.decode()
        events = [Event.decode(fields[1], id=entry_id.decode()) for entry_id, fields in entries]
        if after is None:
            return Replay(events=[], complete=True, last_id=last)
        # Nothing was ever trimmed, or the page's last event is still in the log; and it is not newer
        # than the log (a log reset would otherwise hide every event below the page's id).
        kept = added == length or id_key(first) <= after_key
        return Replay(events=events, complete=kept and after_key <= id_key(last), last_id=last)
