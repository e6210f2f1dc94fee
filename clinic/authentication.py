"""X-AccountCode on every request, with either a user's X-ApiToken or the account's X-ApiKey + X-ApiSecret."""

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from clinic import selectors


class ApiKeyClient(AnonymousUser):
    """The caller when an account's API key and secret were presented without a user token."""

    def __init__(self, credential):
        self.credential = credential


class AccountTokenAuthentication(authentication.BaseAuthentication):
    """A user token decides when one is sent; without one, the account's API key and secret."""

    def authenticate(self, request):
        account = self._account(request)
        if request.headers.get("X-ApiToken", "").strip():
            return self._token(request, account)
        return self._api_key(request, account)

    def _account(self, request):
        code = request.headers.get("X-AccountCode", "").strip()
        if not code:
            raise exceptions.AuthenticationFailed("X-AccountCode header is required.")
        account = selectors.account_by_code(code=code)
        if account is None:
            raise exceptions.AuthenticationFailed("Unknown account code.")
        request._request.account = account
        return account

    def _token(self, request, account):
        api_token = selectors.api_token_valid(account=account, token=request.headers["X-ApiToken"].strip())
        if api_token is None:
            raise exceptions.AuthenticationFailed("Invalid or expired API token.")
        return api_token.user, api_token

    def _api_key(self, request, account):
        key = request.headers.get("X-ApiKey", "").strip()
        secret = request.headers.get("X-ApiSecret", "").strip()
        if not (key or secret):
            return None  # no credentials: the permission class answers 401
        credential = selectors.api_credential_valid(account=account, key=key, secret=secret)
        if credential is None:
            raise exceptions.AuthenticationFailed("Invalid API key or secret.")
        return ApiKeyClient(credential), credential

    def authenticate_header(self, request):
        return 'ApiToken realm="api"'


class ApiKeyFirstAuthentication(AccountTokenAuthentication):
    """For POST /users/sso: the API key and secret decide when they are sent, and an X-ApiToken sent with
    them is ignored, valid or not (VSee's clients send all three, the token often expired)."""

    def authenticate(self, request):
        account = self._account(request)
        if request.headers.get("X-ApiKey", "").strip() or request.headers.get("X-ApiSecret", "").strip():
            return self._api_key(request, account)
        if request.headers.get("X-ApiToken", "").strip():
            return self._token(request, account)
        return None
