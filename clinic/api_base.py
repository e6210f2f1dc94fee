"""Shared pieces of the v3 API: the `data` wrapper, paging and UNIX-seconds timestamps."""

import datetime as dt

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import audit
from clinic.selectors import provider_for_person

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


def ok(data, status: int = 200, **extra) -> Response:
    return Response({"data": data, **extra}, status=status)


def envelope(name: str, inner, many: bool = False):
    """The schema of `{"data": ...}` around a serializer, for drf-spectacular."""
    return inline_serializer(name=name, fields={"data": inner(many=many) if many else inner()})


# Past any real list, and small enough that the row offset stays inside PostgreSQL's bigint.
MAX_PAGE = 1_000_000


class PageParams(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=1)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


def paged(request, queryset, serializer_class, context=None, audit_action: str | None = None) -> Response:
    """One page of `queryset`. With `audit_action`, the page's rows are recorded in the audit trail (one
    insert): lists of patient data pass it."""
    params = PageParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    page, limit = params.validated_data["page"], params.validated_data["limit"]
    total = queryset.count()
    rows = queryset[(page - 1) * limit : page * limit]
    if audit_action:
        rows = list(rows)
        audit.audit_record_many(request, audit_action, rows)
    data = serializer_class(rows, many=True, context=context or {"request": request}).data
    return Response({"data": data, "total_count": total, "page": page, "limit": limit})


def to_unix(value: dt.datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


@extend_schema_field(OpenApiTypes.INT)
class UnixTimestampField(serializers.Field):
    """UNIX seconds on the wire, aware UTC datetimes inside."""

    default_error_messages = {"invalid": "Must be a UNIX timestamp in seconds."}

    def to_representation(self, value):
        return to_unix(value)

    def to_internal_value(self, data):
        try:
            seconds = int(str(data).strip())
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            self.fail("invalid")


def now() -> dt.datetime:
    return timezone.now()


def provider_from_person(account, data: dict, field: str = "provider_id") -> dict:
    """Bodies name providers by person id (the `id` of SSO, login and `provider.id`); services take the
    provider's own row. 0 and None keep their meaning (nobody; remove the provider)."""
    if data.get(field):
        data[field] = provider_for_person(account=account, person_id=data[field]).pk
    return data


_VIEW_POLICIES = ("authentication_classes", "permission_classes", "parser_classes", "throttle_classes")


def one_url(name: str, **handlers: type[APIView]) -> type[APIView]:
    """One contract URL served by the API views of the apps that own each method: `GET /visits` lists
    visits (visits), `POST /visits` books (scheduling). The combined view carries each method with its
    schema; any other method answers 405. Every view given must use the default policies, since one
    view cannot apply two."""
    methods = {}
    for method, view in handlers.items():
        for policy in _VIEW_POLICIES:
            if getattr(view, policy) != getattr(APIView, policy):
                raise ImproperlyConfigured(f"{view.__name__}.{policy} differs from the default.")
        methods[method] = getattr(view, method)
    return type(name, (APIView,), methods)
