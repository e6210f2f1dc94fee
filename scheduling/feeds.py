"""Providers' secret iCalendar feeds: their appointments and group visits, with no patient data.

A calendar app polls the URL with no session, so the URL's secret is the only credential: it is random
(256 bits), only its SHA-256 is stored (`CalendarFeed.secret_hash`), and revoking it (or making a new one)
makes the old URL answer 404. Each event says only what the provider needs to plan the day: the kind of
visit and its length, the room, and a link to the visit's page, which asks for a login.
"""

import datetime as dt
import hashlib

import icalendar

from clinic.models import Provider
from visits.models import Visit, VisitGroup

PRODID = "-//Clinic dashboard//Provider calendar//EN"
# How much of the past and the future a feed carries: calendar apps keep what they fetched before.
PAST = dt.timedelta(days=30)
FUTURE = dt.timedelta(days=180)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _minutes(start: dt.datetime, end: dt.datetime) -> int:
    return int((end - start).total_seconds() // 60)


def feed_calendar(
    *, provider: Provider, appointments: list[Visit], groups: list[VisitGroup], base_url: str, host: str
) -> bytes:
    """The iCalendar text of one provider's feed (times in UTC: each calendar shows its own zone)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{provider.display_name}: visits")
    now = dt.datetime.now(dt.UTC)
    for visit in appointments:
        calendar.add_component(
            _event(
                uid=f"visit-{visit.pk}@{host}",
                summary=f"Visit, {_minutes(visit.start, visit.end)} min",
                room=visit.room.name,
                start=visit.start,
                end=visit.end,
                url=f"{base_url}/dashboard/visits/{visit.pk}/",
                stamp=now,
            )
        )
    for group in groups:
        calendar.add_component(
            _event(
                uid=f"group-{group.pk}@{host}",
                summary=f"Group visit, {_minutes(group.start, group.end)} min",
                room=group.room.name,
                start=group.start,
                end=group.end,
                url=None,
                stamp=now,
            )
        )
    return calendar.to_ical()


def _event(*, uid, summary, room, start, end, url, stamp) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", summary)
    event.add("location", room)
    event.add("dtstart", start.astimezone(dt.UTC))
    event.add("dtend", end.astimezone(dt.UTC))
    if url:
        event.add("url", url)
        event.add("description", url)
    return event
