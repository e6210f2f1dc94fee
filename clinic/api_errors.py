"""The contract's error envelope: {"code": <status>, "message": "...", "errors": {...}}."""

from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from clinic.errors import ServiceError


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
        return Response(envelope(exc.status_code, exc.message, exc.errors), status=exc.status_code)
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


def _json_or_default(request, status_code: int, message: str, default):
    if request.path.startswith("/api/"):
        return JsonResponse(envelope(status_code, message), status=status_code)
    return default


def handler404(request, exception=None):
    from django.views.defaults import page_not_found

    return _json_or_default(request, 404, "Not found.", None) or page_not_found(request, exception)


def handler500(request):
    from django.views.defaults import server_error

    return _json_or_default(request, 500, "Internal error; it has been logged.", None) or server_error(
        request
    )


def handler403(request, exception=None):
    from django.views.defaults import permission_denied

    return _json_or_default(request, 403, "Not allowed.", None) or permission_denied(request, exception)


def handler400(request, exception=None):
    from django.views.defaults import bad_request

    return _json_or_default(request, 400, "Bad request.", None) or bad_request(request, exception)


__all__ = ["envelope", "exception_handler", "handler400", "handler403", "handler404", "handler500", "status"]
