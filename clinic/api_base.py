"""Shared pieces of the v3 API: the `data` wrapper, paging and UNIX-seconds timestamps."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


def ok(data, status: int = 200, **extra) -> Response:
    return Response({"data": data, **extra}, status=status)


# Past any real list, and small enough that the row offset stays inside PostgreSQL's bigint.
MAX_PAGE = 1_000_000


class PageParams(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=1)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


def paged(request, queryset, serializer_class, context=None) -> Response:
    params = PageParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    page, limit = params.validated_data["page"], params.validated_data["limit"]
    total = queryset.count()
    rows = queryset[(page - 1) * limit : page * limit]
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
