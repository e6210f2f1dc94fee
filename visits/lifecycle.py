"""The visit lifecycle's public surface, shared by `visits` and `scheduling`.

Every visit is created, locked and moved from status to status through these functions, so that each
change writes its `VisitEvent` row in the same transaction and is announced in one place (`_announce`):
the ended visit's PDF summary, the webhook outbox rows (`visit.created`, `visit.updated`,
`visit.ended`, `visit.note.signed_and_sent`) carrying the visit as the API shows it, and the live push of
every change to a room's queue (a patient joins, is accepted, leaves, is closed by the system, is sent
back, is marked urgent) and to its walk-ins and e-consults in progress, sent after commit.
Lock order when several rows are locked: visit, then provider, then room (then the providers' schedule
versions, which `held_time_changed`'s receiver bumps last).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.dispatch import Signal

from push.events import EventKind
from push.services import publish_on_commit
from visits.models import QUEUE_TYPES, Visit, VisitEvent, VisitStatus, VisitType
from visits.serializers import visit_data
from visits.summaries.services import summary_request_for
from webhooks.event_types import EventType
from webhooks.selectors import webhook_listeners
from webhooks.services import WebhookEvent, webhook_events_record

ENDED_STATUSES = (VisitStatus.COMPLETED, VisitStatus.CANCELLED)
# The reason of the timeline row written when notes are added to a visit that had ended.
NOTES_ADDED = "notes added"

# Sent inside the transaction, after a transition moved an appointment (its status, or its provider when a
# provider takes it): `provider_ids` are the providers whose held time may have changed; `visit` (as it was
# before the change), `to_status` and `at` say what happened. Scheduling's
# cached availability listens (scheduling/apps.py); nothing in visits knows about it.
held_time_changed = Signal()
# Sent inside the transaction with `visit_ids` whenever an appointment is booked, moved or leaves
# "booked" (cancelled, started): by `visit_create` and `transition_record` here, by scheduling's services for
# the changes within a status. Reminders listen (what the patient was told is theirs to compare).
appointment_changed = Signal()


def visit_refetch(visit_id: int) -> Visit:
    """The visit as the API and pages show it, read again after a write."""
    return Visit.objects.with_related().get(pk=visit_id)


def visit_lock(visit: Visit) -> Visit:
    """Lock the visit's row for the rest of the transaction and read its current state."""
    return Visit.objects.select_for_update().get(pk=visit.pk)


def event_record(
    *,
    visit_id: int,
    from_status: int | None,
    to_status: int,
    actor,
    reason: str,
    at: dt.datetime,
) -> VisitEvent:
    """One row of a visit's timeline: a status change, or a change within a status (`from == to`)."""
    event = VisitEvent.objects.create(
        visit_id=visit_id,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        reason=reason,
        created=at,
    )
    _announce(events=[event])
    return event


def visit_create(*, actor, at: dt.datetime, **fields) -> Visit:
    """Create a visit with its 'created' event."""
    visit = Visit.objects.create(created_by=actor, **fields)
    event_record(
        visit_id=visit.pk, from_status=None, to_status=visit.status, actor=actor, reason="created", at=at
    )
    _announce(changed=_changed_of(visit, from_status=None, to_status=visit.status))
    if visit.type == VisitType.SCHEDULED:
        appointment_changed.send(sender=Visit, visit_ids=[visit.pk])
    return visit


def transition_record(
    *,
    visit: Visit,
    from_status: int,
    to_status: int,
    actor,
    reason: str,
    at: dt.datetime,
    appointment_changes: dict | None = None,
) -> None:
    """Record a status change the caller has just written. With `appointment_changes`, the appointment
    this visit started moves with it (and gets those field changes)."""
    event_record(
        visit_id=visit.pk, from_status=from_status, to_status=to_status, actor=actor, reason=reason, at=at
    )
    ended = [visit.pk] if to_status in ENDED_STATUSES else []
    held = {visit.provider_id} if visit.type == VisitType.SCHEDULED else set()
    if visit.appointment_id and appointment_changes is not None:
        if to_status in ENDED_STATUSES:
            # The session's summary and the appointment's both show this session's notes.
            ended.insert(0, visit.appointment_id)
        # Locked before it is moved, to know whose time it held (the visit above is locked already).
        previous = (
            Visit.objects.select_for_update()
            .filter(pk=visit.appointment_id)
            .values_list("provider_id", flat=True)
            .first()
        )
        moved = Visit.objects.filter(pk=visit.appointment_id, status=from_status).update(
            status=to_status, modified=at, **appointment_changes
        )
        if moved:
            new_provider = appointment_changes.get("provider")
            held |= {previous, new_provider.pk if new_provider else None}
            event_record(
                visit_id=visit.appointment_id,
                from_status=from_status,
                to_status=to_status,
                actor=actor,
                reason="session " + VisitStatus(to_status).label,
                at=at,
            )
    _announce(ended_visit_ids=ended, changed=_changed_of(visit, from_status=from_status, to_status=to_status))
    held.discard(None)
    if held:
        held_time_changed.send(
            sender=Visit, provider_ids=sorted(held), visit=visit, to_status=to_status, at=at
        )
    appointments = [visit.pk] if visit.type == VisitType.SCHEDULED else []
    if visit.appointment_id and appointment_changes is not None:
        appointments.append(visit.appointment_id)
    if appointments:
        appointment_changed.send(sender=Visit, visit_ids=appointments)


def notes_added_record(*, visit: Visit, actor, at: dt.datetime) -> VisitEvent:
    """Notes written on a visit that had already ended (the patient left first): a row of its timeline
    with who and when, not a status change. The PDF summaries that show them (the visit's, and the
    appointment's it started) are rendered again; listening webhooks get `visit.note.signed_and_sent`."""
    event = VisitEvent.objects.create(
        visit_id=visit.pk,
        from_status=visit.status,
        to_status=visit.status,
        actor=actor,
        reason=NOTES_ADDED,
        created=at,
    )
    summaries = [visit.appointment_id, visit.pk] if visit.appointment_id else [visit.pk]
    _announce(ended_visit_ids=summaries, events=[event])
    return event


def transitions_record_bulk(
    *, visit_ids: list[int], from_status: int, to_status: int, reason: str, at: dt.datetime
) -> None:
    """The system's set-based changes (the overdue closer): one event row per visit, in one insert."""
    events = VisitEvent.objects.bulk_create(
        VisitEvent(
            visit_id=visit_id,
            from_status=from_status,
            to_status=to_status,
            actor=None,
            reason=reason,
            created=at,
        )
        for visit_id in visit_ids
    )
    _announce(events=events, changed=_changed_of_ids(visit_ids, from_status=from_status, to_status=to_status))


# The statuses whose visits (walk-ins and e-consults) the pages show live, and the events telling of them.
_LIVE = {VisitStatus.WAITING: EventKind.QUEUE, VisitStatus.IN_PROGRESS: EventKind.IN_PROGRESS}


def _announce(
    *,
    ended_visit_ids: Sequence[int] = (),
    events: Sequence[VisitEvent] = (),
    changed: Iterable[tuple[EventKind, int, int]] = (),
) -> None:
    """What follows a recorded change: an ended visit's PDF summary is requested (rendered after commit);
    each event recorded goes to the webhook outbox; the live lists changed, as (kind, account, room), are
    pushed after commit, one event per kind and account naming its rooms."""
    for visit_id in ended_visit_ids:
        summary_request_for(visit_id=visit_id)
    if events:
        _webhooks_record(events)
    # A change within a status (a waiting patient marked urgent) is known only by its event: look it up.
    within = [
        _changed_of_ids([e.visit_id], from_status=e.to_status, to_status=e.to_status)
        for e in events
        if e.from_status == e.to_status and e.to_status in _LIVE
    ]
    rooms = defaultdict(set)
    for kind, account_id, room_id in [*changed, *(c for w in within for c in w)]:
        rooms[kind, account_id].add(room_id)
    for (kind, account_id), room_ids in rooms.items():
        publish_on_commit(kind=kind, account_id=account_id, room_ids=room_ids)


def _kinds(from_status: int | None, to_status: int) -> list[EventKind]:
    """The live lists a visit leaves or enters with this change of status."""
    if from_status == to_status:
        return [_LIVE[to_status]] if to_status in _LIVE else []
    return [_LIVE[s] for s in (from_status, to_status) if s in _LIVE]


def _changed_of(visit: Visit, *, from_status: int | None, to_status: int) -> list[tuple[EventKind, int, int]]:
    if visit.type not in QUEUE_TYPES:
        return []
    return [(kind, visit.account_id, visit.room_id) for kind in _kinds(from_status, to_status)]


def _changed_of_ids(
    visit_ids: Sequence[int], *, from_status: int | None, to_status: int
) -> list[tuple[EventKind, int, int]]:
    kinds = _kinds(from_status, to_status)
    if not visit_ids or not kinds:
        return []
    rooms = (
        Visit.objects.filter(pk__in=visit_ids, type__in=QUEUE_TYPES)
        .order_by()
        .values_list("account_id", "room_id")
        .distinct()
    )
    return [(kind, account_id, room_id) for account_id, room_id in rooms for kind in kinds]


def _webhook_kind(event: VisitEvent) -> EventType:
    if event.from_status is None:
        return EventType.VISIT_CREATED
    if event.to_status in ENDED_STATUSES and event.from_status != event.to_status:
        return EventType.VISIT_ENDED
    return EventType.VISIT_UPDATED


def _webhooks_record(events: Sequence[VisitEvent]) -> None:
    """One outbox row per event and endpoint, in one insert. The visits are read (once, together) only
    when an endpoint listens: without one this costs a read of the endpoints table."""
    kinds = {event.visit_id: _webhook_kind(event) for event in events}
    noted = {event.visit_id for event in events if event.reason == NOTES_ADDED}
    listening = webhook_listeners(event_types={*kinds.values(), EventType.VISIT_NOTE_SIGNED_AND_SENT})
    accounts = set().union(*listening.values())
    if not accounts:
        return
    outbox = []
    for visit in Visit.objects.with_related().filter(pk__in=kinds, account_id__in=accounts).order_by("pk"):
        kind = kinds[visit.pk]
        types = [kind]
        completed = kind == EventType.VISIT_ENDED and visit.status == VisitStatus.COMPLETED
        if visit.notes and (completed or visit.pk in noted):
            types.append(EventType.VISIT_NOTE_SIGNED_AND_SENT)
        data = None
        for event_type in types:
            if visit.account_id in listening[event_type]:
                data = data or visit_data(visit, viewer=None)  # the clinic's own server: everything
                outbox.append(
                    WebhookEvent(
                        account_id=visit.account_id,
                        event_type=event_type,
                        data=data,
                        ordering_key=f"visit:{visit.pk}",
                    )
                )
    webhook_events_record(events=outbox)
