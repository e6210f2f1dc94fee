from rest_framework.permissions import BasePermission

from clinic.authentication import ApiKeyClient


class IsAccountUser(BasePermission):
    """A user token of the account named by X-AccountCode (the authentication already matched them)."""

    message = "An X-ApiToken is required."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and getattr(request, "account", None))


class IsApiKeyClient(BasePermission):
    message = "X-ApiKey and X-ApiSecret are required."

    def has_permission(self, request, view):
        return isinstance(request.user, ApiKeyClient)


class IsAccountUserOrApiKeyClient(BasePermission):
    message = "An X-ApiToken, or X-ApiKey and X-ApiSecret, are required."

    def has_permission(self, request, view):
        return IsAccountUser().has_permission(request, view) or isinstance(request.user, ApiKeyClient)
