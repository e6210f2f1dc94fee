import datetime as dt
import secrets

import phonenumbers
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.errors import InvalidInput, NotAllowed
from clinic.models import Account, ApiCredential, ApiToken, Member, Provider, User
from clinic.selectors import digest
from clinic.signals import user_created

VSEE_GENDER_CODES = {"1": Member.Gender.MALE, "2": Member.Gender.FEMALE, "3": Member.Gender.OTHER}
SSO_MEMBER, SSO_PROVIDER = 200, 400


def phone_normalise(*, raw: str, field: str = "phone") -> str:
    """E.164, reading numbers without a country code as US ones."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidInput.field(field, f"{raw!r} is not a phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def api_token_issue(*, user: User) -> dict:
    """A new access token and refresh token for `user`; the clear values exist only in the answer."""
    now = timezone.now()
    token, refresh = secrets.token_hex(16), secrets.token_hex(32)
    record = ApiToken.objects.create(
        user=user,
        token_digest=digest(token),
        expires=now + dt.timedelta(seconds=settings.API_TOKEN_LIFETIME),
        refresh_digest=digest(refresh),
        refresh_expires=now + dt.timedelta(seconds=settings.API_REFRESH_TOKEN_LIFETIME),
    )
    return {
        "token": token,
        "expiry": int(record.expires.timestamp()),
        "refresh_token": {"token": refresh, "expiry": int(record.refresh_expires.timestamp())},
    }


@transaction.atomic
def api_token_refresh(*, account: Account, refresh_token: str) -> tuple[User, dict]:
    """Exchange a refresh token for a new pair; the old pair is revoked so a stolen refresh works once."""
    now = timezone.now()
    old = (
        ApiToken.objects.select_for_update()
        .select_related("user")
        .filter(
            refresh_digest=digest(refresh_token),
            user__account=account,
            revoked__isnull=True,
            refresh_expires__gt=now,
            user__is_active=True,
        )
        .first()
    )
    if old is None:
        raise NotAllowed(
            "Invalid or expired refresh token.", errors={"refresh_token": ["Invalid or expired."]}
        )
    ApiToken.objects.filter(pk=old.pk).update(revoked=now)
    return old.user, api_token_issue(user=old.user)


def user_login(*, account: Account, username: str, password: str) -> tuple[User, dict]:
    user = authenticate(account=account, username=username, password=password)
    if user is None:
        raise NotAllowed("Wrong username or password.")
    return user, api_token_issue(user=user)


def api_credential_issue(*, account: Account, label: str = "") -> tuple[str, str]:
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    ApiCredential.objects.create(account=account, key=key, secret_digest=digest(secret), label=label)
    return key, secret


def _sso_username(code: str) -> str:
    return "sso." + digest(code)[:24]


def user_sso(
    *,
    account: Account,
    code: str,
    first_name: str,
    last_name: str,
    type: int = SSO_MEMBER,
    dob: dt.date | None = None,
    email: str = "",
    gender: str = "",
    state: str = "",
    phone: str = "",
    street_addr: str = "",
) -> tuple[User, dict]:
    """Create or update the user the caller knows as `code`, and give it a token (idempotent by code)."""
    gender = VSEE_GENDER_CODES.get(str(gender), gender)
    phone = phone_normalise(raw=phone)
    profile = {"first_name": first_name, "last_name": last_name}
    for attempt in range(2):
        try:
            with transaction.atomic():
                user, created = _user_sso_upsert(account=account, code=code, kind=type, profile=profile)
                if type == SSO_PROVIDER:
                    Provider.objects.get_or_create(user=user, defaults={"account": account})
                else:
                    member_fields = {
                        **profile,
                        "dob": dob,
                        "email": email,
                        "gender": gender,
                        "state": state.upper(),
                        "phone": phone,
                        "street_addr": street_addr,
                        "user": user,
                    }
                    Member.objects.update_or_create(account=account, code=code, defaults=member_fields)
                if created:
                    user_created.send(sender=User, user=user)
                return user, api_token_issue(user=user)
        except IntegrityError:
            if attempt:  # the second try sees the row the concurrent call created
                raise
    raise AssertionError("unreachable")


def _user_sso_upsert(*, account: Account, code: str, kind: int, profile: dict) -> tuple[User, bool]:
    user = User.objects.select_for_update().filter(account=account, external_code=code).first()
    created = user is None
    if created:
        user = User(account=account, external_code=code, username=_sso_username(code))
        user.set_unusable_password()
    elif user.is_member if kind == SSO_PROVIDER else user.is_provider:
        raise InvalidInput.field("type", "This code already belongs to a user of another type.")
    for field, value in profile.items():
        setattr(user, field, value)
    user.save()
    return user, created


@transaction.atomic
def member_create(*, account: Account, code: str, first_name: str, last_name: str, **fields) -> Member:
    """A patient the staff enter. They get a user at once (no password: they cannot log in until SSO or
    an invitation gives them a way), so that every person has one id, the one SSO would return."""
    if Member.objects.for_account(account).filter(code=code).exists():
        raise InvalidInput.field("code", f"A patient with code {code!r} already exists.")
    if User.objects.filter(account=account, external_code=code).exists():
        raise InvalidInput.field("code", f"The code {code!r} belongs to another person of the clinic.")
    if "phone" in fields:
        fields["phone"] = phone_normalise(raw=fields["phone"])
    user = User(
        account=account,
        external_code=code,
        username=_sso_username(code),
        first_name=first_name,
        last_name=last_name,
    )
    user.set_unusable_password()
    user.save()
    return Member.objects.create(
        account=account, user=user, code=code, first_name=first_name, last_name=last_name, **fields
    )
