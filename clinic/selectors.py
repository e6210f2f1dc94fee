import dataclasses
import datetime as dt
import hashlib
import hmac
import zoneinfo

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from clinic.errors import NotAllowed, NotFound
from clinic.lockout import login_key_parts
from clinic.models import Account, ApiCredential, ApiToken, Member, Provider, Room, User, UserType


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def account_by_code(*, code: str) -> Account | None:
    return Account.objects.filter(code=code).first()


def api_token_valid(*, account: Account, token: str) -> ApiToken | None:
    return (
        ApiToken.objects.select_related("user__provider", "user__member")
        .filter(
            token_digest=digest(token),
            revoked__isnull=True,
            expires__gt=timezone.now(),
            user__account=account,
            user__is_active=True,
        )
        .first()
    )


def api_credential_valid(*, account: Account, key: str, secret: str) -> ApiCredential | None:
    credential = ApiCredential.objects.filter(account=account, key=key, revoked__isnull=True).first()
    if credential is None or not hmac.compare_digest(credential.secret_digest, digest(secret)):
        return None
    return credential


def room_get(*, account: Account, code: str, rooms: QuerySet[Room] | None = None) -> Room:
    room = (Room.objects.all() if rooms is None else rooms).for_account(account).filter(code=code).first()
    if room is None:
        raise NotFound(f"Room {code!r} not found.", errors={"room_code": ["No such room in this account."]})
    return room


def room_detail(*, account: Account, code: str) -> Room:
    return room_get(
        account=account, code=code, rooms=Room.objects.prefetch_related("providers", "consultations")
    )


def provider_for_person(*, account: Account, person_id) -> Provider:
    """The provider whose person id (their user's id, the `id` SSO and login return, and `provider.id`
    on visits) is `person_id`. The API speaks person ids; services and pages use the provider's row."""
    provider = (
        Provider.objects.for_account(account)
        .select_related("user")
        .filter(user_id=_as_int(person_id))
        .first()
    )
    if provider is None:
        raise NotFound(f"Provider {person_id} not found.", errors={"provider_id": ["No such provider."]})
    return provider


def account_zone(*, account: Account) -> zoneinfo.ZoneInfo:
    """The zone a clinic's dates are read in: the one most of its rooms use (usually all of them)."""
    common = (
        Room.objects.for_account(account)
        .values("time_zone")
        .annotate(n=Count("pk"))
        .order_by("-n", "time_zone")
        .first()
    )
    return zoneinfo.ZoneInfo(common["time_zone"] if common else "UTC")


def provider_get(*, account: Account, provider_id) -> Provider:
    provider = (
        Provider.objects.for_account(account).select_related("user").filter(pk=_as_int(provider_id)).first()
    )
    if provider is None:
        raise NotFound(f"Provider {provider_id} not found.", errors={"provider_id": ["No such provider."]})
    return provider


def member_by_code(*, account: Account, code: str) -> Member:
    """The patient whose code is `code` or, failing that, whose person id (their user's id, the `id`
    SSO returns and `member.id` shows) it is."""
    members = Member.objects.for_account(account)
    member = members.filter(code=code).first()
    if member is None and str(code).isdigit() and len(str(code)) < 19:
        member = members.filter(user_id=int(code)).first()
    if member is None:
        raise NotFound(
            f"Member {code!r} not found.", errors={"member_id": ["No such member in this account."]}
        )
    return member


def _as_int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def account_public(*, code: str) -> Account:
    """GET /accounts/:code, public: the account, with the rooms that take walk-ins now."""
    walkin_rooms = Room.objects.filter(walkins_enabled=True, is_open=True).order_by("code")
    account = (
        Account.objects.filter(code=code)
        .prefetch_related(Prefetch("rooms", queryset=walkin_rooms, to_attr="walkin_rooms"))
        .first()
    )
    if account is None:
        raise NotFound("Account not found.")
    return account


# --- users (GET /users, GET /users/:id) -----------------------------------------------------------------


def _is_staff(user: User) -> bool:
    return user.is_provider or user.has_perm("visits.view_visit")


def _users_visible(*, account: Account, viewer: User) -> QuerySet[User]:
    """Staff see the clinic's staff and providers; patients (and guests) only those who may see patients
    (front desk, clinic admins: clinic.view_member)."""
    if not _is_staff(viewer):
        raise NotAllowed("Only the clinic's staff may look up users.")
    users = User.objects.for_account(account).filter(is_active=True).select_related("provider", "member")
    if not viewer.has_perm("clinic.view_member"):
        users = users.filter(member__isnull=True, is_guest=False)
    return users


_TYPE_FILTERS = {
    UserType.MEMBER: Q(member__isnull=False, is_guest=False),
    UserType.STAFF: Q(member__isnull=True, provider__isnull=True, is_guest=False),
    UserType.PROVIDER: Q(provider__isnull=False),
    UserType.GUEST: Q(is_guest=True),
}


def users_list(
    *, account: Account, viewer: User, q: str = "", type: int | None = None, room_code: str = ""
) -> QuerySet[User]:
    """`q` matches names, username and codes; `room_code` keeps the providers working in that room."""
    users = _users_visible(account=account, viewer=viewer)
    if q:
        users = users.filter(
            Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(username__icontains=q)
            | Q(external_code__icontains=q)
            | Q(member__code__icontains=q)
        )
    if type is not None:
        users = users.filter(_TYPE_FILTERS[type])
    if room_code:
        users = users.filter(provider__rooms=room_get(account=account, code=room_code))
    return users.order_by("last_name", "first_name", "pk")


def user_get(*, account: Account, viewer: User, user_id) -> User:
    """One user: oneself, or one the viewer may list; anyone else is "not found", as a missing one is."""
    if _as_int(user_id) == viewer.pk:
        return viewer
    user = _users_visible(account=account, viewer=viewer).filter(pk=_as_int(user_id)).first()
    if user is None:
        raise NotFound("User not found.", errors={"id": ["No such user in this account."]})
    return user


# --- login lockouts (django-axes' records) -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LockoutRow:
    attempt_id: int
    username: str
    user_name: str | None  # None: no such user in the clinic (a mistyped or guessed username)
    address: str | None
    failures: int
    last_attempt: dt.datetime
    user_locked: bool
    address_locked: bool
    locked_until: dt.datetime | None


def login_lockout_rows(*, account: Account) -> QuerySet[AccessAttempt]:
    """The failed logins of the clinic's users still counted by the lockout (newer than its period)."""
    return AccessAttempt.objects.filter(
        username__startswith=f"{account.code}+",
        attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME,
    )


def login_lockouts(*, account: Account) -> list[LockoutRow]:
    attempts = list(login_lockout_rows(account=account).order_by("-attempt_time"))
    if not attempts:
        return []
    recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)
    by_user = dict(
        recent.filter(username__in={a.username for a in attempts})
        .values_list("username")
        .annotate(total=Sum("failures_since_start"))
    )
    by_address = dict(
        recent.filter(ip_address__in={a.ip_address for a in attempts})
        .values_list("ip_address")
        .annotate(total=Sum("failures_since_start"))
    )
    usernames = [login_key_parts(a.username)[1] for a in attempts]
    names = {
        u.username: u.get_full_name() or u.username
        for u in User.objects.for_account(account).filter(username__in=usernames)
    }
    limit = settings.AXES_FAILURE_LIMIT
    rows = []
    for attempt, username in zip(attempts, usernames, strict=True):
        user_locked = by_user.get(attempt.username, 0) >= limit
        address_locked = by_address.get(attempt.ip_address, 0) >= limit
        rows.append(
            LockoutRow(
                attempt_id=attempt.pk,
                username=username,
                user_name=names.get(username),
                address=attempt.ip_address,
                failures=attempt.failures_since_start,
                last_attempt=attempt.attempt_time,
                user_locked=user_locked,
                address_locked=address_locked,
                locked_until=attempt.attempt_time + settings.AXES_COOLOFF_TIME
                if user_locked or address_locked
                else None,
            )
        )
    return sorted(rows, key=lambda row: not (row.user_locked or row.address_locked))
