import hashlib
import hmac
import zoneinfo

from django.db.models import Count, QuerySet
from django.utils import timezone

from clinic.errors import NotFound
from clinic.models import Account, ApiCredential, ApiToken, Member, Provider, Room


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
    member = Member.objects.for_account(account).filter(code=code).first()
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
