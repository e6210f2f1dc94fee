"""Visit API v3: GET /availability, POST /visits (booking) and POST /visits/:id (rescheduling).

The rules live in scheduling.services; clinic/api_urls.py shares the visits URLs by method."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework.views import APIView

from clinic import audit
from clinic.api_base import ok, provider_from_person
from clinic.authentication import ApiKeyClient
from clinic.errors import InvalidInput
from clinic.permissions import IsAccountUserOrApiKeyClient
from scheduling import selectors, services
from scheduling.serializers import (
    KEY_MODE_REQUIRED,
    AppointmentIn,
    AppointmentUpdateIn,
    AvailabilityIn,
    SlotOut,
)
from visits.serializers import VisitEnvelope, visit_data


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AvailabilityApi(APIView):
    permission_classes = [IsAccountUserOrApiKeyClient]

    @extend_schema(
        parameters=[AvailabilityIn],
        responses=inline_serializer("AvailabilityEnvelope", {"data": SlotOut(many=True)}),
        summary="Free appointment slots",
        operation_id="availability_list",
        description=(
            "start/end/duration follow the seed's 8-row table ('available' is the first free slot; "
            "the default span is 4 days). With X-ApiKey/X-ApiSecret and no user token, room_code, start, "
            "end and consultation_id are required."
        ),
    )
    def get(self, request):
        params = provider_from_person(request.account, dict(_valid(AvailabilityIn, request.query_params)))
        key_client = isinstance(request.user, ApiKeyClient)
        if key_client:
            missing = [name for name in KEY_MODE_REQUIRED if name not in params]
            if missing:
                raise InvalidInput(
                    f"Without a user token these are required: {', '.join(missing)}.",
                    errors={name: ["Required with X-ApiKey and no user token."] for name in missing},
                )
        slots = selectors.availability_for(
            account=request.account, user=None if key_client else request.user, **params
        )
        # The API names providers by person id (their user's), as provider_id takes them.
        person = selectors.person_ids_of_providers({pk for s in slots for pk in s.provider_ids})
        # Plain dicts: thousands of slots go out per call, and a serializer per row would dominate.
        return ok(
            [
                {"start": s.start, "end": s.end, "provider_ids": [person[pk] for pk in s.provider_ids]}
                for s in slots
            ]
        )


class AppointmentCreateApi(APIView):
    @extend_schema(
        request=AppointmentIn,
        responses={201: VisitEnvelope},
        summary="Book an appointment (type 2), a TBD visit, or a seat in a group visit",
        operation_id="visits_create",
        description="A time that is not an available slot, or was taken meanwhile, answers 409.",
    )
    def post(self, request):
        data = provider_from_person(request.account, dict(_valid(AppointmentIn, request.data)))
        data.pop("type")
        visit = services.appointment_book(
            account=request.account,
            actor=request.user,
            room_code=data.pop("room_code"),
            member_code=data.pop("member_id", None),
            **data,
        )
        audit.audit_record(request, audit.Action.CREATE, visit, detail="appointment booked")
        return ok(visit_data(visit, viewer=request.user), status=201)


class AppointmentUpdateApi(APIView):
    @extend_schema(
        request=AppointmentUpdateIn,
        responses=VisitEnvelope,
        summary="Update an appointment (version=2)",
        operation_id="visits_update",
        parameters=[OpenApiParameter("version", int, required=False)],
    )
    def post(self, request, visit_id: str):
        data = provider_from_person(request.account, dict(_valid(AppointmentUpdateIn, request.data)))
        visit = services.appointment_update(
            account=request.account, actor=request.user, visit_id=visit_id, **data
        )
        audit.audit_record(request, audit.Action.UPDATE, visit, detail="appointment changed")
        return ok(visit_data(visit, viewer=request.user))
