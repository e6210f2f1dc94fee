import datetime as dt
import logging
import secrets
import uuid

import phonenumbers
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic import lockout
from clinic.errors import InvalidInput, NotAllowed, NotFound, TooManyAttempts
from clinic.models import Account, ApiCredential, ApiToken, Member, Provider, User, UserType
from clinic.selectors import digest, login_lockout_rows
from clinic.signals import user_created

logger = logging.getLogger(__name__)

VSEE_GENDER_CODES = {"1": Member.Gender.MALE, "2": Member.Gender.FEMALE, "3": Member.Gender.OTHER}
# The user types SSO creates.
SSO_MEMBER, SSO_PROVIDER, SSO_GUEST = UserType.MEMBER, UserType.PROVIDER, UserType.GUEST


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


def api_token_issue(*, user: User, family: uuid.UUID | None = None) -> dict:
    """A new access token and refresh token for `user`; the clear values exist only in the answer.
    A new login starts a family of its own; a refresh continues the family of the pair it replaces."""
    now = timezone.now()
    token, refresh = secrets.token_hex(16), secrets.token_hex(32)
    record = ApiToken.objects.create(
        user=user,
        family=family or uuid.uuid4(),
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


def api_token_refresh(*, account: Account, refresh_token: str) -> tuple[User, dict]:
    """Exchange a refresh token for a new pair of the same family; the old pair is revoked, so a refresh
    token works once. Presented again, it was stolen or replayed: the whole family is revoked, the
    legitimate holder's current pair included, and its owner has to log in again."""
    now = timezone.now()
    refused = NotAllowed(
        "Invalid or expired refresh token.", errors={"refresh_token": ["Invalid or expired."]}
    )
    with transaction.atomic():
        old = (
            ApiToken.objects.select_for_update()
            .select_related("user")
            .filter(refresh_digest=digest(refresh_token), user__account=account)
            .first()
        )
        if old is None or old.refresh_expires <= now or not old.user.is_active:
            raise refused
        if old.revoked is None:
            ApiToken.objects.filter(pk=old.pk).update(revoked=now)
            return old.user, api_token_issue(user=old.user, family=old.family)
        revoked = ApiToken.objects.filter(family=old.family, revoked__isnull=True).update(revoked=now)
    # Committed above: the refusal must not roll the family's revocation back.
    logger.warning(
        "A used refresh token of user %s was presented again: %d token(s) of its family revoked.",
        old.user_id,
        revoked,
    )
    raise refused


def api_token_revoke(*, token: ApiToken) -> None:
    """POST /users/logout: the pair the caller used stops working (the user's other sessions go on)."""
    ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=timezone.now())


def user_login(*, request, account: Account, username: str, password: str) -> tuple[User, dict]:
    """`request` goes to authenticate() for the login lockout (django-axes): it counts the failures by
    user and by address, and refuses a locked login before the password is checked."""
    user = authenticate(request, account=account, username=username, password=password)
    if user is None:
        if lockout.is_locked_out(request):
            raise TooManyAttempts(lockout.lockout_message(), retry_after=lockout.lockout_seconds())
        raise NotAllowed("Wrong username or password.")
    return user, api_token_issue(user=user)


def api_credential_issue(*, account: Account, label: str = "") -> tuple[str, str]:
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    ApiCredential.objects.create(account=account, key=key, secret_digest=digest(secret), label=label)
    return key, secret


def _sso_username(code: str) -> str:
    return "sso." + digest(code)[:24]


# SSO's member fields beside the names; only those sent are changed.
SSO_MEMBER_FIELDS = ("dob", "email", "gender", "state", "phone", "street_addr")


def user_sso(
    *, account: Account, first_name: str, last_name: str, code: str = "", type: int = SSO_MEMBER, **fields
) -> tuple[User, dict]:
    """Create or update the user the caller knows as `code`, and give it a token (idempotent by code).

    Only the fields sent are written: an update never clears what it was not given, and the user's other
    tokens keep working. A patient the clinic already has under that code keeps its user (and so its
    tokens). A guest (type 600) is a one-time patient: without a code, each call makes a new one."""
    if not code:
        if type != SSO_GUEST:
            raise InvalidInput.field("code", "This field is required.")
        code = f"guest-{uuid.uuid4().hex}"
    member_fields = {name: fields[name] for name in SSO_MEMBER_FIELDS if name in fields}
    if "gender" in member_fields:
        member_fields["gender"] = VSEE_GENDER_CODES.get(str(member_fields["gender"]), member_fields["gender"])
    if "phone" in member_fields:
        member_fields["phone"] = phone_normalise(raw=member_fields["phone"])
    if "state" in member_fields:
        member_fields["state"] = member_fields["state"].upper()
    profile = {"first_name": first_name, "last_name": last_name}
    for attempt in range(2):
        try:
            with transaction.atomic():
                user, created = _user_sso_upsert(account=account, code=code, kind=type, profile=profile)
                if type == SSO_PROVIDER:
                    Provider.objects.get_or_create(user=user, defaults={"account": account})
                else:
                    _member_sso_upsert(
                        account=account, code=code, user=user, fields={**profile, **member_fields}
                    )
                if created:
                    user_created.send(sender=User, user=user)
                return user, api_token_issue(user=user)
        except IntegrityError:
            if attempt:  # the second try sees the row the concurrent call created
                raise
    raise AssertionError("unreachable")


def _user_sso_upsert(*, account: Account, code: str, kind: int, profile: dict) -> tuple[User, bool]:
    user = User.objects.select_for_update().filter(account=account, external_code=code).first()
    if user is None and kind != SSO_PROVIDER:
        # A patient the clinic registered itself (no external code yet): SSO takes over that user.
        member = Member.objects.for_account(account).filter(code=code, user__isnull=False).first()
        if member is not None:
            user = User.objects.select_for_update().get(pk=member.user_id)
            if user.external_code and user.external_code != code:
                raise InvalidInput.field("code", "This patient's user is known under another code.")
            user.external_code = code
    created = user is None
    if created:
        user = User(
            account=account, external_code=code, username=_sso_username(code), is_guest=kind == SSO_GUEST
        )
        user.set_unusable_password()
    elif (kind == SSO_PROVIDER) != user.is_provider or (kind == SSO_GUEST) != user.is_guest:
        raise InvalidInput.field("type", "This code already belongs to a user of another type.")
    for field, value in profile.items():
        setattr(user, field, value)
    user.save()
    return user, created


def _member_sso_upsert(*, account: Account, code: str, user: User, fields: dict) -> Member:
    member = Member.objects.select_for_update().filter(account=account, code=code).first()
    if member is None:
        return Member.objects.create(account=account, code=code, user=user, **fields)
    changed = [name for name, value in fields.items() if getattr(member, name) != value]
    for name in changed:
        setattr(member, name, fields[name])
    if member.user_id != user.pk:
        member.user = user
        changed.append("user")
    if changed:
        member.save(update_fields=[*changed, "modified"])
    return member


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


def login_lockout_clear(*, account: Account, actor: User, attempt_id: str) -> str:
    """A clinic admin clears a lockout: the failures counted against that login, and those from the
    same address against the clinic's logins. Returns who can log in again, in words."""
    if actor.account_id != account.pk or not actor.has_perm("clinic.unlock_login"):
        raise NotAllowed("Only a clinic admin may clear login lockouts.")
    rows = login_lockout_rows(account=account)
    attempt = rows.filter(pk=int(attempt_id) if attempt_id.isdigit() else -1).first()
    if attempt is None:
        raise NotFound("No such failed login (it may have expired already).")
    cleared, _ = (
        rows.filter(username=attempt.username) | rows.filter(ip_address=attempt.ip_address)
    ).delete()
    _, username = lockout.login_key_parts(attempt.username)
    logger.info(
        "Login lockout of %r (from %s) cleared by user %s: %d record(s).",
        attempt.username,
        attempt.ip_address,
        actor.pk,
        cleared,
    )
    user = User.objects.for_account(account).filter(username=username).first()
    return (user.get_full_name() or username) if user else username
