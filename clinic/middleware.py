class ApiJsonSuffixMiddleware:
    """The contract accepts a trailing `.json` on any API path (`/api/v3/intakes.json`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/") and request.path_info.endswith(".json"):
            request.path_info = request.path_info[: -len(".json")]
        return self.get_response(request)
