"""Visit API v3: intakes and visits. One view per action; the rules live in visits.services."""

from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from clinic import audit
from clinic.api_base import envelope, ok, paged, provider_from_person
from clinic.errors import InvalidInput
from clinic.parsers import MultiPartParser
from visits import attachments, selectors, services
from visits.attachment_views import file_response, file_target
from visits.models import Attachment
from visits.serializers import (
    AddEconsultIn,
    AddendumIn,
    AddWalkinIn,
    AttachmentOut,
    IntakeIn,
    IntakeOut,
    IntakeUpdateIn,
    VisitCloseIn,
    VisitCompleteIn,
    VisitEnvelope,
    VisitIdIn,
    VisitListIn,
    VisitOut,
    intake_data,
    visit_data,
)
from visits.summaries import selectors as summary_selectors
from visits.summaries import services as summary_services


def _valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _custom_fields(data) -> dict:
    """Every field the contract does not name is the client's own, kept on the intake."""
    if hasattr(data, "lists"):  # form or multipart: a repeated key is a list
        items = {k: v[0] if len(v) == 1 else v for k, v in data.lists()}
    elif isinstance(data, dict):
        items = data
    else:
        raise InvalidInput("The request body must be an object.")
    custom = {
        k: v
        for k, v in items.items()
        if k not in services.INTAKE_FIELDS and not attachments.is_attachments_key(k)
    }
    for name, value in custom.items():
        if isinstance(value, UploadedFile) or (
            isinstance(value, list) and any(isinstance(v, UploadedFile) for v in value)
        ):
            raise InvalidInput.field(name, "Upload files with POST /files and list their ids in attachments.")
    return custom


IntakeEnvelope = envelope("IntakeEnvelope", IntakeOut)


class IntakeCreateApi(APIView):
    @extend_schema(
        request=IntakeIn,
        responses={201: IntakeEnvelope},
        summary="Create an intake",
        operation_id="intakes_create",
        description="Fields beyond these are saved as custom fields and echoed at the top level.",
    )
    def post(self, request):
        fields = provider_from_person(request.account, dict(_valid(IntakeIn, request.data)))
        fields.pop("attachments", None)  # documented here, parsed in all its formats below
        custom = _custom_fields(request.data)
        reset = fields.pop("reset", False)
        started = timezone.now()
        intake = services.intake_create(
            account=request.account,
            actor=request.user,
            room_code=fields.pop("room_code"),
            fields=fields,
            custom=custom,
            reset=reset,
            attachment_ids=attachments.attachment_ids_from(request.data),
        )
        # The patient's open intake may have been reused rather than created.
        action = audit.Action.CREATE if intake.created >= started else audit.Action.UPDATE
        audit.audit_record(request, action, intake)
        return ok(
            intake_data(
                selectors.intake_get(account=request.account, user=request.user, intake_id=intake.pk),
                viewer=request.user,
            ),
            status=201,
        )


class IntakeDetailApi(APIView):
    @extend_schema(responses=IntakeEnvelope, summary="Read an intake", operation_id="intakes_read")
    def get(self, request, intake_id: str):
        intake = selectors.intake_get(account=request.account, user=request.user, intake_id=intake_id)
        audit.audit_record(request, audit.Action.READ, intake)
        return ok(intake_data(intake, viewer=request.user))

    @extend_schema(
        request=IntakeUpdateIn,
        responses=IntakeEnvelope,
        summary="Update an intake (partial)",
        operation_id="intakes_update",
    )
    def post(self, request, intake_id: str):
        fields = provider_from_person(
            request.account, dict(_valid(IntakeUpdateIn, request.data, partial=True))
        )
        fields.pop("reset", None)
        fields.pop("attachments", None)
        intake = services.intake_update(
            account=request.account,
            actor=request.user,
            intake_id=intake_id,
            fields=fields,
            custom=_custom_fields(request.data),
            attachment_ids=attachments.attachment_ids_from(request.data),
        )
        audit.audit_record(request, audit.Action.UPDATE, intake)
        return ok(
            intake_data(
                selectors.intake_get(account=request.account, user=request.user, intake_id=intake_id),
                viewer=request.user,
            )
        )


class IntakeAddendumApi(APIView):
    @extend_schema(
        request=AddendumIn,
        responses={201: IntakeEnvelope},
        summary="Add a correction to an intake (ours)",
        description="An ended visit's intake is read-only: corrections go here, with who and when.",
        operation_id="intakes_addendum",
    )
    def post(self, request, intake_id: str):
        data = _valid(AddendumIn, request.data)
        services.intake_addendum_add(
            account=request.account, actor=request.user, intake_id=intake_id, text=data["text"]
        )
        intake = selectors.intake_get(account=request.account, user=request.user, intake_id=intake_id)
        audit.audit_record(request, audit.Action.UPDATE, intake, detail="correction added")
        return ok(intake_data(intake, viewer=request.user), status=201)


def _record_joined(request, visit, started) -> None:
    # Joining is idempotent: a retried call answers the visit the first one created.
    action = audit.Action.CREATE if visit.created >= started else audit.Action.READ
    audit.audit_record(request, action, visit)


class VisitAddWalkinApi(APIView):
    @extend_schema(
        request=AddWalkinIn,
        responses={201: VisitEnvelope},
        summary="Join the walk-in queue",
        operation_id="visits_add_walkin",
    )
    def post(self, request):
        data = provider_from_person(request.account, dict(_valid(AddWalkinIn, request.data)))
        started = timezone.now()
        visit = services.visit_add_walkin(
            account=request.account,
            actor=request.user,
            intake_id=data["intake_id"],
            room_code=data["room_code"],
            appointment_id=data.get("appointment_id"),
            provider_id=data.get("provider_id"),
            member_code=data.get("member_id"),
        )
        _record_joined(request, visit, started)
        return ok(visit_data(visit, viewer=request.user), status=201)


class VisitAddEconsultApi(APIView):
    @extend_schema(
        request=AddEconsultIn,
        responses={201: VisitEnvelope},
        summary="Send an e-consult",
        operation_id="visits_add_econsult",
    )
    def post(self, request):
        data = _valid(AddEconsultIn, request.data)
        started = timezone.now()
        visit = services.visit_add_econsult(
            account=request.account,
            actor=request.user,
            intake_id=data["intake_id"],
            room_code=data["room_code"],
        )
        _record_joined(request, visit, started)
        return ok(visit_data(visit, viewer=request.user), status=201)


class VisitAcceptApi(APIView):
    @extend_schema(
        request=VisitIdIn,
        responses=VisitEnvelope,
        summary="Accept a waiting walk-in or e-consult",
        operation_id="visits_accept",
        description="Exactly one of simultaneous accepts wins; the others get 409 naming who has it.",
    )
    def post(self, request):
        data = _valid(VisitIdIn, request.data)
        visit = services.visit_accept(account=request.account, actor=request.user, visit_id=data["id"])
        audit.audit_record(request, audit.Action.UPDATE, visit, detail="accepted")
        return ok(visit_data(visit, viewer=request.user))


class VisitCompleteApi(APIView):
    @extend_schema(
        request=VisitCompleteIn,
        responses=VisitEnvelope,
        summary="Complete a visit in progress",
        operation_id="visits_complete",
    )
    def post(self, request):
        data = _valid(VisitCompleteIn, request.data)
        visit = services.visit_complete(
            account=request.account, actor=request.user, visit_id=data["id"], notes=data.get("notes", "")
        )
        notes = ", with notes" if data.get("notes") else ""
        audit.audit_record(request, audit.Action.UPDATE, visit, detail=f"completed{notes}")
        return ok(visit_data(visit, viewer=request.user))


def _closed_answer(request, visit, changed: bool, detail: str):
    audit.audit_record(
        request,
        audit.Action.UPDATE if changed else audit.Action.READ,
        visit,
        detail=detail if changed else "",
    )
    message = "Visit closed." if changed else "The visit was already closed; nothing changed."
    return ok(visit_data(visit, viewer=request.user), message=message, changed=changed)


class VisitCloseApi(APIView):
    @extend_schema(
        request=VisitCloseIn,
        responses=VisitEnvelope,
        summary="Close or cancel a visit",
        operation_id="visits_close",
    )
    def post(self, request):
        data = _valid(VisitCloseIn, request.data)
        visit, changed = services.visit_close(
            account=request.account, actor=request.user, visit_id=data["id"], reason=data["reason"]
        )
        return _closed_answer(request, visit, changed, f"closed: {data['reason']}")


class VisitDeleteApi(APIView):
    @extend_schema(
        request=VisitIdIn,
        responses=VisitEnvelope,
        summary="Force-cancel a visit (clinic admin)",
        operation_id="visits_delete",
    )
    def post(self, request):
        data = _valid(VisitIdIn, request.data)
        visit, changed = services.visit_force_cancel(
            account=request.account, actor=request.user, visit_id=data["id"]
        )
        return _closed_answer(request, visit, changed, "force-cancelled")


class VisitListApi(APIView):
    @extend_schema(
        parameters=[VisitListIn, OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses=inline_serializer(
            "VisitList", {"data": VisitOut(many=True), "total_count": serializers.IntegerField()}
        ),
        summary="The caller's visits",
        operation_id="visits_list",
    )
    def get(self, request):
        filters = _valid(VisitListIn, request.query_params)
        visits = selectors.visit_list(account=request.account, user=request.user, **filters)
        return paged(request, visits, VisitOut, audit_action=audit.Action.LIST)


class VisitDetailApi(APIView):
    @extend_schema(responses=VisitEnvelope, summary="One visit", operation_id="visits_read")
    def get(self, request, visit_id: str):
        visit = selectors.visit_get(account=request.account, user=request.user, visit_id=visit_id)
        audit.audit_record(request, audit.Action.READ, visit)
        return ok(visit_data(visit, viewer=request.user))


class VisitCurrentApi(APIView):
    @extend_schema(
        responses=VisitEnvelope,
        summary="The caller's visit in progress, or null",
        operation_id="visits_current",
    )
    def get(self, request):
        visit = selectors.visit_current(account=request.account, user=request.user)
        if visit:
            audit.audit_record(request, audit.Action.READ, visit)
        return ok(visit_data(visit, viewer=request.user) if visit else None)


# --- files -------------------------------------------------------------------------------------------------

FileUploadIn = inline_serializer(
    "FileUploadIn",
    {
        "file": serializers.FileField(),
        "category": serializers.ChoiceField(
            choices=Attachment.Category.choices,
            required=False,
            help_text="Also accepted as meta[category]; intake_attachment when absent.",
        ),
    },
)
FileEnvelope = envelope("FileEnvelope", AttachmentOut)


class FileUploadApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": FileUploadIn},
        responses={201: FileEnvelope},
        summary="Upload a file (an image or a PDF) to attach to an intake",
        description="The content is checked, not just the name; past the size bound, 413.",
        operation_id="files_upload",
    )
    def post(self, request):
        # Before request.data: an oversized body is refused without being read.
        attachments.upload_size_precheck(content_length=request.META.get("CONTENT_LENGTH"))
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput.field("file", "Send the file as the multipart field 'file'.")
        category = (
            request.data.get("meta[category]")
            or request.data.get("category")
            or Attachment.Category.INTAKE_ATTACHMENT
        )
        attachment = attachments.attachment_upload(
            account=request.account, actor=request.user, upload=upload, category=category
        )
        audit.audit_record(request, audit.Action.CREATE, file_target(attachment))
        return ok(AttachmentOut(attachment).data, status=201)


class FileDetailApi(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        summary="Download a file (to those who may see its intake)",
        operation_id="files_read",
    )
    def get(self, request, file_id: str):
        attachment = attachments.attachment_get(
            account=request.account, user=request.user, attachment_id=file_id
        )
        response = file_response(attachment)  # a file gone from storage is a 404, and no download
        audit.audit_record(request, audit.Action.DOWNLOAD, file_target(attachment))
        return response


SummaryPendingEnvelope = inline_serializer(
    "VisitSummaryPending",
    {"data": inline_serializer("VisitSummaryPendingData", {"status": serializers.CharField()})},
)


class VisitSummaryExportApi(APIView):
    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 202: SummaryPendingEnvelope},
        summary="The visit's PDF summary",
        description=(
            "200 with the PDF when a current summary is stored; otherwise the render is started and the "
            "answer is 202 with Retry-After. Patients get their own visits, providers theirs, clinic "
            "admins any of the account. Every download is logged."
        ),
        operation_id="visits_summary_export",
    )
    def get(self, request, visit_id: str):
        state = summary_services.summary_fetch(account=request.account, user=request.user, visit_id=visit_id)
        if not state.ready:
            response = ok({"status": "pending"}, status=202)
            response["Retry-After"] = str(summary_services.RETRY_AFTER_SECONDS)
            return response
        summary_services.summary_download_record(
            account=request.account, visit=state.visit, user=request.user
        )
        audit.audit_record(request, audit.Action.DOWNLOAD, state.visit, detail="PDF summary")
        return FileResponse(
            state.summary.file.open("rb"),
            as_attachment=True,
            filename=summary_selectors.download_file_name(state.visit),
            content_type="application/pdf",
        )
