"""Event streams (Server-Sent Events), served under ASGI. The app that owns the events decides who hears
what (an Audience); this module streams it. An open stream is a sleeping task (beside the idle thread
Django's ASGI handler keeps per request) and costs no database query while idle."""

import asyncio
import json
import random
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from clinic.models import User
from push.events import Audience, id_key
from push.hub import Hub, Subscription, hub

# How soon a browser reconnects after the stream drops (EventSource's own retry, with Last-Event-ID):
# spread, so that the pages of a restarted node do not all come back (each opening with its queries and
# a database connection) in the same instant.
RETRY_MS = (1000, 5000)
# A stream is refused (503; the page polls) when the backend cannot be heard within this long.
READY_SECONDS = 2.0


def _audience(audience_of: Callable[[User], Audience | None], request: HttpRequest) -> Audience | None:
    try:
        return audience_of(request.user)
    finally:
        # The stream stays open for long: its request thread must not hold a database connection. (Inside
        # a test's transaction the connection is the test's own.)
        if not connection.in_atomic_block:
            connection.close()


def _frame(*, event: str, event_id: str, data: dict) -> str:
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data)}\n\n"


async def _next_frame(events: Hub, subscription: Subscription) -> str | None:
    """What the page must hear now: every change it may see since its cursor, one frame per kind with the
    rooms merged (the page reloads that part once, whatever the count), or "refresh" when some may be
    lost."""
    audience = subscription.audience
    candidates = []
    if subscription.replay:
        subscription.replay = False
        replay = await events.reader.replay(audience.account_id, after=subscription.cursor)
        if subscription.refresh or not replay.complete:
            subscription.refresh = False
            subscription.cursor = replay.last_id
            subscription.pending = [e for e in subscription.pending if id_key(e.id) > id_key(replay.last_id)]
            return _frame(event="refresh", event_id=replay.last_id, data={})
        candidates = replay.events
    candidates += subscription.pending
    subscription.pending = []
    seen = id_key(subscription.cursor)
    fresh = sorted((e for e in candidates if id_key(e.id) > seen), key=lambda e: id_key(e.id))
    if not fresh:
        return None
    subscription.cursor = fresh[-1].id
    # One frame per kind, rooms merged, in the order of their newest events: the browser's Last-Event-ID
    # is then the newest it heard of. (The replayed log holds the whole account's events: only those the
    # page may see count.)
    newest: dict[str, str] = {}
    rooms: dict[str, set[int]] = {}
    for event in fresh:
        if visible := audience.rooms_seen(event):
            newest[event.kind] = event.id
            rooms.setdefault(event.kind, set()).update(visible)
    frames = sorted(newest, key=lambda kind: id_key(newest[kind]))
    return (
        "".join(_frame(event=k, event_id=newest[k], data={"rooms": sorted(rooms[k])}) for k in frames) or None
    )


async def _frames(events: Hub, audience: Audience, *, cursor: str | None, refresh: bool):
    if cursor is None:
        # Read before subscribing: the first replay then covers the moment in between.
        cursor = (await events.reader.replay(audience.account_id, after=None)).last_id
    # Subscribed here, not in the view: a response that is never iterated then leaves nothing behind.
    subscription = events.subscribe(audience, cursor=cursor, refresh=refresh)
    loop = asyncio.get_running_loop()
    ends = loop.time() + settings.PUSH_STREAM_MAX_SECONDS
    quiet_until = 0.0
    try:
        yield f"retry: {random.randint(*RETRY_MS)}\n\n"
        while not subscription.closed and (left := ends - loop.time()) > 0:
            try:
                await asyncio.wait_for(subscription.wake.wait(), min(settings.PUSH_HEARTBEAT_SECONDS, left))
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if (pause := quiet_until - loop.time()) > 0:
                # Each event makes the page reload its queues: at most one per interval, the changes in
                # between merged into it.
                await asyncio.sleep(pause)
            subscription.wake.clear()
            if not subscription.closed and (frame := await _next_frame(events, subscription)):
                yield frame
                quiet_until = loop.time() + settings.PUSH_MIN_INTERVAL_SECONDS
    finally:
        events.unsubscribe(subscription)


def _cursor(request) -> tuple[str | None, bool]:
    """Where the page's stream starts: the browser's Last-Event-ID when it reconnects, else the page's
    `since` (the newest event when it was rendered). Not one of our ids: start now, refresh once."""
    given = request.headers.get("Last-Event-ID") or request.GET.get("since") or None
    if given is None:
        return None, False
    return (given, False) if id_key(given) else (None, True)


async def stream_response(
    request: HttpRequest, *, audience_of: Callable[[User], Audience | None]
) -> HttpResponse:
    """The response of a stream view: the events `audience_of(user)` may hear (None: refused, 403), from
    the browser's Last-Event-ID or the page's `since`."""
    if not isinstance(request, ASGIRequest):
        # Under runserver (WSGI) a stream would hold a thread for ever. 204 tells EventSource not to
        # reconnect, and the page polls.
        return HttpResponse(status=204)
    audience = await sync_to_async(_audience)(audience_of, request)
    if audience is None:
        return HttpResponse("No event stream for this user.", status=403, content_type="text/plain")
    events = hub()
    if not await events.ready(timeout=READY_SECONDS):
        return HttpResponse("Live updates are unavailable.", status=503, content_type="text/plain")
    cursor, refresh = _cursor(request)
    response = StreamingHttpResponse(
        _frames(events, audience, cursor=cursor, refresh=refresh), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each frame on at once
    return response
