"""Calendar invites (RFC 5545, with RFC 5546's METHOD) of appointments, so that a patient's calendar updates
the same event in place: one UID per appointment for ever, SEQUENCE bumped on every change, REQUEST for a
booking or a move and CANCEL for a cancellation."""

import datetime as dt
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.utils import timezone

from visits.models import Visit

REQUEST, CANCEL = "REQUEST", "CANCEL"
MIMETYPE = "text/calendar; charset=utf-8; method={method}"


def invite_uid(visit: Visit) -> str:
    host = urlsplit(settings.PUBLIC_URL).hostname or "localhost"
    return f"appointment-{visit.pk}@{host}"


def invite_ics(*, visit: Visit, sequence: int, method: str, summary: str, to_email: str) -> bytes:
    """The invite's iCalendar text. It names the clinic and the room, not the reason for the visit."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Clinic dashboard//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = icalendar.Event()
    event.add("uid", invite_uid(visit))
    event.add("sequence", sequence)
    event.add("dtstamp", timezone.now().astimezone(dt.UTC))
    event.add("dtstart", visit.start.astimezone(dt.UTC))
    event.add("dtend", visit.end.astimezone(dt.UTC))
    event.add("summary", summary)
    event.add("location", visit.room.name)
    event.add("status", "CANCELLED" if method == CANCEL else "CONFIRMED")
    organizer = icalendar.vCalAddress(f"mailto:{settings.DEFAULT_FROM_EMAIL}")
    organizer.params["cn"] = icalendar.vText(visit.account.name)
    event.add("organizer", organizer)
    if to_email:
        attendee = icalendar.vCalAddress(f"mailto:{to_email}")
        attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
        attendee.params["rsvp"] = icalendar.vText("FALSE")
        event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar.to_ical()


def invite_attachment(*, visit: Visit, sequence: int, method: str, summary: str, to_email: str):
    """(filename, content, mimetype) for `messaging.services.message_send`."""
    content = invite_ics(visit=visit, sequence=sequence, method=method, summary=summary, to_email=to_email)
    return ("invite.ics", content, MIMETYPE.format(method=method))
