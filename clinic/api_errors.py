"""The contract's error envelope: {"code": <status>, "message": "...", "errors": {...}}."""

import math
from http import HTTPStatus

from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from clinic.errors import ServiceError, TooManyAttempts


def _first_message(errors) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            msg = _first_message(value)
            return msg if field == "non_field_errors" else f"{field}: {msg}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            k: [str(m) for m in (v if isinstance(v, list) else [v])]
            if not isinstance(v, dict)
            else [_first_message(v)]
            for k, v in detail.items()
        }
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def envelope(status_code: int, message: str, errors: dict | None = None) -> dict:
    body = {"code": status_code, "message": message}
    if errors:
        body["errors"] = errors
    return body


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        response = Response(envelope(exc.status_code, exc.message, exc.errors), status=exc.status_code)
        if isinstance(exc, TooManyAttempts):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait or 1))
        exc = exceptions.Throttled(wait, f"Too many requests: try again in {wait} seconds.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django's 500 handler (JSON on /api/) log and answer
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        response.data = envelope(response.status_code, _first_message(exc.detail), errors)
    else:
        response.data = envelope(
            response.status_code, _first_message(response.data.get("detail", response.data))
        )
    return response


_MESSAGES = {
    400: "Bad request.",
    403: "Not allowed.",
    404: "Not found.",
    500: "Internal error; it has been logged.",
}


def error_response(status_code: int) -> JsonResponse:
    """The envelope for an error no view worded (Django's own 404/405/500 and the like)."""
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Error"
    message = _MESSAGES.get(status_code, f"{phrase}.")
    return JsonResponse(envelope(status_code, message), status=status_code)


def handler404(request, exception=None):
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return error_response(404)
    return page_not_found(request, exception)


def handler500(request):
    import sys

    from django.db import InterfaceError, OperationalError
    from django.views.defaults import server_error

    # Django calls this inside its except block: a database that failed in a middleware (the session,
    # the user) is an outage too, not a bug.
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return service_unavailable(request, "The database is unavailable.")
    if request.path.startswith("/api/"):
        return error_response(500)
    return server_error(request)


def handler403(request, exception=None):
    from django.views.defaults import permission_denied

    if request.path.startswith("/api/"):
        return error_response(403)
    return permission_denied(request, exception)


def handler400(request, exception=None):
    from django.views.defaults import bad_request

    if request.path.startswith("/api/"):
        return error_response(400)
    return bad_request(request, exception)


def service_unavailable(request, message: str):
    """503 with Retry-After. The page is rendered without the request: the user, the session and the
    site's frame may all need the dependency that is down."""
    from django.conf import settings
    from django.http import HttpResponse, JsonResponse
    from django.template.loader import render_to_string

    if request.path.startswith("/api/"):
        response = JsonResponse(envelope(503, message), status=503)
    else:
        html = render_to_string("503.html", {"message": message, "retry_url": request.path})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(settings.OUTAGE_RETRY_AFTER)
    return response


__all__ = [
    "envelope",
    "error_response",
    "exception_handler",
    "handler400",
    "handler403",
    "handler404",
    "handler500",
    "service_unavailable",
    "status",
]
