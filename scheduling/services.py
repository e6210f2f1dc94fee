"""Booking, rescheduling, group seats and working hours. Every write re-checks availability inside its
transaction; the provider's row lock serialises bookings of one provider, and the exclusion constraint on
visits (migration scheduling 0002, PostgreSQL) makes a double booking impossible even without it."""

import datetime as dt
import random
import secrets
import zoneinfo
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinic.errors import Conflict, InvalidInput, NotAllowed, NotFound
from clinic.models import Account, Consultation, Member, Provider, Room, User
from clinic.selectors import member_by_code, provider_get, room_get
from scheduling.feeds import secret_hash
from scheduling.models import CalendarFeed, ScheduleException, SlotHold, WorkingHours
from scheduling.selectors import consultation_of_room, providers_free_for
from scheduling.signals import slot_freed
from visits.lifecycle import appointment_changed, event_record, visit_create, visit_lock, visit_refetch
from visits.models import ACTIVE_STATUSES, CloseReason, Intake, Visit, VisitGroup, VisitStatus, VisitType
from visits.selectors import intake_get, visit_get
from visits.services import intake_create

DOUBLE_BOOKING_CONSTRAINT = "visit_no_double_booking"
SLOT_TAKEN = "That time is no longer available."


def may_book(user: User) -> bool:
    return user.has_perm("visits.book_appointment")


def _slot_taken(message: str = SLOT_TAKEN) -> Conflict:
    return Conflict(message, errors={"start": [message]})


# Upsert: a provider's first bump creates the row (at a random version, see ProviderSchedule).
BUMP_SQL = """INSERT INTO scheduling_providerschedule (provider_id, version) VALUES {values}
ON CONFLICT (provider_id) DO UPDATE SET version = scheduling_providerschedule.version + 1"""
_random = random.SystemRandom()


@transaction.atomic(savepoint=False)
def schedule_versions_bump(*, provider_ids: Iterable[int | None]) -> None:
    """Mark what availability reads about these providers as changed (their hours, exceptions or held
    time), in the caller's transaction: cached answers computed from the old versions are never served
    again. Their rows stay locked until it commits, so call it last (lock order: visit, provider, room,
    then these), in id order so two bumps never wait for each other in a circle."""
    ids = sorted({int(pk) for pk in provider_ids if pk is not None})
    if not ids:
        return
    params = [value for pk in ids for value in (pk, _random.randrange(2**62))]
    with connection.cursor() as cursor:
        cursor.execute(BUMP_SQL.format(values=", ".join(["(%s, %s)"] * len(ids))), params)


def _lock_provider(provider: Provider) -> None:
    # Bookings, reschedules and group visits of one provider queue up here, so the availability check
    # below sees every booking committed before ours.
    Provider.objects.select_for_update().filter(pk=provider.pk).first()


def _write_guarded(write):
    """Run `write`; the exclusion constraint refusing it is a taken slot (409), not a 500."""
    try:
        with transaction.atomic():
            return write()
    except IntegrityError as exc:
        if DOUBLE_BOOKING_CONSTRAINT in str(exc):
            raise _slot_taken() from exc
        raise


def _busy(room: Room, start: dt.datetime, end: dt.datetime) -> dict:
    return {
        "busy_start": start - dt.timedelta(seconds=room.buffer_before),
        "busy_end": end + dt.timedelta(seconds=room.buffer_after),
    }


def _guard_slot(
    *,
    room: Room,
    start: dt.datetime,
    end: dt.datetime,
    provider: Provider | None,
    location: str,
    not_free: str,
    exclude_visit_id=None,
) -> None:
    """The booking guard, inside the transaction that writes: [start, end) must be free for `provider`
    (for anyone, for a TBD appointment), and TBD appointments, each holding one of the room's free
    providers without naming them, may never outnumber the providers free for them, whoever books next.
    The room's lock queues every booking that counts them (the exclusion constraint cannot count), and
    everything is read after taking it."""
    Room.objects.select_for_update().filter(pk=room.pk).first()
    window = {
        "room": room,
        "start": start,
        "end": end,
        "location": location,
        "exclude_visit_id": exclude_visit_id,
    }
    free = providers_free_for(provider_id=provider and provider.pk, **window)
    if not free:
        raise _slot_taken(not_free)
    busy = _busy(room, start, end)
    tbd = (
        Visit.objects.appointments()
        .active()
        .filter(room=room, provider__isnull=True, visit_group__isnull=True)
        .filter(busy_start__lt=busy["busy_end"], busy_end__gt=busy["busy_start"])
        .exclude(pk=exclude_visit_id)
        .count()
    )
    if provider is None:
        tbd += 1  # the one being booked
    elif not tbd:
        return
    else:
        free = providers_free_for(**window)  # a TBD appointment may take any of them
    left = len([pk for pk in free if provider is None or pk != provider.pk])
    if left < tbd:
        raise _slot_taken("No provider is left for that time: appointments without a provider hold them.")


def _room_books(room: Room) -> None:
    if not room.is_open or not room.appointments_enabled:
        raise Conflict(
            f"Room {room.code} does not take appointments.", errors={"room_code": ["Appointments are off."]}
        )


def _provider_in_room(*, account: Account, room: Room, provider_id) -> Provider:
    provider = provider_get(account=account, provider_id=provider_id)
    if not provider.rooms.filter(pk=room.pk).exists():
        raise InvalidInput.field("provider_id", "That provider does not work in this room.")
    return provider


def _booking_member(
    *, account: Account, actor: User, intake: Intake | None, member_code: str | None
) -> Member:
    if actor.is_member and not may_book(actor):
        if member_code and member_code != actor.member.code:
            raise NotAllowed("A patient books only for themselves.", errors={"member_id": ["Not yours."]})
        return actor.member
    if not may_book(actor):
        raise NotAllowed("Only patients and the front desk book appointments.")
    if member_code:
        member = member_by_code(account=account, code=member_code)
        if intake and intake.member_id and intake.member_id != member.pk:
            raise InvalidInput.field("member_id", "The intake belongs to another patient.")
        return member
    if intake and intake.member:
        return intake.member
    raise InvalidInput.field("member_id", "Give the patient: member_id or an intake that has one.")


@transaction.atomic
def appointment_book(
    *,
    account: Account,
    actor: User,
    room_code: str,
    start: dt.datetime,
    end: dt.datetime,
    intake_id=None,
    provider_id=None,
    member_code: str | None = None,
    consultation_id=None,
    visit_group_id=None,
    reason: str = "",
    hold: SlotHold | None = None,
) -> Visit:
    """Book a one-to-one appointment (with a provider, or TBD without), or a seat in a group visit.
    `reason` is the reason for the visit, for the intake created here (a given intake has its own).

    With `hold`, the slot kept by it is booked: the hold is released first, in this transaction, so the
    guard below sees the time free; a hold released already (by another accept, its expiry, the front
    desk) refuses the booking, and a failed booking keeps the hold."""
    room = room_get(account=account, code=room_code)
    _room_books(room)
    if end <= start:
        raise InvalidInput.field("end", "The end must be after the start.")
    if hold is not None:
        _hold_take(hold=hold, account=account, room=room, start=start, end=end, provider_id=provider_id)
    intake = None
    if intake_id:
        intake = intake_get(account=account, user=actor, intake_id=intake_id)
        if intake.room_id != room.pk:
            raise InvalidInput.field("intake_id", f"The intake belongs to room {intake.room.code}.")
    member = _booking_member(account=account, actor=actor, intake=intake, member_code=member_code)
    if intake is None:
        intake = intake_create(
            account=account,
            actor=actor,
            room_code=room.code,
            fields={
                "member_id": member.code,
                "type": VisitType.SCHEDULED,
                "consultation_id": consultation_id,
                "reason_for_visit": reason.strip(),
            },
            custom={},
            reset=True,
        )
    if visit_group_id:
        return _book_seat(
            account=account,
            actor=actor,
            room=room,
            intake=intake,
            member=member,
            visit_group_id=visit_group_id,
            start=start,
            end=end,
        )
    consultation = _slot_consultation(
        room=room, intake=intake, consultation_id=consultation_id, start=start, end=end
    )
    provider = None
    if provider_id:
        provider = _provider_in_room(account=account, room=room, provider_id=provider_id)
        _lock_provider(provider)
    _guard_slot(
        room=room,
        start=start,
        end=end,
        provider=provider,
        location=intake.location,
        not_free="That time is not an available slot." if start > timezone.now() else "That time has passed.",
    )
    now = timezone.now()
    visit = _write_guarded(
        lambda: visit_create(
            actor=actor,
            at=now,
            account=account,
            room=room,
            type=VisitType.SCHEDULED,
            status=VisitStatus.WAITING,
            member=member,
            intake=intake,
            provider=provider,
            consultation=consultation,
            start=start,
            end=end,
            **_busy(room, start, end),
        )
    )
    schedule_versions_bump(provider_ids=[visit.provider_id])
    return visit_refetch(visit.pk)


def _hold_take(*, hold: SlotHold, account: Account, room: Room, start, end, provider_id) -> None:
    if (hold.account_id, hold.room_id, hold.start, hold.end) != (account.pk, room.pk, start, end) or (
        str(provider_id) != str(hold.provider_id)
    ):
        raise InvalidInput.field("start", "The booking is not the held slot.")
    # One conditional UPDATE: of two accepts of one hold, the second waits here for the first to commit,
    # then finds the hold released.
    if not SlotHold.objects.filter(pk=hold.pk, released__isnull=True).update(released=timezone.now()):
        raise _slot_taken("That time is no longer held for you.")


@transaction.atomic
def slot_hold_create(
    *,
    account: Account,
    room: Room,
    provider: Provider,
    start: dt.datetime,
    end: dt.datetime,
    expires: dt.datetime,
    consultation: Consultation | None = None,
) -> SlotHold:
    """Keep [start, end) of `provider` for someone until released: guarded as a booking (the time must be
    free), and from then on busy in availability and for the booking guard."""
    if room.account_id != account.pk or provider.account_id != account.pk:
        raise NotFound("No such room or provider.")
    _lock_provider(provider)
    _guard_slot(room=room, start=start, end=end, provider=provider, location="", not_free=SLOT_TAKEN)
    hold = SlotHold.objects.create(
        account=account,
        room=room,
        provider=provider,
        consultation=consultation,
        start=start,
        end=end,
        created=timezone.now(),
        expires=expires,
        **_busy(room, start, end),
    )
    schedule_versions_bump(provider_ids=[provider.pk])
    return hold


@transaction.atomic
def slot_hold_release(*, hold_id: int) -> bool:
    """Free a held slot (expired, declined by all, stopped). True when this call released it."""
    provider_id = (
        SlotHold.objects.filter(pk=hold_id, released__isnull=True)
        .values_list("provider_id", flat=True)
        .first()
    )
    if provider_id is None:
        return False
    if not SlotHold.objects.filter(pk=hold_id, released__isnull=True).update(released=timezone.now()):
        return False
    schedule_versions_bump(provider_ids=[provider_id])
    return True


def slot_freed_announce(*, visit: Visit, at: dt.datetime, cause: str) -> None:
    """Tell listeners (the waitlist) that a future one-to-one appointment's time is free again; `cause`:
    "cancelled", "moved" or "closed"."""
    if visit.type != VisitType.SCHEDULED or visit.visit_group_id or not visit.start or visit.start <= at:
        return
    slot_freed.send(
        sender=Visit,
        account_id=visit.account_id,
        room_id=visit.room_id,
        provider_id=visit.provider_id,
        consultation_id=visit.consultation_id,
        start=visit.start,
        end=visit.end,
        cause=cause,
    )


def _slot_consultation(
    *, room: Room, intake: Intake, consultation_id, start: dt.datetime, end: dt.datetime
) -> Consultation | None:
    length = int((end - start).total_seconds())
    if consultation_id:
        consultation = consultation_of_room(room=room, consultation_id=consultation_id)
    else:
        consultation = intake.consultation
    if consultation is None:
        # No consultation named: the room's one-to-one consultation of that length, if there is one.
        return next(
            (c for c in room.consultations.filter(active=True, capacity=1) if c.duration == length), None
        )
    if consultation.is_group:
        raise InvalidInput.field("visit_group_id", "A group consultation is booked through its group visit.")
    if consultation.duration != length:
        raise _slot_taken(f"A {consultation.description} slot lasts {consultation.duration // 60} minutes.")
    return consultation


def _book_seat(
    *, account, actor, room: Room, intake: Intake, member: Member, visit_group_id, start, end
) -> Visit:
    group = (
        VisitGroup.objects.for_account(account)
        .select_for_update()  # seats of one group are taken one at a time
        .filter(pk=_as_int(visit_group_id))
        .first()
    )
    if group is None:
        raise NotFound(
            f"Group visit {visit_group_id} not found.", errors={"visit_group_id": ["No such group."]}
        )
    if group.room_id != room.pk:
        raise InvalidInput.field("visit_group_id", "The group visit is in another room.")
    if (start, end) != (group.start, group.end):
        raise _slot_taken("start and end must be the group visit's own times.")
    if group.start <= timezone.now():
        raise _slot_taken("The group visit has already started.")
    seats = Visit.objects.filter(visit_group=group, status__in=ACTIVE_STATUSES)
    if seats.filter(member=member).exists():
        raise Conflict(
            "The patient already has a seat in this group visit.", errors={"member_id": ["Booked."]}
        )
    if seats.count() >= group.capacity:
        raise Conflict("The group visit is full.", errors={"visit_group_id": ["No seat left."]})
    visit = visit_create(
        actor=actor,
        at=timezone.now(),
        account=account,
        room=room,
        type=VisitType.SCHEDULED,
        status=VisitStatus.WAITING,
        member=member,
        intake=intake,
        provider=group.provider,
        consultation=group.consultation,
        visit_group=group,
        start=group.start,
        end=group.end,
    )
    return visit_refetch(visit.pk)


@transaction.atomic
def visit_group_create(
    *,
    account: Account,
    actor: User,
    room: Room,
    consultation: Consultation,
    provider: Provider,
    start: dt.datetime,
) -> VisitGroup:
    """A group visit holds its provider's time like an appointment; it is offered only where one could be."""
    if not may_book(actor):
        raise NotAllowed("Only the front desk and clinic admins plan group visits.")
    if room.account_id != account.pk or consultation.room_id != room.pk or not consultation.is_group:
        raise InvalidInput.field("consultation_id", "Choose a group consultation of this room.")
    provider = _provider_in_room(account=account, room=room, provider_id=provider.pk)
    _lock_provider(provider)
    end = start + dt.timedelta(seconds=consultation.duration)
    _guard_slot(
        room=room,
        start=start,
        end=end,
        provider=provider,
        location="",
        not_free=f"{provider.display_name} is not free then.",
    )
    group = VisitGroup.objects.create(
        account=account,
        room=room,
        consultation=consultation,
        provider=provider,
        start=start,
        end=end,
        capacity=consultation.capacity,
    )
    schedule_versions_bump(provider_ids=[provider.pk])
    return group


@transaction.atomic
def appointment_update(
    *,
    account: Account,
    actor: User,
    visit_id,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    provider_id=None,
) -> Visit:
    """Reschedule, or give a TBD appointment a provider (`provider_id=0` removes it), guarded as booking."""
    visit = visit_lock(visit_get(account=account, user=actor, visit_id=visit_id))
    if visit.type != VisitType.SCHEDULED:
        raise Conflict("Only appointments can be rescheduled.", errors={"id": ["Not an appointment."]})
    if visit.status != VisitStatus.WAITING:
        raise Conflict(f"The appointment is {visit.status_name}; it cannot be changed.")
    if not (may_book(actor) or (actor.is_member and visit.member_id == actor.member.pk)):
        raise NotAllowed("Only the patient or the front desk may change an appointment.")
    if visit.visit_group_id:
        raise Conflict("A seat in a group visit moves with its group.", errors={"id": ["Group visit."]})
    room = visit.room
    if start and not end and visit.start and visit.end:
        end = start + (visit.end - visit.start)  # moving keeps the length
    new_start, new_end = start or visit.start, end or visit.end
    if not (new_start and new_end) or new_end <= new_start:
        raise InvalidInput.field("end", "The end must be after the start.")
    provider = visit.provider
    if provider_id is not None:
        provider = (
            _provider_in_room(account=account, room=room, provider_id=provider_id)
            if int(provider_id)
            else None
        )
    moved = (new_start, new_end) != (visit.start, visit.end)
    if moved or (provider is not None and provider.pk != visit.provider_id):
        if provider is not None:
            _lock_provider(provider)
        who = f"{provider.display_name} is" if provider else "No provider is"
        _guard_slot(
            room=room,
            start=new_start,
            end=new_end,
            provider=provider,
            location=visit.intake.location if visit.intake_id else "",
            not_free=f"{who} not free at that time." if not moved else SLOT_TAKEN,
            exclude_visit_id=visit.pk,
        )
    now = timezone.now()
    # A moved appointment is the patient's to confirm again.
    confirmed = {"confirmed_at": None} if moved else {}
    _write_guarded(
        lambda: Visit.objects.filter(pk=visit.pk).update(
            start=new_start,
            end=new_end,
            provider=provider,
            modified=now,
            **_busy(room, new_start, new_end),
            **confirmed,
        )
    )
    what = "rescheduled" if moved else ("provider set" if provider else "provider removed")
    event_record(
        visit_id=visit.pk, from_status=visit.status, to_status=visit.status, actor=actor, reason=what, at=now
    )
    if moved:
        appointment_changed.send(sender=Visit, visit_ids=[visit.pk])
    schedule_versions_bump(provider_ids=[visit.provider_id, provider and provider.pk])
    if moved or (visit.provider_id and visit.provider_id != (provider and provider.pk)):
        slot_freed_announce(visit=visit, at=now, cause="moved")  # `visit` still holds the old time
    return visit_refetch(visit.pk)


@transaction.atomic
def appointment_confirm(*, account: Account, visit_id, actor: User | None) -> Visit:
    """The patient confirms they will come (through the link in a message: `actor` is their user, or None).
    Confirming again changes nothing; a cancelled or past appointment cannot be confirmed."""
    visit = Visit.objects.for_account(account).appointments().select_for_update().filter(pk=visit_id).first()
    if visit is None:
        raise NotFound("That appointment does not exist (any more).")
    if visit.status != VisitStatus.WAITING or visit.start <= timezone.now():
        raise Conflict(f"The appointment is {visit.state_words}; it cannot be confirmed.")
    if visit.confirmed_at is None:
        now = timezone.now()
        Visit.objects.filter(pk=visit.pk).update(confirmed_at=now, modified=now)
        event_record(
            visit_id=visit.pk,
            from_status=visit.status,
            to_status=visit.status,
            actor=actor,
            reason="confirmed by the patient",
            at=now,
        )
    return visit_refetch(visit.pk)


@transaction.atomic
def appointment_cancel(*, account: Account, actor: User, visit_id, reason: str) -> Visit:
    """The front desk cancels an appointment (a reason is required); its slot is free at once."""
    if not may_book(actor):
        raise NotAllowed("Only the front desk and clinic admins cancel appointments here.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput.field("reason", "Say why the appointment is cancelled.")
    visit = visit_lock(visit_get(account=account, user=actor, visit_id=visit_id))
    if visit.type != VisitType.SCHEDULED:
        raise Conflict("Only appointments are cancelled here.", errors={"id": ["Not an appointment."]})
    if visit.status != VisitStatus.WAITING:
        raise Conflict(f"The appointment is {visit.status_name}; it cannot be cancelled.")
    now = timezone.now()
    Visit.objects.filter(pk=visit.pk, status=VisitStatus.WAITING).update(
        status=VisitStatus.CANCELLED,
        close_reason=CloseReason.PATIENT_CANCEL_APPOINTMENT,
        closed_by=actor,
        modified=now,
    )
    event_record(
        visit_id=visit.pk,
        from_status=VisitStatus.WAITING,
        to_status=VisitStatus.CANCELLED,
        actor=actor,
        reason=reason[:200],
        at=now,
    )
    appointment_changed.send(sender=Visit, visit_ids=[visit.pk])
    schedule_versions_bump(provider_ids=[visit.provider_id])
    slot_freed_announce(visit=visit, at=now, cause="cancelled")
    return visit_refetch(visit.pk)


UNDO_SECONDS = 5 * 60
UNDONE = "cancellation undone"


def cancellation_undoable(*, cancelled_at: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """A cancellation may be undone for UNDO_SECONDS (the slot must still be free: the booking decides)."""
    return cancelled_at is not None and (now or timezone.now()) - cancelled_at < dt.timedelta(
        seconds=UNDO_SECONDS
    )


@transaction.atomic
def appointment_cancel_undo(*, account: Account, actor: User, visit_id) -> Visit:
    """Book a just-cancelled appointment again: the same patient, provider, time and intake, through
    `appointment_book` (so a slot taken meanwhile is refused as any booking is). The cancelled visit stays
    in the history, marked undone; the new one is returned."""
    if not may_book(actor):
        raise NotAllowed("Only the front desk and clinic admins undo a cancellation.")
    visit = visit_lock(visit_get(account=account, user=actor, visit_id=visit_id))
    if visit.type != VisitType.SCHEDULED or visit.status != VisitStatus.CANCELLED:
        raise Conflict("Only a cancelled appointment can be booked again.", errors={"id": ["Not cancelled."]})
    events = visit.events.filter(to_status=VisitStatus.CANCELLED)
    if events.filter(reason=UNDONE).exists():
        raise Conflict("That cancellation was undone already.", errors={"id": ["Undone."]})
    cancelled = events.exclude(from_status=VisitStatus.CANCELLED).order_by("-created").first()
    if not cancellation_undoable(cancelled_at=cancelled and cancelled.created):
        raise Conflict(
            f"A cancellation can be undone for {UNDO_SECONDS // 60} minutes only: book the patient again.",
            errors={"id": ["Too late."]},
        )
    try:
        booked = appointment_book(
            account=account,
            actor=actor,
            room_code=visit.room.code,
            start=visit.start,
            end=visit.end,
            intake_id=visit.intake_id,
            provider_id=visit.provider_id,
            member_code=visit.member.code,
            consultation_id=visit.consultation_id,
        )
    except Conflict as exc:
        raise _slot_taken("The time was booked meanwhile: the appointment cannot be restored.") from exc
    event_record(
        visit_id=visit.pk,
        from_status=VisitStatus.CANCELLED,
        to_status=VisitStatus.CANCELLED,
        actor=actor,
        reason=UNDONE,
        at=timezone.now(),
    )
    return booked


# --- working hours (the clinic admin's page) -------------------------------------------------------------


def _may_edit_hours(actor: User) -> None:
    if not actor.has_perm("clinic.change_room"):
        raise NotAllowed("Only clinic admins edit working hours.")


def _hours_target(*, account: Account, provider_id, room_id) -> tuple[Provider, Room | None]:
    provider = provider_get(account=account, provider_id=provider_id)
    room = None
    if room_id:
        room = Room.objects.for_account(account).filter(pk=room_id).first()
        if room is None or not provider.rooms.filter(pk=room.pk).exists():
            raise InvalidInput.field("room", "The provider does not work in that room.")
    return provider, room


@transaction.atomic
def working_hours_add(
    *,
    account: Account,
    actor: User,
    provider_id,
    room_id,
    weekday: int,
    start_time: dt.time,
    end_time: dt.time,
) -> WorkingHours:
    _may_edit_hours(actor)
    provider, room = _hours_target(account=account, provider_id=provider_id, room_id=room_id)
    if room is None:
        raise InvalidInput.field("room", "Working hours belong to a room.")
    if start_time == end_time and start_time != dt.time(0):
        raise InvalidInput.field("end_time", "The window is empty; 00:00-00:00 is the whole day.")
    hours = WorkingHours.objects.create(
        account=account,
        provider=provider,
        room=room,
        weekday=weekday,
        start_time=start_time,
        end_time=end_time,
    )
    schedule_versions_bump(provider_ids=[provider.pk])
    return hours


@transaction.atomic
def schedule_exception_add(
    *,
    account: Account,
    actor: User,
    provider_id,
    room_id,
    kind: str,
    start_date: dt.date,
    end_date: dt.date | None,
    start_time: dt.time,
    end_time: dt.time,
    note: str = "",
) -> ScheduleException:
    _may_edit_hours(actor)
    provider, room = _hours_target(account=account, provider_id=provider_id, room_id=room_id)
    end_date = end_date or start_date
    if start_date < timezone.now().astimezone(zoneinfo.ZoneInfo(provider.time_zone)).date():
        raise InvalidInput.field("start_date", "That day is in the past: an exception starts today or later.")
    if end_date < start_date:
        raise InvalidInput.field("end_date", "The end date is before the start date.")
    if kind == ScheduleException.Kind.EXTRA and room is None:
        raise InvalidInput.field("room", "Extra hours need a room.")
    exception = ScheduleException.objects.create(
        account=account,
        provider=provider,
        room=room,
        kind=kind,
        start_date=start_date,
        end_date=end_date,
        start_time=start_time,
        end_time=end_time,
        note=note,
    )
    schedule_versions_bump(provider_ids=[provider.pk])
    return exception


@transaction.atomic
def schedule_entry_delete(*, account: Account, actor: User, kind: str, entry_id) -> None:
    _may_edit_hours(actor)
    model = WorkingHours if kind == "hours" else ScheduleException
    entry = model.objects.for_account(account).select_for_update().filter(pk=_as_int(entry_id)).first()
    if entry is None:
        raise NotFound("That entry does not exist (any more).")
    entry.delete()
    schedule_versions_bump(provider_ids=[entry.provider_id])


def _as_int(value) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return -1


# --- providers' calendar feeds -----------------------------------------------------------------------------


@transaction.atomic
def calendar_feed_create(*, actor: User) -> str:
    """A new secret feed URL for the provider `actor`, replacing any they had. Returns the secret, which
    is shown once and never stored (only its hash is)."""
    if not actor.is_provider:
        raise NotAllowed("Only providers have a calendar feed.")
    provider = Provider.objects.select_for_update().get(user=actor)  # one live feed per provider
    now = timezone.now()
    CalendarFeed.objects.filter(provider=provider, revoked__isnull=True).update(revoked=now)
    secret = secrets.token_urlsafe(32)
    CalendarFeed.objects.create(
        account_id=provider.account_id, provider=provider, secret_hash=secret_hash(secret), created=now
    )
    return secret


@transaction.atomic
def calendar_feed_revoke(*, actor: User) -> bool:
    """The provider's feed URL stops working. True when there was one."""
    if not actor.is_provider:
        raise NotAllowed("Only providers have a calendar feed.")
    return bool(
        CalendarFeed.objects.filter(provider__user=actor, revoked__isnull=True).update(revoked=timezone.now())
    )
