"""django-axes, fitted to logins that name a clinic: usernames are unique per account, so a lockout is
keyed on "<account code>+<username>" ("+<username>" for site users without an account), never on the
bare username another clinic may also use."""

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse

from clinic.models import Account


def login_key(request, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the credentials are those given to authenticate()."""
    if credentials is None:  # axes reading a login form it did not see through authenticate()
        data = getattr(request, "data", None) or request.POST
        credentials = {"username": data.get("username"), "account": data.get("account")}
    username = credentials.get("username")
    if username is None:
        return None
    account = credentials.get("account")
    code = account.code if isinstance(account, Account) else str(account or "").strip()
    return f"{code}+{username}"


def login_key_parts(key: str) -> tuple[str, str]:
    """(account code, username); account codes never contain "+", usernames may."""
    code, _, username = key.partition("+")
    return code, username


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_message() -> str:
    minutes = max(1, round(lockout_seconds() / 60))
    return (
        f"Too many failed logins: logging in is locked for {minutes} minutes. "
        "A clinic admin can unlock it sooner."
    )


def is_locked_out(request) -> bool:
    """True when axes refused (or has just locked) the login attempted with this request."""
    return bool(getattr(request, "axes_locked_out", False))


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the API answers in its envelope; the login pages keep the page they
    rendered (their form shows lockout_message() as its error), with the status changed."""
    if request.path.startswith("/api/"):
        from clinic.api_errors import envelope  # here: api_errors imports DRF, which imports our auth

        response = JsonResponse(envelope(429, lockout_message()), status=429)
    elif original_response is not None:
        response = original_response
        response.status_code = 429
    else:
        response = HttpResponse(lockout_message(), status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(lockout_seconds())
    return response


class AdminLoginForm(AdminAuthenticationForm):
    """/admin/'s login form, saying "locked" instead of "wrong password" during a lockout."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if is_locked_out(self.request):
                raise ValidationError(lockout_message(), code="locked_out") from None
            raise
