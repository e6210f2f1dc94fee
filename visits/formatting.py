"""Times and durations as staff read them, on pages and in PDFs."""

import datetime as dt

from django.utils import timezone


def format_local(value: dt.datetime | None, zone) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value, zone)
    return local.strftime("%a %d %b %Y, %H:%M %Z")


def format_duration(value: dt.timedelta | None) -> str:
    if value is None:
        return ""
    seconds = max(int(value.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s"
