"""Intakes, joining the queue, accepting, completing and closing visits, and the max-wait closer.

Every status change is one conditional write plus its record through `visits.lifecycle`."""

import datetime as dt
import functools
import json
import operator

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from clinic import audit
from clinic.errors import Conflict, InvalidInput, NotAllowed, NotFound
from clinic.models import US_STATE_CODES, Account, Consultation, Member, Provider, Room, User
from clinic.selectors import member_by_code, provider_get, room_get
from clinic.services import phone_normalise
from visits.attachments import attachments_attach
from visits.html import sanitise_html
from visits.lifecycle import (
    ENDED_STATUSES,
    event_record,
    transition_record,
    transitions_record_bulk,
    visit_create,
    visit_lock,
    visit_refetch,
)
from visits.models import (
    ACTIVE_STATUSES,
    CLIENT_CLOSE_REASONS,
    PROVIDER_CLOSE_REASONS,
    QUEUE_TYPES,
    CloseReason,
    Intake,
    IntakeAddendum,
    Priority,
    Visit,
    VisitStatus,
    VisitType,
)
from visits.selectors import intake_get, intakes_visible_to, is_staff_user, visit_get
from visits.summaries.services import summaries_request_background

# Field names of the contract; anything else a client sends to /intakes is a custom field.
INTAKE_FIELDS = frozenset(
    {
        "room_code",
        "provider_id",
        "provider",
        "reason_for_visit",
        "type",
        "member_id",
        "location",
        "phone",
        "consultation_id",
        "attachments",
        "reset",
    }
)


# --- intakes -------------------------------------------------------------------------------------------


def intake_custom_fields_clean(*, custom: dict) -> dict:
    """Custom fields are free-form but bounded: count, name length and value size."""
    errors: dict[str, list[str]] = {}
    if len(custom) > settings.INTAKE_CUSTOM_FIELDS_MAX_COUNT:
        raise InvalidInput(
            f"Too many custom fields: {len(custom)} (at most {settings.INTAKE_CUSTOM_FIELDS_MAX_COUNT}).",
            errors={"custom": [f"At most {settings.INTAKE_CUSTOM_FIELDS_MAX_COUNT} custom fields."]},
        )
    for name, value in custom.items():
        if len(name) > settings.INTAKE_CUSTOM_FIELD_MAX_NAME:
            errors[name[:64]] = [
                f"Field names are at most {settings.INTAKE_CUSTOM_FIELD_MAX_NAME} characters."
            ]
        elif len(json.dumps(value)) > settings.INTAKE_CUSTOM_FIELD_MAX_VALUE:
            errors[name] = [f"Values are at most {settings.INTAKE_CUSTOM_FIELD_MAX_VALUE} characters."]
    if errors:
        raise InvalidInput(f"{next(iter(errors))}: {next(iter(errors.values()))[0]}", errors=errors)
    return custom


def _intake_member(*, account: Account, actor: User, member_code: str | None) -> Member | None:
    if member_code:
        if actor.is_member:
            # `member_id` takes the code or the person id; a patient may name only themselves by either.
            if str(member_code) not in (actor.member.code, str(actor.pk)):
                raise NotAllowed(
                    "A patient can only act for themselves.", errors={"member_id": ["Not yours."]}
                )
            return actor.member
        return member_by_code(account=account, code=member_code)
    return actor.member if actor.is_member else None


def _intake_apply(*, intake: Intake, account: Account, fields: dict, custom: dict) -> None:
    if "provider_id" in fields:
        pid = fields["provider_id"]
        intake.provider = provider_get(account=account, provider_id=pid) if pid else None
    if "consultation_id" in fields:
        cid = fields["consultation_id"]
        intake.consultation = _consultation_of_room(room=intake.room, consultation_id=cid) if cid else None
    if "location" in fields:
        location = (fields["location"] or "").strip().upper()
        if location and location not in US_STATE_CODES:
            raise InvalidInput.field("location", f"{fields['location']!r} is not a US state code.")
        intake.location = location
    if "phone" in fields:
        intake.phone = phone_normalise(raw=fields["phone"])
    for name in ("reason_for_visit", "type"):
        if name in fields:
            setattr(intake, name, fields[name])
    if custom:
        intake.custom = intake_custom_fields_clean(custom={**intake.custom, **custom})


def _consultation_of_room(*, room: Room, consultation_id) -> Consultation:
    consultation = room.consultations.filter(pk=consultation_id).first()
    if consultation is None:
        raise InvalidInput.field(
            "consultation_id", f"Room {room.code} has no consultation {consultation_id}."
        )
    return consultation


def _may_write_intakes_in(*, actor: User, room: Room) -> bool:
    """Staff write intakes in every room of their clinic, providers in the rooms they work in, patients
    their own anywhere (a room they have not visited yet included)."""
    if is_staff_user(actor) or actor.is_member:
        return True
    return actor.is_provider and actor.provider.rooms.filter(pk=room.pk).exists()


def _intake_writable(intake: Intake) -> None:
    """The intake of a visit that ended is part of the record: it is not rewritten."""
    if intake.visits.filter(status__in=ENDED_STATUSES).exists():
        raise Conflict(
            "The visit of this intake has ended: its answers are part of the record and cannot change.",
            errors={"id": ["The visit has ended."]},
        )


@transaction.atomic
def intake_create(
    *,
    account: Account,
    actor: User,
    room_code: str,
    fields: dict,
    custom: dict,
    reset: bool = False,
    attachment_ids: list[str] | None = None,
) -> Intake:
    """Create an intake, or update the patient's open one in this room unless `reset` asks for a new one.

    Only an intake that no visit uses yet is reused: one in use (a waiting walk-in, a booking) is never
    changed here. Who may write is checked before the patient is even looked up, so a forbidden caller
    cannot tell a known patient code from an unknown one. `attachment_ids` are attached in this
    transaction: one refused id leaves nothing written."""
    room = room_get(account=account, code=room_code)
    if not _may_write_intakes_in(actor=actor, room=room):
        raise NotAllowed(
            "Only the clinic's staff and the providers of this room create intakes here.",
            errors={"room_code": ["You do not work in this room."]},
        )
    member = _intake_member(account=account, actor=actor, member_code=fields.pop("member_id", None))
    if not member and actor.is_member:
        raise NotAllowed("This patient account has no patient record.")
    intake = None
    if member and not reset:
        intake = (
            intakes_visible_to(account=account, user=actor)
            .select_for_update(of=("self",))
            .filter(room=room, member=member, visits__isnull=True)
            .order_by("-created")
            .first()
        )
    if intake is None:
        intake = Intake(account=account, room=room, member=member, created_by=actor)
        if member:
            intake.location, intake.phone = member.state, member.phone
    _intake_apply(intake=intake, account=account, fields=fields, custom=custom)
    intake.save()
    if attachment_ids:
        attachments_attach(account=account, actor=actor, intake=intake, attachment_ids=attachment_ids)
    return intake


@transaction.atomic
def intake_update(
    *,
    account: Account,
    actor: User,
    intake_id,
    fields: dict,
    custom: dict,
    attachment_ids: list[str] | None = None,
) -> Intake:
    intake = intake_get(account=account, user=actor, intake_id=intake_id)
    intake = Intake.objects.select_for_update().select_related("room").get(pk=intake.pk)
    _intake_writable(intake)
    if "room_code" in fields:
        intake.room = room_get(account=account, code=fields["room_code"])
        if not _may_write_intakes_in(actor=actor, room=intake.room):
            raise NotAllowed(
                "You do not work in that room.", errors={"room_code": ["You do not work in this room."]}
            )
    if "member_id" in fields:
        intake.member = _intake_member(account=account, actor=actor, member_code=fields["member_id"])
    _intake_apply(intake=intake, account=account, fields=fields, custom=custom)
    intake.save()
    if attachment_ids:
        attachments_attach(account=account, actor=actor, intake=intake, attachment_ids=attachment_ids)
    return intake


@transaction.atomic
def intake_addendum_add(*, account: Account, actor: User, intake_id, text: str) -> IntakeAddendum:
    """Add a correction to an intake, by anyone who may read it; allowed whether or not its visit has
    ended. The intake's `modified` moves, so its visits' PDF summaries are rendered again with it."""
    intake = intake_get(account=account, user=actor, intake_id=intake_id)
    text = (text or "").strip()
    if not text:
        raise InvalidInput.field("text", "Write the correction.")
    if len(text) > 4000:
        raise InvalidInput.field("text", "At most 4,000 characters.")
    addendum = IntakeAddendum.objects.create(intake=intake, author=actor, text=text)
    Intake.objects.filter(pk=intake.pk).update(modified=addendum.created)
    return addendum


# --- joining the queue ---------------------------------------------------------------------------------


def _room_takes_visits(*, room: Room, walkin: bool) -> None:
    if not room.is_open:
        raise Conflict(f"Room {room.code} is closed.", errors={"room_code": ["The room is closed."]})
    if walkin and not room.walkins_enabled:
        raise Conflict(
            f"Room {room.code} does not take walk-ins.", errors={"room_code": ["Walk-ins are off."]}
        )


def _queue_intake(*, account: Account, actor: User, intake_id, room: Room, member_code: str | None) -> Intake:
    intake = intake_get(account=account, user=actor, intake_id=intake_id)
    if intake.room_id != room.pk:
        raise InvalidInput.field(
            "intake_id", f"The intake belongs to room {intake.room.code}, not {room.code}."
        )
    if member_code:
        member = _intake_member(account=account, actor=actor, member_code=member_code)
        if intake.member_id and intake.member_id != member.pk:
            raise InvalidInput.field("member_id", "The intake belongs to another patient.")
        if intake.member_id is None:
            intake.member = member
            intake.save(update_fields=["member", "modified"])
    if intake.member is None:
        raise InvalidInput.field("member_id", "The intake has no patient; give member_id.")
    return intake


def _waiting_visit_of(intake: Intake, visit_type: int) -> Visit | None:
    return Visit.objects.filter(intake=intake, type=visit_type, status__in=ACTIVE_STATUSES).first()


@transaction.atomic
def visit_add_walkin(
    *,
    account: Account,
    actor: User,
    intake_id,
    room_code: str,
    appointment_id=None,
    provider_id=None,
    member_code: str | None = None,
) -> Visit:
    """Put the patient in the room's walk-in queue; for a named provider (or the provider of the
    appointment being started), in that provider's queue alone."""
    room = room_get(account=account, code=room_code)
    _room_takes_visits(room=room, walkin=appointment_id is None)
    intake = _queue_intake(
        account=account, actor=actor, intake_id=intake_id, room=room, member_code=member_code
    )
    appointment, provider = None, None
    if appointment_id is not None:
        appointment = _appointment_to_start(
            account=account, actor=actor, appointment_id=appointment_id, intake=intake, room=room
        )
        provider = appointment.provider
    # VSee says to pass provider_id only when starting an appointment; clients pass it for walk-ins too,
    # and then mean that provider: the walk-in waits in their queue alone.
    if provider_id and (provider is None or str(provider.pk) != str(provider_id)):
        provider = provider_get(account=account, provider_id=provider_id)
        if not provider.rooms.filter(pk=room.pk).exists():
            raise InvalidInput.field("provider_id", "That provider does not work in this room.")
    return _join_queue(
        account=account,
        actor=actor,
        room=room,
        intake=intake,
        visit_type=VisitType.WALKIN,
        provider=provider,
        appointment=appointment,
    )


def _join_queue(
    *, account: Account, actor: User, room: Room, intake: Intake, visit_type: int, **fields
) -> Visit:
    """Put the intake's patient in the queue. Idempotent per intake: the intake's row lock makes a retried
    or doubled request find the visit the first one created."""
    Intake.objects.select_for_update().filter(pk=intake.pk).first()
    visit = _waiting_visit_of(intake, visit_type)
    if visit is None:
        now = timezone.now()
        visit = visit_create(
            actor=actor,
            at=now,
            account=account,
            room=room,
            type=visit_type,
            status=VisitStatus.WAITING,
            member=intake.member,
            intake=intake,
            consultation=intake.consultation,
            start=now,
            priority=intake_priority(room=room, intake=intake),
            **fields,
        )
    return visit_refetch(visit.pk)


def intake_priority(*, room: Room, intake: Intake) -> int:
    """Urgent when an intake answer is one the room lists as urgent (`Room.urgent_answers`, field name to
    values, compared without case); normal otherwise."""
    for name, urgent_values in (room.urgent_answers or {}).items():
        answer = (intake.custom or {}).get(name)
        answers = answer if isinstance(answer, list) else [answer]
        wanted = {str(v).strip().casefold() for v in urgent_values or []}
        if any(str(a).strip().casefold() in wanted for a in answers if a is not None):
            return Priority.URGENT
    return Priority.NORMAL


def _may_triage(*, actor: User, visit: Visit) -> bool:
    if is_staff_user(actor):
        return True
    return actor.is_provider and actor.provider.rooms.filter(pk=visit.room_id).exists()


@transaction.atomic
def visit_priority_set(*, account: Account, actor: User, visit_id, priority: int) -> Visit:
    """Staff, and the providers of the visit's room, mark a visit that has not ended urgent or normal."""
    if priority not in Priority.values:
        raise InvalidInput.field("priority", "Choose urgent or normal.")
    visit = visit_lock(visit_get(account=account, user=actor, visit_id=visit_id))
    if not _may_triage(actor=actor, visit=visit):
        raise NotAllowed("Only the clinic's staff and the room's providers set priorities.")
    if visit.status not in ACTIVE_STATUSES:
        raise Conflict(f"The visit is {visit.status_words}; its priority no longer matters.")
    if visit.priority != priority:
        now = timezone.now()
        Visit.objects.filter(pk=visit.pk).update(priority=priority, modified=now)
        event_record(
            visit_id=visit.pk,
            from_status=visit.status,
            to_status=visit.status,
            actor=actor,
            reason=f"priority {Priority(priority).label.lower()}",
            at=now,
        )
    return visit_refetch(visit.pk)


@transaction.atomic
def visit_requeue(*, account: Account, actor: User, visit_id) -> Visit:
    """Send a walk-in or e-consult in progress back to the waiting queue (the call dropped, the wrong
    provider took it): the front desk, clinic admins and the provider holding it may. It keeps its place
    by the time it first joined; an appointment's session goes back to that appointment's provider."""
    visit = visit_lock(visit_get(account=account, user=actor, visit_id=visit_id))
    holds = actor.is_provider and visit.provider_id == actor.provider.pk
    if not (is_staff_user(actor) or holds):
        raise NotAllowed("Only the clinic's staff and the provider with the patient send them back.")
    if visit.type not in QUEUE_TYPES or visit.status != VisitStatus.IN_PROGRESS:
        raise Conflict(
            f"Only a walk-in or e-consult in progress goes back to the queue; it is {visit.status_words}.",
            errors={"id": ["Not in progress."]},
        )
    now = timezone.now()
    keep_provider = visit.appointment.provider_id if visit.appointment_id else None
    Visit.objects.filter(pk=visit.pk, status=VisitStatus.IN_PROGRESS).update(
        status=VisitStatus.WAITING, provider_id=keep_provider, actual_start=None, modified=now
    )
    transition_record(
        visit=visit,
        from_status=VisitStatus.IN_PROGRESS,
        to_status=VisitStatus.WAITING,
        actor=actor,
        reason="sent back to the queue",
        at=now,
        appointment_changes={"actual_start": None},
    )
    return visit_refetch(visit.pk)


def _appointment_to_start(*, account, actor, appointment_id, intake: Intake, room: Room) -> Visit:
    try:
        appointment = visit_get(account=account, user=actor, visit_id=appointment_id)
    except NotFound as exc:
        raise NotFound(str(exc), errors={"appointment_id": ["No such appointment."]}) from exc
    if appointment.type != VisitType.SCHEDULED:
        raise InvalidInput.field("appointment_id", "That visit is not a scheduled appointment.")
    if appointment.room_id != room.pk:
        raise InvalidInput.field("appointment_id", "The appointment is in another room.")
    if appointment.member_id and appointment.member_id != intake.member_id:
        raise InvalidInput.field("appointment_id", "The appointment belongs to another patient.")
    if appointment.status not in ACTIVE_STATUSES:
        raise Conflict(
            f"The appointment is {appointment.status_name}.", errors={"appointment_id": ["Not active."]}
        )
    return appointment


@transaction.atomic
def visit_add_econsult(*, account: Account, actor: User, intake_id, room_code: str) -> Visit:
    """An unscheduled e-consult every provider of the room sees until one accepts it."""
    room = room_get(account=account, code=room_code)
    _room_takes_visits(room=room, walkin=False)
    intake = _queue_intake(account=account, actor=actor, intake_id=intake_id, room=room, member_code=None)
    return _join_queue(account=account, actor=actor, room=room, intake=intake, visit_type=VisitType.ECONSULT)


def _acting_provider(actor: User) -> Provider:
    if not actor.is_provider or not actor.has_perm("visits.accept_visit"):
        raise NotAllowed("Only providers accept visits.")
    return actor.provider


def provider_may_take(*, provider: Provider, visit: Visit) -> str | None:
    """Why `provider` may not take `visit` from the queue, or None if they may."""
    if not provider.rooms.filter(pk=visit.room_id).exists():
        return f"{provider.display_name} does not work in room {visit.room.code}."
    location = visit.intake.location if visit.intake else ""
    if location and not provider.licenses.filter(state=location).exists():
        return f"{provider.display_name} is not licensed in {location}."
    return None


@transaction.atomic
def visit_accept(*, account: Account, actor: User, visit_id) -> Visit:
    """Take a waiting walk-in or e-consult. One conditional UPDATE decides among simultaneous accepts."""
    provider = _acting_provider(actor)
    visit = visit_get(account=account, user=actor, visit_id=visit_id)
    if visit.type not in QUEUE_TYPES:
        raise Conflict(
            "Only walk-ins and e-consults are accepted from the queue.", errors={"id": ["Wrong type."]}
        )
    if (why_not := provider_may_take(provider=provider, visit=visit)) is not None:
        raise NotAllowed(why_not)
    now = timezone.now()
    won = (
        Visit.objects.filter(pk=visit.pk, status=VisitStatus.WAITING)
        .filter(Q(provider__isnull=True) | Q(provider=provider))
        .update(status=VisitStatus.IN_PROGRESS, provider=provider, actual_start=now, modified=now)
    )
    if not won:
        current = visit_refetch(visit.pk)
        if current.status == VisitStatus.IN_PROGRESS and current.provider:
            who = "you" if current.provider_id == provider.pk else current.provider.display_name
            raise Conflict(f"Already taken by {who}.", errors={"id": [f"Already taken by {who}."]})
        if current.status == VisitStatus.WAITING:
            raise Conflict(
                "This patient is waiting for another provider.", errors={"id": ["Not in your queue."]}
            )
        raise Conflict(
            f"The visit is {current.status_name}.", errors={"id": [f"The visit is {current.status_name}."]}
        )
    transition_record(
        visit=visit,
        from_status=VisitStatus.WAITING,
        to_status=VisitStatus.IN_PROGRESS,
        actor=actor,
        reason="accepted",
        at=now,
        appointment_changes={"actual_start": now, "provider": provider},
    )
    return visit_refetch(visit.pk)


@transaction.atomic
def visit_complete(*, account: Account, actor: User, visit_id, notes: str = "") -> Visit:
    visit = visit_lock(visit_get(account=account, user=actor, visit_id=visit_id))
    if not actor.is_provider or visit.provider_id != actor.provider.pk:
        raise NotAllowed("Only the visit's provider completes it.")
    if visit.status != VisitStatus.IN_PROGRESS:
        raise Conflict(f"Only a visit in progress can be completed; this one is {visit.status_name}.")
    now = timezone.now()
    Visit.objects.filter(pk=visit.pk).update(
        status=VisitStatus.COMPLETED, actual_end=now, notes=sanitise_html(notes), modified=now
    )
    transition_record(
        visit=visit,
        from_status=VisitStatus.IN_PROGRESS,
        to_status=VisitStatus.COMPLETED,
        actor=actor,
        reason="completed",
        at=now,
        appointment_changes={"actual_end": now},
    )
    return visit_refetch(visit.pk)


PATIENT_REASONS = (
    CloseReason.PATIENT_END_CALL,
    CloseReason.PATIENT_EXIT_ROOM,
    CloseReason.CALL_ENDED,
    CloseReason.PATIENT_CANCEL_APPOINTMENT,
)


def _waited_past_limit(visit: Visit, *, now: dt.datetime) -> bool:
    limit = visit.room.max_waiting_time
    return (
        visit.type in QUEUE_TYPES
        and visit.status == VisitStatus.WAITING
        and limit is not None
        and now - visit.created >= dt.timedelta(seconds=limit)
    )


def visit_close_reasons(*, actor: User, visit: Visit) -> list[str]:
    """The reasons `actor` may close `visit` with; none when they may not close it.

    Patients close their own visits with the patient app's reasons, and with the max-wait reason only
    once the room's limit has really passed. Providers close the visits they hold, and waiting patients
    of their rooms' queues nobody holds, with the providers' reasons. The front desk closes what has
    not started (a patient who left, an appointment cancelled by phone), never a visit in progress.
    Clinic admins close any visit with the patient app's reasons (and force-cancel through delete)."""
    if actor.is_member:
        if visit.member_id != actor.member.pk:
            return []
        reasons = list(PATIENT_REASONS)
        if _waited_past_limit(visit, now=timezone.now()):
            reasons.append(CloseReason.MAX_WAITING_TIME_REACHED)
        return reasons
    if actor.has_perm("visits.view_all_visits"):
        return list(PATIENT_REASONS)
    if is_staff_user(actor):
        if visit.status != VisitStatus.WAITING:
            return []
        if visit.type == VisitType.SCHEDULED:
            return [CloseReason.PATIENT_CANCEL_APPOINTMENT]
        return [CloseReason.PATIENT_EXIT_ROOM]
    if actor.is_provider:
        provider = actor.provider
        holds = visit.provider_id == provider.pk
        unheld_in_my_queue = (
            visit.provider_id is None
            and visit.status == VisitStatus.WAITING
            and visit.type in QUEUE_TYPES
            and provider.rooms.filter(pk=visit.room_id).exists()
        )
        return list(PROVIDER_CLOSE_REASONS) if holds or unheld_in_my_queue else []
    return []


@transaction.atomic
def visit_close(
    *, account: Account, actor: User, visit_id, reason: str, note: str = ""
) -> tuple[Visit, bool]:
    """Close or cancel a visit. Returns the visit and whether this call changed it. A visit already
    closed is answered as it is, whoever asks; `visit_close_reasons` decides the rest."""
    if reason not in CloseReason.values or reason == CloseReason.FORCE_CANCELLED:
        raise InvalidInput.field("reason", f"Must be one of: {', '.join(CLIENT_CLOSE_REASONS)}.")
    visit = visit_lock(visit_get(account=account, user=actor, visit_id=visit_id))
    if visit.status == VisitStatus.CANCELLED:
        return visit_refetch(visit.pk), False
    allowed = visit_close_reasons(actor=actor, visit=visit)
    if not allowed:
        raise NotAllowed("You may not close this visit.")
    if reason not in allowed:
        if reason == CloseReason.MAX_WAITING_TIME_REACHED and actor.is_member:
            raise Conflict(
                "The room's maximum waiting time has not passed for this visit.",
                errors={"reason": ["The maximum waiting time has not passed."]},
            )
        raise NotAllowed(
            f"You may not close this visit as {CloseReason(reason).label.lower()!r}.",
            errors={"reason": [f"Allowed: {', '.join(allowed)}."]},
        )
    return _close_locked(visit=visit, actor=actor, reason=reason, note=note)


def _close_locked(*, visit: Visit, actor: User | None, reason: str, note: str = "") -> tuple[Visit, bool]:
    if visit.status == VisitStatus.CANCELLED:
        return visit_refetch(visit.pk), False
    if visit.status == VisitStatus.COMPLETED:
        raise Conflict("The visit is already completed; it cannot be closed.", errors={"id": ["Completed."]})
    now = timezone.now()
    changes = {
        "status": VisitStatus.CANCELLED,
        "close_reason": reason,
        "close_note": note.strip()[:500],
        "closed_by": actor,
        "modified": now,
    }
    if visit.status == VisitStatus.IN_PROGRESS:
        changes["actual_end"] = now
    Visit.objects.filter(pk=visit.pk).update(**changes)
    transition_record(
        visit=visit,
        from_status=visit.status,
        to_status=VisitStatus.CANCELLED,
        actor=actor,
        reason=reason,
        at=now,
    )
    return visit_refetch(visit.pk), True


@transaction.atomic
def visit_force_cancel(*, account: Account, actor: User, visit_id) -> tuple[Visit, bool]:
    if not actor.has_perm("visits.force_cancel_visit"):
        raise NotAllowed("Only a clinic admin may force-cancel a visit.")
    visit = visit_lock(visit_get(account=account, user=actor, visit_id=visit_id))
    return _close_locked(visit=visit, actor=actor, reason=CloseReason.FORCE_CANCELLED)


# --- max waiting time ------------------------------------------------------------------------------------

OVERDUE_BATCH_SIZE = 1000


def _overdue_filter(*, now: dt.datetime) -> Q | None:
    """Waiting past the room's limit, as one OR term per distinct limit (a handful across all rooms):
    plain comparisons that every database runs and the queue index serves."""
    limits = (
        Room.objects.filter(max_waiting_time__isnull=False)
        .order_by()
        .values_list("max_waiting_time", flat=True)
        .distinct()
    )
    terms = [
        Q(room__max_waiting_time=seconds, created__lt=now - dt.timedelta(seconds=seconds))
        for seconds in limits
    ]
    return functools.reduce(operator.or_, terms) if terms else None


def _overdue_pick_sql(*, overdue: Q, batch_size: int) -> tuple[str, tuple]:
    """SELECT of the ids of one batch of overdue queue visits, locked unless another run holds them."""
    pick = (
        Visit.objects.queued()
        .filter(overdue)
        # The queue index's own order: the batch is read from the waiting rows alone. (ORDER BY id, or no
        # order, let PostgreSQL walk the primary key or the table through every closed visit.)
        .order_by("room_id", "type", "created")
        .select_for_update(skip_locked=True, of=("self",))
        .values("id")[:batch_size]
    )
    return pick.query.sql_with_params()


def visits_close_overdue(*, now: dt.datetime | None = None, batch_size: int = OVERDUE_BATCH_SIZE) -> int:
    """Close, by the system, every walk-in and e-consult still waiting past its room's max_waiting_time.

    Per batch one UPDATE ... WHERE status=10 ... RETURNING id, and one event row for exactly the ids it
    returned. SKIP LOCKED lets two runs share the work; a provider's accept that got the row first wins,
    and one that comes second finds status 40 and is told so. Returns how many visits were closed."""
    now = now or timezone.now()
    overdue = _overdue_filter(now=now)
    if overdue is None:
        return 0
    table = Visit._meta.db_table
    closed = 0
    while True:
        with transaction.atomic():
            pick_sql, pick_params = _overdue_pick_sql(overdue=overdue, batch_size=batch_size)
            with connection.cursor() as cursor:
                # The pick is a materialised CTE, run once: as `id IN (pick)` PostgreSQL may plan a semi
                # join that runs the LIMITed pick again for every waiting row, closing past the batch.
                cursor.execute(
                    f"WITH picked AS MATERIALIZED ({pick_sql}) "
                    f"UPDATE {table} SET status = %s, close_reason = %s, closed_by_id = NULL, modified = %s "
                    f"WHERE status = %s AND id IN (SELECT id FROM picked) "
                    "RETURNING id, member_id, account_id",
                    (
                        *pick_params,
                        VisitStatus.CANCELLED,
                        CloseReason.MAX_WAITING_TIME_REACHED,
                        now,
                        VisitStatus.WAITING,
                    ),
                )
                closed_rows = cursor.fetchall()
            ids = [row[0] for row in closed_rows]
            audit.audit_record_many(
                audit.SYSTEM,
                audit.Action.UPDATE,
                (
                    audit.Target(audit.ObjectType.VISIT, str(pk), member, account)
                    for pk, member, account in closed_rows
                ),
                detail=f"closed: {CloseReason.MAX_WAITING_TIME_REACHED}",
            )
            summaries_request_background(visit_ids=ids, now=now)
            transitions_record_bulk(
                visit_ids=ids,
                from_status=VisitStatus.WAITING,
                to_status=VisitStatus.CANCELLED,
                reason=CloseReason.MAX_WAITING_TIME_REACHED,
                at=now,
            )
        closed += len(ids)
        if not ids:
            return closed
