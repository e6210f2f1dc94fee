"""Where events go between processes. `backend()` is this process's, chosen by settings.PUSH_URL:
`redis://` (production: any web node hears every node and every Celery worker) or `sqlite:///<path>`
(the embedded default: one machine, the web process and the Celery worker share the file)."""

import functools

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from push.backends.base import Backend


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
