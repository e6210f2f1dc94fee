"""Which API calls are rate limited, and per whom. One throttle class (REST_FRAMEWORK's default) reads
this table, so the views need no wiring; the rates are the API_THROTTLE_RATES setting. Counts live in
the default cache: Redis in production (CACHE_URL), so that every web process shares them."""

import functools
import time

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.utils.cache import add_never_cache_headers
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


# --- pages reached without a login through a secret in their URL (patients' links, calendar feeds) ------


def _window(rate: str) -> tuple[int, int]:
    number, period = rate.split("/")
    return int(number), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


def _count_miss(key: str, seconds: int) -> None:
    if not cache.add(key, 1, seconds):
        cache.incr(key)


def secret_url_page(view):
    """A page whose URL's secret is the only credential. Guesses are limited: an address whose unknown
    secrets (404) pass PUBLIC_PAGE_MISS_RATE is refused (429) until the window ends, whatever it asks,
    while a right secret never counts (a calendar service polls many feeds from one address). Nothing is
    kept by a cache. (Referrer-Policy stays the site's same-origin: no other site gets the URL, and
    no-referrer would make browsers send `Origin: null`, which fails the CSRF check of the page's form.)"""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        allowed, seconds = _window(settings.PUBLIC_PAGE_MISS_RATE)
        key = f"secret-url-miss:{client_address(request) or 'unknown'}:{int(time.time() // seconds)}"
        if (cache.get(key) or 0) >= allowed:
            response = HttpResponse(
                "Too many links that do not work: please wait a minute, then try again.",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(seconds)
        else:
            try:
                response = view(request, *args, **kwargs)
            except Http404:
                _count_miss(key, seconds)
                raise
            if response.status_code == 404:
                _count_miss(key, seconds)
        add_never_cache_headers(response)
        response["X-Robots-Tag"] = "noindex"
        return response

    return wrapped
