"""The staff session's two limits: idle time and absolute lifetime (seconds in SESSION_IDLE_TIMEOUT and
SESSION_ABSOLUTE_LIFETIME), kept as UNIX times in the session itself."""

import time

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

LOGIN_AT = "clinic_login_at"
ACTIVE_AT = "clinic_active_at"
BACKGROUND_HEADER = "X-Background"
# Activity is written to the session at most this often: not a session write for every click.
ACTIVITY_RESOLUTION = 15


@receiver(user_logged_in, dispatch_uid="clinic.session_limits.logged_in")
def _start(sender, request, user, **kwargs):
    if hasattr(request, "session"):
        now = time.time()
        request.session[LOGIN_AT] = request.session[ACTIVE_AT] = now


def is_background(request) -> bool:
    """Requests the page makes by itself: its polling (marked with the header) and its live stream (an
    EventSource cannot set headers, and an open dashboard must not keep an idle session alive)."""
    return request.headers.get(BACKGROUND_HEADER) == "1" or "text/event-stream" in request.headers.get(
        "Accept", ""
    )


def remaining(session, now: float) -> tuple[int, int]:
    """Seconds left before the idle logout and before the absolute one."""
    login_at = session.get(LOGIN_AT, now)
    active_at = session.get(ACTIVE_AT, now)
    return (
        int(active_at + settings.SESSION_IDLE_TIMEOUT - now),
        int(login_at + settings.SESSION_ABSOLUTE_LIFETIME - now),
    )


def _duration(seconds: int) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size, 1)
            return f"{count:g} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def ended(session, now: float) -> str | None:
    """Why the session is over (a sentence for the login page), or None while it lasts."""
    if LOGIN_AT not in session:  # a session from before these limits: they start now
        session[LOGIN_AT] = session[ACTIVE_AT] = now
        return None
    idle_left, absolute_left = remaining(session, now)
    if absolute_left <= 0:
        lifetime = _duration(settings.SESSION_ABSOLUTE_LIFETIME)
        return f"You were logged out: a session lasts at most {lifetime}. Please log in again."
    if idle_left <= 0:
        idle = _duration(settings.SESSION_IDLE_TIMEOUT)
        return f"You were logged out after {idle} without activity. Please log in again."
    return None


def touch(session, now: float) -> None:
    if now - session.get(ACTIVE_AT, 0) >= ACTIVITY_RESOLUTION:
        session[ACTIVE_AT] = now
