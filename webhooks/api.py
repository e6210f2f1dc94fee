"""Webhook endpoints through the API (*ours*, clinic admins only): register, list, read, delete."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from clinic.api_base import UnixTimestampField, ok, paged
from webhooks import selectors, services
from webhooks.event_types import EventType


class EndpointOut(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    disabled_reason = serializers.CharField(help_text="Why the system turned it off; empty otherwise.")
    created = UnixTimestampField()


class EndpointCreatedOut(EndpointOut):
    secret = serializers.CharField(help_text="whsec_… key for verifying signatures; shown only here.")


class EndpointIn(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices),
        allow_empty=False,
        max_length=len(EventType.values),
    )


class WebhookListApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses=inline_serializer(
            "WebhookList", {"data": EndpointOut(many=True), "total_count": serializers.IntegerField()}
        ),
        summary="The clinic's webhook endpoints",
        operation_id="webhooks_list",
    )
    def get(self, request):
        return paged(
            request, selectors.endpoints_list(account=request.account, actor=request.user), EndpointOut
        )

    @extend_schema(
        request=EndpointIn,
        responses={201: inline_serializer("WebhookCreated", {"data": EndpointCreatedOut()})},
        summary="Register a webhook endpoint (its secret is in this answer only)",
        operation_id="webhooks_create",
    )
    def post(self, request):
        selectors.require_webhook_admin(actor=request.user)  # a 403 before any validation message
        data = EndpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(
            account=request.account, actor=request.user, **data.validated_data
        )
        return ok(EndpointCreatedOut(endpoint).data, status=201)


class WebhookDetailApi(APIView):
    @extend_schema(
        responses=inline_serializer("WebhookEnvelope", {"data": EndpointOut()}),
        summary="One webhook endpoint",
        operation_id="webhooks_read",
    )
    def get(self, request, endpoint_id: str):
        endpoint = selectors.endpoint_get(
            account=request.account, actor=request.user, endpoint_id=endpoint_id
        )
        return ok(EndpointOut(endpoint).data)

    @extend_schema(
        responses=inline_serializer("WebhookDeleted", {"data": EndpointOut()}),
        summary="Delete a webhook endpoint and its delivery log",
        operation_id="webhooks_delete",
    )
    def delete(self, request, endpoint_id: str):
        endpoint = services.endpoint_delete(
            account=request.account, actor=request.user, endpoint_id=endpoint_id
        )
        return ok(EndpointOut(endpoint).data)
