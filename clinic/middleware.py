import logging

log = logging.getLogger(__name__)


class ApiJsonSuffixMiddleware:
    """The contract accepts a trailing `.json` on any API path (`/api/v3/intakes.json`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/") and request.path_info.endswith(".json"):
            request.path_info = request.path_info[: -len(".json")]
        return self.get_response(request)


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


def service_unavailable(request, message: str):
    """503 with Retry-After. The page is rendered without the request: the user, the session and the
    site's frame may all need the dependency that is down."""
    from django.conf import settings
    from django.http import HttpResponse, JsonResponse
    from django.template.loader import render_to_string

    from clinic.api_errors import envelope

    if request.path.startswith("/api/"):
        response = JsonResponse(envelope(503, message), status=503)
    else:
        html = render_to_string("503.html", {"message": message, "retry_url": request.path})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(settings.OUTAGE_RETRY_AFTER)
    return response
