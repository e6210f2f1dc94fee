import logging
import time

from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers

from clinic import session_limits
from clinic.api_errors import envelope, error_response, handler400, service_unavailable
from clinic.http import login_redirect

log = logging.getLogger(__name__)


class ApiJsonSuffixMiddleware:
    """The contract accepts a trailing `.json` on any API path (`/api/v3/intakes.json`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/") and request.path_info.endswith(".json"):
            request.path_info = request.path_info[: -len(".json")]
        return self.get_response(request)


def _nul_carrier(request) -> str | None:
    """The part of the request (outside the body: the parsers check that) that carries a NUL."""
    if "\x00" in request.path_info:
        return "path"
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return key.replace("\x00", "") or "query"
    for name, value in request.headers.items():
        if "\x00" in value:
            return name
    return None


class ApiErrorMiddleware:
    """No request carrying a NUL character gets past here (PostgreSQL cannot store one, and the login
    lockout records headers); and on /api/ every answer is JSON: an error page Django rendered itself
    (unknown path, wrong method, a crash; in DEBUG its debug pages) becomes the contract's envelope."""

    kept_headers = ("Allow", "Retry-After", "WWW-Authenticate")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = request.path_info.startswith("/api/")
        carrier = _nul_carrier(request)
        if carrier is not None:
            if not api:
                return handler400(request)
            problem = "Must not contain NUL characters."
            return JsonResponse(envelope(400, f"{carrier}: {problem}", {carrier: [problem]}), status=400)
        response = self.get_response(request)
        if api and response.status_code >= 400 and "json" not in response.get("Content-Type", ""):
            replacement = error_response(response.status_code)
            for header in self.kept_headers:
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response


class SessionTimeoutMiddleware:
    """Staff sessions end after SESSION_IDLE_TIMEOUT without a request the user made and, in any case,
    SESSION_ABSOLUTE_LIFETIME after logging in. Requests the page makes by itself (polls, sent with
    X-Background by static/js/session.js) do not count as activity."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/") or not request.user.is_authenticated:
            return self.get_response(request)
        now = time.time()
        ended = session_limits.ended(request.session, now)
        if ended is not None:
            logout(request)
            messages.info(request, ended)
            return login_redirect(request)
        if not session_limits.is_background(request):
            session_limits.touch(request.session, now)
        return self.get_response(request)


class NoStoreMiddleware:
    """No browser or proxy cache keeps a copy of an API answer or of anything a logged-in user was
    shown: they carry patient data."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith("/api/") or request.user.is_authenticated:
            add_never_cache_headers(response)
        return response


class ServiceErrorMiddleware:
    """A service error a page view did not handle answers as Django's own 404/403/400 pages would,
    never a 500. (The API turns them into the contract's envelope before they get here.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.core.exceptions import BadRequest, PermissionDenied
        from django.http import Http404

        from clinic.errors import NotAllowed, NotFound, ServiceError

        if isinstance(exception, NotFound):
            raise Http404(exception.message) from exception
        if isinstance(exception, NotAllowed):
            raise PermissionDenied(exception.message) from exception
        if isinstance(exception, ServiceError):
            raise BadRequest(exception.message) from exception
        return None


class DatabaseOutageMiddleware:
    """A database that cannot be reached (down, restarting, out of connections) answers 503 with
    Retry-After, the contract's envelope on /api/ and a page elsewhere, instead of a 500 or Django's
    debug page. The dashboard's polling then shows "reconnecting" by itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import InterfaceError, OperationalError

        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.warning("Database unavailable for %s %s: %r", request.method, request.path, exception)
        return service_unavailable(request, "The database is unavailable.")
