import datetime as dt
import uuid

from django.db.models import Q, QuerySet

from clinic.errors import NotFound
from clinic.models import Account, User
from visits.models import Intake, Visit, VisitStatus


def _as_int(value) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def is_staff_user(user: User) -> bool:
    """Front desk and clinic admins: they see every visit of their account."""
    return user.has_perm("visits.book_appointment") or user.has_perm("visits.view_all_visits")


def visits_visible_to(*, account: Account, user: User) -> QuerySet[Visit]:
    visits = Visit.objects.for_account(account)
    if is_staff_user(user):
        return visits
    if user.is_provider:
        provider = user.provider
        # Their own visits, and anything waiting in their rooms' queues (they may accept it).
        return visits.filter(
            Q(provider=provider) | Q(room__in=provider.rooms.all(), status=VisitStatus.WAITING)
        )
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
        .prefetch_related("attachments")
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
