import time

from django.conf import settings

from clinic import session_limits as limits


def session_limits(request) -> dict:
    """What the page's idle-logout warning (base.html, static/js/session.js) starts from."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return {}
    idle, absolute = limits.remaining(request.session, time.time())
    return {
        "session_idle_remaining": idle,
        "session_absolute_remaining": absolute,
        "session_warning_seconds": settings.SESSION_IDLE_WARNING,
        "session_lifetime_hours": f"{settings.SESSION_ABSOLUTE_LIFETIME / 3600:g}",
    }
