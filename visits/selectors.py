import datetime as dt
import hashlib
import uuid
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce, RowNumber

from clinic.errors import NotAllowed, NotFound
from clinic.models import Account, Member, Provider, ProviderLicense, Room, User
from clinic.selectors import account_zone
from push.events import Audience, EventKind
from visits.formatting import age_words, format_duration
from visits.models import (
    QUEUE_TYPES,
    Attachment,
    CloseReason,
    Intake,
    NoteDraft,
    Priority,
    SummaryDownload,
    Visit,
    VisitEvent,
    VisitStatus,
    VisitType,
)


def _as_int(value) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def is_staff_user(user: User) -> bool:
    """Front desk and clinic admins: they see every visit of their account."""
    return user.has_perm("visits.book_appointment") or user.has_perm("visits.view_all_visits")


def queue_audience(*, user: User) -> Audience | None:
    """What a user hears on the event stream: a provider, changes to their rooms' queues and visits in
    progress (the dashboard: a patient who hangs up on them shows as "Patient left" at once, not at the next
    slow poll); the front desk and clinic admins, the same for every room of their account (the clinic
    board); nobody else anything."""
    if not user.is_authenticated or user.account_id is None:
        return None
    if is_staff_user(user):
        kinds = frozenset({EventKind.QUEUE, EventKind.IN_PROGRESS})
        return Audience(account_id=user.account_id, room_ids=None, kinds=kinds)
    if user.is_provider and user.has_perm("visits.accept_visit"):
        rooms = Provider.rooms.through.objects.filter(
            provider__user=user, provider__account_id=user.account_id, room__account_id=user.account_id
        ).values_list("room_id", flat=True)
        kinds = frozenset({EventKind.QUEUE, EventKind.IN_PROGRESS})
        return Audience(account_id=user.account_id, room_ids=frozenset(rooms), kinds=kinds)
    return None


def sees_clinical_content(user: User) -> bool:
    """Clinical content is a visit's notes, the patient's files and the PDF summary (which holds both).
    Patients see their own, providers and clinic admins those of the visits they see; the front desk
    none (they see who, when, where and why: demographics, times, the reason and intake answers)."""
    return user.is_member or user.has_perm("visits.view_clinical_content")


def visits_visible_to(*, account: Account, user: User) -> QuerySet[Visit]:
    visits = Visit.objects.for_account(account)
    if is_staff_user(user):
        return visits
    if user.is_provider:
        provider = user.provider
        # Their own visits, and their rooms' (to take from the queue, or learn who already took it).
        return visits.filter(Q(provider=provider) | Q(room__in=provider.rooms.all()))
    if user.is_member:
        return visits.filter(member=user.member)
    return visits.none()


def visit_get(*, account: Account, user: User, visit_id) -> Visit:
    pk = _as_int(visit_id)
    visit = visits_visible_to(account=account, user=user).with_related().filter(pk=pk).first() if pk else None
    if visit is None:
        raise NotFound(f"Visit {visit_id} not found.", errors={"id": ["No such visit."]})
    return visit


def visit_list(
    *,
    account: Account,
    user: User,
    room_code: str | None = None,
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
    status: int | None = None,
    type: int | None = None,
) -> QuerySet[Visit]:
    visits = visits_visible_to(account=account, user=user)
    if user.is_provider and not is_staff_user(user):
        visits = visits.filter(provider=user.provider)  # a provider's list is their own visits
    if room_code:
        visits = visits.filter(room__code=room_code)
    if start_time:
        visits = visits.filter(Q(start__gte=start_time) | Q(start__isnull=True, created__gte=start_time))
    if end_time:
        visits = visits.filter(Q(start__lt=end_time) | Q(start__isnull=True, created__lt=end_time))
    if status:
        visits = visits.filter(status=status)
    if type:
        visits = visits.filter(type=type)
    return visits.with_related().order_by("-start", "-created", "-id")


def visit_current(*, account: Account, user: User) -> Visit | None:
    visits = Visit.objects.for_account(account).filter(status=VisitStatus.IN_PROGRESS)
    if user.is_provider:
        visits = visits.filter(provider=user.provider)
    elif user.is_member:
        visits = visits.filter(member=user.member)
    else:
        return None
    return visits.with_related().order_by("-actual_start").first()


def intakes_visible_to(*, account: Account, user: User) -> QuerySet[Intake]:
    intakes = Intake.objects.for_account(account)
    if is_staff_user(user):
        return intakes
    if user.is_provider:
        return intakes.filter(Q(room__in=user.provider.rooms.all()) | Q(provider=user.provider))
    if user.is_member:
        return intakes.filter(member=user.member)
    return intakes.none()


def intake_get(*, account: Account, user: User, intake_id) -> Intake:
    pk = _uuid_or_none(intake_id)
    intake = (
        intakes_visible_to(account=account, user=user)
        .select_related("room", "member", "provider__user", "consultation")
        .prefetch_related("attachments", "addenda")
        .filter(pk=pk)
        .first()
        if pk
        else None
    )
    if intake is None:
        raise NotFound(f"Intake {intake_id} not found.", errors={"intake_id": ["No such intake."]})
    return intake


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


# --- the provider dashboard's queues -----------------------------------------------------------------------


def _provider_queue(*, user: User) -> QuerySet[Visit]:
    """What a provider's queues hold: their rooms' waiting walk-ins and e-consults, except sessions of an
    appointment that wait for another provider. The provider comes with the session's user (one query for
    both), the rooms are a subquery, so that a refresh runs this as its only query; a user who is no
    provider has no queue."""
    if not user.is_provider:
        return Visit.objects.none()
    provider_id = user.provider.pk
    rooms = Provider.rooms.through.objects.filter(provider_id=provider_id).values("room_id")
    return (
        Visit.objects.for_account(user.account_id)
        .queued()
        .filter(room__in=rooms)
        .filter(Q(provider__isnull=True) | Q(provider_id=provider_id))
    )


@dataclass(frozen=True)
class QueueState:
    version: str
    walkin_count: int
    econsult_count: int


def provider_queue_state(*, user: User) -> QueueState:
    """One aggregate over the provider's queues: the counts and a version that any change alters.

    A visit joining raises the count and the newest `modified`; one leaving (accepted, closed) lowers the
    count; a swap within one refresh changes the id sum and the newest `modified`."""
    agg = _provider_queue(user=user).aggregate(
        walkins=Count("id", filter=Q(type=VisitType.WALKIN)),
        econsults=Count("id", filter=Q(type=VisitType.ECONSULT)),
        id_sum=Sum("id"),
        last_modified=Max("modified"),
    )
    raw = f"{agg['walkins']}.{agg['econsults']}.{agg['id_sum'] or 0}.{agg['last_modified'] or ''}"
    return QueueState(
        version=hashlib.blake2s(raw.encode(), digest_size=8).hexdigest(),
        walkin_count=agg["walkins"],
        econsult_count=agg["econsults"],
    )


@dataclass(frozen=True)
class QueuePages:
    walkins: list[Visit]
    econsults: list[Visit]
    left_unseen: list[Visit]  # newest first


def provider_queue_pages(*, user: User, limit: int, now: dt.datetime) -> QueuePages:
    """The oldest `limit` waiting visits of each queue (walk-ins, e-consults), and who left the provider's
    rooms' queues today unseen (the clinic board's list), in one query whatever the queues' length.

    The page is picked by numbering each queue's waiting rows (read through the queue index), not by
    ORDER BY created LIMIT n: with that, PostgreSQL may walk the `created` index through every historical
    visit looking for waiting ones. Only the picked rows are joined to their patient, intake and room.
    Each visit carries `licensed`: whether the provider holds a licence for the patient's location (the
    rule visits.services.provider_may_take enforces on accept), and `attachment_count`. Who left is read
    in the same query (a union of ids): as a query of its own it was an eighth of the partial's time."""
    position = Window(
        RowNumber(), partition_by=F("type"), order_by=[F("priority").asc(), F("created").asc(), F("id").asc()]
    )
    if not user.is_provider:
        return QueuePages(walkins=[], econsults=[], left_unseen=[])
    provider_id = user.provider.pk
    page_ids = _provider_queue(user=user).annotate(position=position).filter(position__lte=limit).values("id")
    rooms = Provider.rooms.through.objects.filter(provider_id=provider_id).values("room_id")
    left_ids = _left_unseen_since(
        Visit.objects.for_account(user.account_id).filter(room__in=rooms), now=now
    ).values("id")
    licence = ProviderLicense.objects.filter(provider_id=provider_id, state=OuterRef("intake__location"))
    attachments = (
        Attachment.objects.filter(intake=OuterRef("intake"))
        .order_by()
        .values("intake")
        .annotate(n=Count("id"))
        .values("n")
    )
    pages: dict[int, list[Visit]] = {VisitType.WALKIN: [], VisitType.ECONSULT: []}
    left = []
    for visit in (
        Visit.objects.filter(pk__in=page_ids.union(left_ids, all=True))
        .select_related("member", "intake", "room")
        # Only the columns a row shows: fewer values to convert and objects to fill.
        .only(
            "type",
            "status",
            "created",
            "modified",
            "close_reason",
            "provider_id",
            "appointment_id",
            "priority",
            "room__name",
            "room__max_waiting_time",
            "room__time_zone",
            "room__intake_fields",
            "member__first_name",
            "member__last_name",
            "member__dob",
            "member__gender",
            "intake__reason_for_visit",
            "intake__location",
            "intake__custom",
        )
        .annotate(
            licensed=Q(intake__isnull=True) | Q(intake__location="") | Exists(licence),
            attachment_count=Coalesce(Subquery(attachments), 0),
        )
        .order_by("priority", "created", "id")
    ):
        if visit.status == VisitStatus.WAITING:
            pages[visit.type].append(visit)
        elif visit.modified >= _local_midnight(now, visit.room.zone):
            left.append(visit)
    left.sort(key=lambda v: (v.modified, v.pk), reverse=True)
    return QueuePages(walkins=pages[VisitType.WALKIN], econsults=pages[VisitType.ECONSULT], left_unseen=left)


def _provider_cards(*, provider: Provider) -> QuerySet[Visit]:
    """The visits of the provider's "In progress" section: the walk-ins and e-consults (an appointment's
    session among them) they hold, and those that ended under them still waiting for their notes."""
    left = NoteDraft.objects.filter(provider=provider, left__isnull=False, dismissed__isnull=True)
    return (
        Visit.objects.for_account(provider.account_id)
        .filter(provider=provider, type__in=QUEUE_TYPES)
        .filter(Q(status=VisitStatus.IN_PROGRESS) | Q(pk__in=left.values("visit_id")))
    )


@dataclass
class ProviderCards:
    in_progress: list[Visit]
    # Ended while the provider was on them: "Patient left: finish your notes".
    left: list[Visit]
    # The provider's drafts of these visits' notes, by visit id.
    drafts: dict[int, NoteDraft]


def provider_cards(*, provider: Provider) -> ProviderCards:
    """What the provider is on: visits in progress oldest first, then the patients who left before their
    notes were saved, most recent first. Two queries."""
    visits = list(
        _provider_cards(provider=provider)
        .select_related("member", "intake", "room", "account", "appointment")
        .order_by("actual_start", "id")
    )
    drafts = {d.visit_id: d for d in NoteDraft.objects.filter(provider=provider, visit__in=visits)}
    left = [v for v in visits if v.status != VisitStatus.IN_PROGRESS]
    left.sort(key=lambda v: drafts[v.pk].left, reverse=True)
    return ProviderCards(
        in_progress=[v for v in visits if v.status == VisitStatus.IN_PROGRESS], left=left, drafts=drafts
    )


def provider_in_progress_version(*, provider: Provider) -> str:
    """Changes whenever a visit joins or leaves the provider's "In progress" (a "Patient left" card
    dismissed or finished included), or one of them changes."""
    agg = _provider_cards(provider=provider).aggregate(
        n=Count("id"),
        running=Count("id", filter=Q(status=VisitStatus.IN_PROGRESS)),
        id_sum=Sum("id"),
        last_modified=Max("modified"),
    )
    raw = f"{agg['n']}.{agg['running']}.{agg['id_sum'] or 0}.{agg['last_modified'] or ''}"
    return hashlib.blake2s(raw.encode(), digest_size=8).hexdigest()


def note_draft_of(*, visit: Visit, provider: Provider) -> NoteDraft | None:
    return NoteDraft.objects.filter(visit=visit, provider=provider).first()


def provider_visits_today(*, provider: Provider, now: dt.datetime) -> list[Visit]:
    """The provider's visits that started (or are scheduled) today in the provider's time zone, an
    appointment once: once the patient started it, as its latest session (the visit where notes are
    written), which carries the appointment (`appointment`, its booked time)."""
    zone = zoneinfo.ZoneInfo(provider.time_zone)
    local_midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    # Midnight to midnight in local time: 23 or 25 hours on DST days.
    day_start = local_midnight.astimezone(dt.UTC)
    next_day = (local_midnight + dt.timedelta(days=1)).replace(tzinfo=None)
    day_end = next_day.replace(tzinfo=zone).astimezone(dt.UTC)
    visits = list(
        Visit.objects.for_account(provider.account_id)
        .filter(provider=provider)
        .filter(
            Q(actual_start__gte=day_start, actual_start__lt=day_end)
            | Q(actual_start__isnull=True, start__gte=day_start, start__lt=day_end)
        )
        .select_related("member", "room", "appointment")
        .order_by(Coalesce("actual_start", "start", "created"), "id")
    )
    # Ordered by start: the last session of an appointment seen is its latest.
    latest_session = {v.appointment_id: v for v in visits if v.appointment_id}
    listed = {v.pk for v in visits}
    one_each = []
    for visit in visits:
        if visit.pk in latest_session:
            one_each.append(latest_session[visit.pk])  # in the appointment's place
        elif visit.appointment_id is None:
            one_each.append(visit)
        elif visit.appointment_id not in listed and latest_session[visit.appointment_id] is visit:
            one_each.append(visit)  # its appointment was booked for another day
    return one_each


def visit_events(*, visit: Visit) -> list[VisitEvent]:
    return list(VisitEvent.objects.filter(visit=visit).select_related("actor").order_by("created", "id"))


# --- what a queue or board row says of a patient -------------------------------------------------------


def patient_age(dob: dt.date | None, *, today: dt.date) -> str:
    """Age as staff read it at a glance on a row: "7 y"; under two, "18 mo"; under a month, "12 d"."""
    return age_words(dob, today, short=True) or "Age not given"


_SEX_WORDS = dict(Member.Gender.choices)  # a dict: get_gender_display() was a fifth of a row's preparation


def patient_sex(member) -> str:
    return _SEX_WORDS.get(member.gender, member.gender) if member and member.gender else "Sex not given"


def patient_age_sex(member, *, today: dt.date) -> str:
    """ "7 y · Female", the age on `today`: the room's own date (a birthday starts at its local midnight)."""
    if member is None:
        return ""
    return f"{patient_age(member.dob, today=today)} · {patient_sex(member)}"


# --- the clinic board (front desk and admins) --------------------------------------------------------

LEFT_UNSEEN_REASONS = (CloseReason.MAX_WAITING_TIME_REACHED, CloseReason.PATIENT_EXIT_ROOM)


def _local_midnight(now: dt.datetime, zone) -> dt.datetime:
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def _left_unseen_since(visits: QuerySet[Visit], *, now: dt.datetime) -> QuerySet[Visit]:
    """The walk-ins and e-consults among `visits` that left without being seen (timed out, or left the
    waiting room) since the earliest of today's midnights: every room's lies within the last 25 hours (a
    DST day). Each room's own midnight is applied to what this reads."""
    return visits.filter(
        type__in=QUEUE_TYPES,
        status=VisitStatus.CANCELLED,
        close_reason__in=LEFT_UNSEEN_REASONS,
        actual_start__isnull=True,
        modified__gte=now - dt.timedelta(hours=25),
    )


def left_unseen_words(visit: Visit) -> str:
    """ "Maria Gonzalez left the queue after waiting 20 minutes": the dashboard's notice and list."""
    name = visit.member.full_name if visit.member else "A patient"
    minutes = max(int((visit.modified - visit.created).total_seconds()) // 60, 0)
    waited = f"{minutes} minute{'' if minutes == 1 else 's'}"
    if visit.close_reason == CloseReason.MAX_WAITING_TIME_REACHED:
        return f"{name} left the queue after waiting {waited} (the room's maximum waiting time)"
    return f"{name} left the waiting room after {waited}"


@dataclass
class BoardRoom:
    room: Room
    waiting: list[Visit]
    in_progress: list[Visit]
    left_unseen: list[Visit]


def clinic_board(*, account: Account, user: User, now: dt.datetime) -> list[BoardRoom]:
    """Every room's waiting and in-progress patients (walk-ins, e-consults and started appointments),
    urgent first then longest waiting, and who left today without being seen. Three queries whatever the
    clinic's size."""
    if not is_staff_user(user):
        raise NotAllowed("The clinic board is for the front desk and clinic admins.")
    rooms = list(Room.objects.for_account(account).order_by("name", "code"))
    active = (
        Visit.objects.for_account(account)
        .filter(type__in=QUEUE_TYPES, status__in=(VisitStatus.WAITING, VisitStatus.IN_PROGRESS))
        .select_related("member", "intake", "provider__user", "appointment")
        # Only what a row shows: 640 rows' intake answers, notes and appointments were read for nothing.
        .only(
            "account_id",
            "room_id",
            "type",
            "status",
            "priority",
            "created",
            "modified",
            "actual_start",
            "member__first_name",
            "member__last_name",
            "member__dob",
            "member__gender",
            "intake__reason_for_visit",
            "provider__title",
            "provider__user__username",
            "provider__user__first_name",
            "provider__user__last_name",
            "appointment__confirmed_at",
        )
        .order_by("priority", "created", "id")
    )
    by_room = {r.pk: BoardRoom(room=r, waiting=[], in_progress=[], left_unseen=[]) for r in rooms}
    for visit in active:
        entry = by_room[visit.room_id]
        (entry.waiting if visit.status == VisitStatus.WAITING else entry.in_progress).append(visit)
    left = (
        _left_unseen_since(Visit.objects.for_account(account), now=now)
        .select_related("member")
        .only("account_id", "room_id", "close_reason", "modified", "member__first_name", "member__last_name")
    )
    for visit in left.order_by("-modified", "-id"):
        entry = by_room[visit.room_id]
        if visit.modified >= _local_midnight(now, entry.room.zone):
            entry.left_unseen.append(visit)
    return list(by_room.values())


BOARD_REASON_CHARS = 500  # the board's reason is cut here (Django's truncatechars), the rest behind "more"


def board_row(visit: Visit, *, now: dt.datetime, today: dt.date, room: Room) -> dict:
    """What the clinic board says of one patient, in words (no clinical content). `today` is the room's
    date (computed once per room: each row's zone conversion was a tenth of the board's preparation)."""
    waiting = visit.status == VisitStatus.WAITING
    since = visit.created if waiting or not visit.actual_start else visit.actual_start
    in_status = int((now - since).total_seconds())
    limit = room.max_waiting_time
    if visit.appointment_id:
        kind = "Appointment"
        status = "Arrived, waiting" if waiting else "In progress"
    else:
        kind = visit.get_type_display()
        status = "Waiting" if waiting else "In progress"
    return {
        "visit": visit,
        "pk": visit.pk,
        "patient": visit.member.full_name if visit.member else "Unknown patient",
        "age_sex": patient_age_sex(visit.member, today=today),
        "reason": _cut((visit.intake.reason_for_visit if visit.intake else "") or "No reason given"),
        "kind": kind,
        "status": status,
        "with": visit.provider.display_name if visit.provider and not waiting else "",
        "for": visit.provider.display_name if visit.provider and waiting else "",
        "in_status": format_duration(dt.timedelta(seconds=in_status)),
        "total": format_duration(now - visit.created),
        "long_wait": bool(waiting and limit and in_status >= limit * settings.QUEUE_WAIT_WARNING_FRACTION),
        "urgent": visit.priority == Priority.URGENT,
        "can_requeue": not waiting,
        "confirmed": bool(visit.appointment_id and visit.appointment.confirmed_at),
    }


def _cut(text: str) -> str:
    return text if len(text) <= BOARD_REASON_CHARS else text[: BOARD_REASON_CHARS - 1] + "…"


# --- the clinic admin's visits page -----------------------------------------------------------------


def admin_zone(*, account: Account, room=None) -> zoneinfo.ZoneInfo:
    """The zone the admin's dates are read in: the chosen room's, else the account's."""
    return room.zone if room is not None else account_zone(account=account)


ADMIN_SORTS = {
    "start": ("start", "created"),
    "patient": ("member__last_name", "member__first_name"),
    "room": ("room__code",),
    "provider": ("provider__user__last_name",),
    "type": ("type",),
    "status": ("status",),
}


# Who ended a visit, as the admin filters it: by its close reason.
CLOSED_BY_REASONS = {
    "patient": (
        CloseReason.PATIENT_END_CALL,
        CloseReason.PATIENT_EXIT_ROOM,
        CloseReason.PATIENT_CANCEL_APPOINTMENT,
    ),
    "provider": (
        CloseReason.CALL_ENDED,
        CloseReason.NO_ANSWER,
        CloseReason.EMERGENCY_REFERRAL,
        CloseReason.DUPLICATE,
        CloseReason.PROVIDER_OTHER,
    ),
    "system": (CloseReason.MAX_WAITING_TIME_REACHED,),
    "admin": (CloseReason.FORCE_CANCELLED,),
}


def admin_visit_search(
    *,
    account: Account,
    user: User,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    zone=None,
    room=None,
    provider=None,
    type: int | None = None,
    status: int | None = None,
    patient: str = "",
    closed_by: str = "",
    sort: str = "-start",
) -> QuerySet[Visit]:
    """The clinic admin's search: every visit of the account, dates read in `zone`."""
    if not user.has_perm("visits.view_all_visits"):
        raise NotAllowed("Only clinic admins search all visits.")
    visits = Visit.objects.for_account(account)
    zone = zone or zoneinfo.ZoneInfo("UTC")
    if date_from:
        visits = visits.filter(start__gte=dt.datetime.combine(date_from, dt.time(), tzinfo=zone))
    if date_to:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        visits = visits.filter(start__lt=end)
    if room is not None:
        visits = visits.filter(room=room)
    if provider is not None:
        visits = visits.filter(provider=provider)
    if type:
        visits = visits.filter(type=type)
    if status:
        visits = visits.filter(status=status)
    if closed_by in CLOSED_BY_REASONS:
        visits = visits.filter(close_reason__in=CLOSED_BY_REASONS[closed_by])
    if patient := (patient or "").strip():
        query = Q(member__code__iexact=patient)
        for word in patient.split():
            query |= Q(member__first_name__icontains=word) | Q(member__last_name__icontains=word)
        if len(patient.split()) > 1:
            first, *rest = patient.split()
            query |= Q(member__first_name__icontains=first, member__last_name__icontains=" ".join(rest))
        visits = visits.filter(query)
    key = sort.lstrip("-")
    fields = ADMIN_SORTS.get(key, ADMIN_SORTS["start"])
    descending = sort.startswith("-") if key in ADMIN_SORTS else True
    order = [f"-{f}" if descending else f for f in fields]
    return visits.order_by(*order, "-id")


def recent_downloads(*, account: Account, user: User) -> QuerySet[SummaryDownload]:
    if not user.has_perm("visits.view_all_visits"):
        raise NotAllowed("Only clinic admins see the download log.")
    return SummaryDownload.objects.for_account(account).select_related("user", "visit__member", "visit__room")
