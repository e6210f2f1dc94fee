"""Which API calls are rate limited, and per whom. One throttle class (REST_FRAMEWORK's default) reads
this table, so the views need no wiring; the rates are the API_THROTTLE_RATES setting. Counts live in
the default cache: Redis in production (CACHE_URL), so that every web process shares them."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from clinic.authentication import ApiKeyClient
from clinic.client_address import client_address

# url name -> (method, rate name, counted per). "api_key": only calls made with the account's API key
# and no user token are counted, per key; "user": per user; "address": per client address.
LIMITED_CALLS = {
    "users-sso": ("POST", "sso", "api_key"),
    "availability": ("GET", "availability", "api_key"),
    "files": ("POST", "upload", "user"),
    "account-detail": ("GET", "account_lookup", "address"),
}


class ApiRateThrottle(SimpleRateThrottle):
    def __init__(self):
        # The rate depends on the call: it is read in allow_request, from the settings of the moment.
        self.rate = None

    def allow_request(self, request, view):
        match = request.resolver_match
        limited = LIMITED_CALLS.get(match.url_name if match else None)
        if limited is None or request.method != limited[0]:
            return True
        _, self.scope, self.counted_per = limited
        self.rate = settings.API_THROTTLE_RATES[self.scope]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if self.counted_per == "api_key":
            if not isinstance(request.user, ApiKeyClient):
                return None
            ident = f"key{request.user.credential.pk}"
        elif self.counted_per == "user":
            if not request.user.is_authenticated:
                return None
            ident = f"user{request.user.pk}"
        else:
            ident = client_address(request) or "unknown"
        return self.cache_format % {"scope": self.scope, "ident": ident}
