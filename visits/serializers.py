"""The wire format of intakes and visits: the contract's field names, UNIX seconds, ids as strings."""

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.api_base import UnixTimestampField, envelope
from clinic.serializers import ConsultationOut
from visits.models import CLIENT_CLOSE_REASONS, Intake, Visit, VisitStatus, VisitType
from visits.selectors import sees_clinical_content

INTAKE_TYPE_CHOICES = [(VisitType.WALKIN.value, "walk-in"), (VisitType.SCHEDULED.value, "appointment")]


class AttachmentOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    ext = serializers.CharField()
    type = serializers.CharField(source="content_type")
    created = UnixTimestampField()


def _shows_clinical(context: dict) -> bool:
    """Whether the reader sees notes and files: `viewer` in the context (None: the system itself, as in
    webhooks), else the request's user."""
    if "viewer" in context:
        viewer = context["viewer"]
    elif "request" in context:
        viewer = context["request"].user
    else:
        raise ImproperlyConfigured("Serialize visits and intakes with a viewer or a request in the context.")
    return viewer is None or sees_clinical_content(viewer)


class _CustomFieldsAtTopLevel(serializers.Serializer):
    """Custom intake fields are echoed beside the contract's own, never overriding them."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name, value in (instance.custom or {}).items():
            data.setdefault(name, value)
        return data


class AddendumOut(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    author_id = serializers.IntegerField(allow_null=True, help_text="The person's id.")
    created = UnixTimestampField()


class IntakeOut(_CustomFieldsAtTopLevel):
    id = serializers.UUIDField()
    room_code = serializers.CharField(source="room.code")
    member_id = serializers.CharField(source="member.code", allow_null=True, default=None)
    provider_id = serializers.IntegerField(source="provider.user_id", allow_null=True, default=None)
    reason_for_visit = serializers.CharField()
    type = serializers.IntegerField(allow_null=True)
    location = serializers.CharField()
    phone = serializers.CharField()
    consultation_id = serializers.IntegerField(allow_null=True)
    consultation = ConsultationOut(allow_null=True)
    attachments = AttachmentOut(many=True, source="attachments.all")
    addenda = AddendumOut(many=True, source="addenda.all", help_text="Corrections, oldest first.")
    created = UnixTimestampField()
    modified = UnixTimestampField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not _shows_clinical(self.context):
            data["attachments"] = []
        return data


class VisitIntakeOut(_CustomFieldsAtTopLevel):
    id = serializers.UUIDField()
    reason_for_visit = serializers.CharField()
    type = serializers.IntegerField(allow_null=True)
    location = serializers.CharField()
    phone = serializers.CharField()
    consultation = ConsultationOut(allow_null=True)
    attachments = AttachmentOut(many=True, source="attachments.all")


class MemberOut(serializers.Serializer):
    id = serializers.IntegerField(source="user_id", help_text="The person's id, as SSO returns it.")
    code = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    dob = serializers.DateField(allow_null=True)
    phone = serializers.CharField()


class ProviderOut(serializers.Serializer):
    id = serializers.IntegerField(source="user_id", help_text="The person's id: what provider_id takes.")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    title = serializers.CharField()


class VisitGroupOut(serializers.Serializer):
    id = serializers.CharField()
    consultation = ConsultationOut()
    start = UnixTimestampField()
    end = UnixTimestampField()
    capacity = serializers.IntegerField()


class MeetingOut(serializers.Serializer):
    meeting_id = serializers.UUIDField()
    patient_url = serializers.URLField(allow_null=True)
    provider_url = serializers.URLField(allow_null=True)

    def to_representation(self, visit: Visit):
        return {
            "meeting_id": str(visit.meeting_id),
            "patient_url": visit.meeting_link("patient"),
            "provider_url": visit.meeting_link("provider"),
        }


class VisitOut(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.IntegerField()
    status = serializers.IntegerField()
    status_name = serializers.CharField()
    start = UnixTimestampField()
    end = UnixTimestampField()
    actual_start = UnixTimestampField()
    actual_end = UnixTimestampField()
    confirmed_at = UnixTimestampField(
        allow_null=True,
        help_text="Ours: when the patient confirmed the appointment through the link in a message; null "
        "until then, and again after a move.",
    )
    room_code = serializers.CharField(source="room.code")
    account_code = serializers.CharField(source="account.code")
    member = MemberOut(allow_null=True)
    provider = ProviderOut(allow_null=True)
    intake = VisitIntakeOut(allow_null=True)
    notes = serializers.CharField()
    close_reason = serializers.CharField(allow_null=True)
    closed_by = serializers.IntegerField(source="closed_by_id", allow_null=True)
    appointment_id = serializers.CharField(allow_null=True)
    inviting_visit_id = serializers.CharField(allow_null=True)
    created = UnixTimestampField()
    modified = UnixTimestampField()
    meeting = MeetingOut(source="*", help_text="The video call: a stable id and join links, if configured.")
    visit_group_id = serializers.CharField(required=False, help_text="Group appointments only.")
    visit_group = VisitGroupOut(required=False, help_text="Group appointments only.")

    def to_representation(self, instance: Visit):
        data = super().to_representation(instance)
        if not _shows_clinical(self.context):
            data["notes"] = ""
            if data["intake"] is not None:
                data["intake"]["attachments"] = []
        data["close_reason"] = instance.close_reason or None
        if not instance.visit_group_id:
            # The contract: only group appointments carry visit_group_id and visit_group at all.
            del data["visit_group_id"], data["visit_group"]
            if (
                instance.consultation
                and data["intake"] is not None
                and data["intake"]["consultation"] is None
            ):
                data["intake"]["consultation"] = ConsultationOut(instance.consultation).data
        return data


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
            {"type": "array", "items": {"type": "string"}},
            {"type": "string"},
        ]
    }
)
class AttachmentIdsField(serializers.Field):
    """Documents the field; visits.attachments parses its three formats (and repeated form keys)."""

    def to_internal_value(self, data):
        return data


class IntakeIn(serializers.Serializer):
    room_code = serializers.CharField(max_length=64)
    provider_id = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    provider = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Alias of provider_id, as the seed's sample sends it.",
    )
    reason_for_visit = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    type = serializers.ChoiceField(required=False, allow_null=True, choices=INTAKE_TYPE_CHOICES)
    member_id = serializers.CharField(required=False, max_length=128)
    location = serializers.CharField(required=False, allow_blank=True, max_length=2)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    consultation_id = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    reset = serializers.BooleanField(required=False, default=False)
    attachments = AttachmentIdsField(
        required=False,
        help_text='Ids from POST /files: [{"id": "<uuid>"}], ["<uuid>"] or "<uuid>,<uuid>".',
    )

    def validate(self, attrs):
        if "provider" in attrs:
            attrs.setdefault("provider_id", attrs.pop("provider"))
        return attrs


class IntakeUpdateIn(IntakeIn):
    room_code = serializers.CharField(max_length=64, required=False)


class AddWalkinIn(serializers.Serializer):
    intake_id = serializers.UUIDField()
    room_code = serializers.CharField(max_length=64)
    appointment_id = serializers.CharField(required=False, max_length=40)
    provider_id = serializers.IntegerField(required=False, min_value=1)
    member_id = serializers.CharField(required=False, max_length=128)


class AddEconsultIn(serializers.Serializer):
    intake_id = serializers.UUIDField()
    room_code = serializers.CharField(max_length=64)


class VisitIdIn(serializers.Serializer):
    id = serializers.CharField(max_length=40)


class VisitCompleteIn(VisitIdIn):
    notes = serializers.CharField(required=False, allow_blank=True, max_length=50_000)


class VisitCloseIn(VisitIdIn):
    reason = serializers.CharField(max_length=40, help_text=f"One of: {', '.join(CLIENT_CLOSE_REASONS)}.")

    def validate_reason(self, value: str) -> str:
        if value not in CLIENT_CLOSE_REASONS:
            raise serializers.ValidationError(f"Must be one of: {', '.join(CLIENT_CLOSE_REASONS)}.")
        return value


class VisitListIn(serializers.Serializer):
    room_code = serializers.CharField(required=False, max_length=64)
    start_time = UnixTimestampField(required=False)
    end_time = UnixTimestampField(required=False)
    status = serializers.ChoiceField(required=False, choices=VisitStatus.choices)
    type = serializers.ChoiceField(required=False, choices=VisitType.choices)


VisitEnvelope = envelope("VisitEnvelope", VisitOut)


class AddendumIn(serializers.Serializer):
    text = serializers.CharField(max_length=4000)


class PendingOut(serializers.Serializer):
    status = serializers.CharField()


def intake_data(intake: Intake, *, viewer) -> dict:
    """The intake as `viewer` may read it (None: the system)."""
    return IntakeOut(intake, context={"viewer": viewer}).data


def visit_data(visit: Visit, *, viewer) -> dict:
    """The visit as `viewer` may read it (None: the system, e.g. a webhook to the clinic's own server)."""
    return VisitOut(visit, context={"viewer": viewer}).data
