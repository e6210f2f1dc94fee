"""X-AccountCode on every request, with either a user's X-ApiToken or the account's X-ApiKey + X-ApiSecret."""

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from clinic import selectors


class ApiKeyClient(AnonymousUser):
    """The caller when an account's API key and secret were presented without a user token."""

    def __init__(self, credential):
        self.credential = credential


class AccountTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        code = request.headers.get("X-AccountCode", "").strip()
        if not code:
            raise exceptions.AuthenticationFailed("X-AccountCode header is required.")
        account = selectors.account_by_code(code=code)
        if account is None:
            raise exceptions.AuthenticationFailed("Unknown account code.")
        request._request.account = account

        token = request.headers.get("X-ApiToken", "").strip()
        if token:
            api_token = selectors.api_token_valid(account=account, token=token)
            if api_token is None:
                raise exceptions.AuthenticationFailed("Invalid or expired API token.")
            return api_token.user, api_token

        key = request.headers.get("X-ApiKey", "").strip()
        secret = request.headers.get("X-ApiSecret", "").strip()
        if key or secret:
            credential = selectors.api_credential_valid(account=account, key=key, secret=secret)
            if credential is None:
                raise exceptions.AuthenticationFailed("Invalid API key or secret.")
            return ApiKeyClient(credential), credential
        return None  # no credentials: the permission class answers 401

    def authenticate_header(self, request):
        return 'ApiToken realm="api"'
