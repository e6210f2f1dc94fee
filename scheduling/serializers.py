"""The wire format of availability and booking: the contract's names, UNIX seconds."""

from rest_framework import serializers

from clinic.api_base import UnixTimestampField
from clinic.models import US_STATE_CODES

KEY_MODE_REQUIRED = ("room_code", "start", "end", "consultation_id")


def _state(value: str) -> str:
    value = value.strip().upper()
    if value and value not in US_STATE_CODES:
        raise serializers.ValidationError(f"{value!r} is not a US state code.")
    return value


class AvailabilityIn(serializers.Serializer):
    room_code = serializers.CharField(required=False, max_length=64)
    start = UnixTimestampField(required=False)
    end = UnixTimestampField(required=False)
    duration = serializers.IntegerField(required=False, min_value=1, help_text="Seconds.")
    provider_id = serializers.IntegerField(required=False, min_value=1)
    intake_id = serializers.UUIDField(required=False)
    consultation_id = serializers.IntegerField(required=False, min_value=1)
    location = serializers.CharField(required=False, allow_blank=True, max_length=2)

    def validate_location(self, value: str) -> str:
        return _state(value)


class SlotOut(serializers.Serializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    provider_ids = serializers.ListField(child=serializers.IntegerField())


class AppointmentIn(serializers.Serializer):
    start = UnixTimestampField()
    end = UnixTimestampField()
    room_code = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(
        choices=[2],
        required=False,
        default=2,
        error_messages={"invalid_choice": "POST /visits books type 2."},
    )
    intake_id = serializers.UUIDField(required=False)
    provider_id = serializers.IntegerField(required=False, min_value=0, help_text="None or 0: a TBD visit.")
    member_id = serializers.CharField(required=False, max_length=128)
    consultation_id = serializers.IntegerField(required=False, min_value=1)
    visit_group_id = serializers.CharField(required=False, max_length=40)

    def validate(self, attrs):
        if not attrs.get("intake_id") and not attrs.get("member_id"):
            raise serializers.ValidationError({"intake_id": ["Give intake_id (or member_id, for staff)."]})
        return attrs


class AppointmentUpdateIn(serializers.Serializer):
    start = UnixTimestampField(required=False)
    end = UnixTimestampField(required=False)
    provider_id = serializers.IntegerField(required=False, min_value=0)
