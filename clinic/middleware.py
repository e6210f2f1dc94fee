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
