"""Visit API v3: users, tokens, accounts and rooms."""

from collections.abc import Mapping

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from clinic import audit, selectors, services
from clinic.api_base import UnixTimestampField, ok, paged
from clinic.authentication import ApiKeyFirstAuthentication
from clinic.models import US_STATE_CODES, Room, UserType
from clinic.permissions import IsApiKeyClient
from clinic.serializers import ConsultationOut


class TokenOut(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.IntegerField()
    refresh_token = inline_serializer(
        "RefreshTokenOut", {"token": serializers.CharField(), "expiry": serializers.IntegerField()}
    )


class UserOut(serializers.Serializer):
    id = serializers.IntegerField(
        help_text="The person's id: what provider_id takes, and member.id / provider.id show."
    )
    code = serializers.SerializerMethodField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    type = serializers.ChoiceField(choices=UserType.choices)

    def get_code(self, user) -> str:
        return user.external_code or (user.member.code if user.is_member else "")


def _user_with_token(request, user, token: dict) -> dict:
    """`?fields=vsee` adds VSee's call-SDK identity: "<account code>+<username>" (stable per user) and
    the user's current access token, the one in `token` (no separate call token)."""
    data = {**UserOut(user).data, "token": token}
    fields = request.query_params.get("fields") or (
        request.data.get("fields") if isinstance(request.data, Mapping) else None
    )
    if isinstance(fields, str) and "vsee" in {name.strip() for name in fields.split(",")}:
        data["vsee"] = {"id": f"{request.account.code}+{user.username}", "token": token["token"]}
    return data


class UserWithTokenOut(UserOut):
    token = TokenOut()
    vsee = inline_serializer(
        "VseeIdentity",
        {"id": serializers.CharField(), "token": serializers.CharField()},
        required=False,
        help_text="Only with ?fields=vsee.",
    )


UserTokenEnvelope = inline_serializer("UserTokenEnvelope", {"data": UserWithTokenOut()})


class SsoIn(serializers.Serializer):
    """Unknown fields are ignored; a field not sent is left as it is."""

    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    code = serializers.CharField(max_length=128, help_text="Optional for guests (type 600).")
    type = serializers.ChoiceField(
        choices=[
            (services.SSO_MEMBER, "member"),
            (services.SSO_PROVIDER, "provider"),
            (services.SSO_GUEST, "guest"),
        ],
        required=False,
        default=services.SSO_MEMBER,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        data = getattr(self, "initial_data", None)
        if isinstance(data, Mapping) and str(data.get("type", "")).strip() == str(services.SSO_GUEST):
            self.fields["code"].required = False

    dob = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    email = serializers.EmailField(required=False, allow_blank=True)
    gender = serializers.ChoiceField(
        choices=["male", "female", "other", "", "0", "1", "2", "3"], required=False
    )
    state = serializers.CharField(required=False, allow_blank=True, max_length=2)

    def validate_state(self, value: str) -> str:
        if value and value.upper() not in US_STATE_CODES:
            raise serializers.ValidationError(f"{value!r} is not a US state code.")
        return value.upper()

    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    street_addr = serializers.CharField(required=False, allow_blank=True, max_length=255)


class UserSsoApi(APIView):
    authentication_classes = [ApiKeyFirstAuthentication]
    permission_classes = [IsApiKeyClient]

    @extend_schema(
        request=SsoIn,
        responses=UserTokenEnvelope,
        summary="Create or update a user; get a token",
        description=(
            "X-ApiKey and X-ApiSecret decide; an X-ApiToken sent with them is ignored. Only the fields sent "
            "are changed, and the user's other tokens keep working."
        ),
        operation_id="users_sso",
        parameters=[OpenApiParameter("fields", str, required=False, description="`vsee` adds `vsee`.")],
    )
    def post(self, request):
        data = SsoIn(data=request.data)
        data.is_valid(raise_exception=True)
        started = timezone.now()
        user, token = services.user_sso(account=request.account, **data.validated_data)
        audit.audit_record(
            request,
            audit.Action.CREATE if user.date_joined >= started else audit.Action.UPDATE,
            user,
            detail=f"SSO with API key {request.user.credential.key[:8]}",
        )
        return ok(_user_with_token(request, user, token))


class LoginIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=200, trim_whitespace=False)


class UserLoginApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        request=LoginIn,
        responses=UserTokenEnvelope,
        summary="Log in with username and password",
        operation_id="users_login",
    )
    def post(self, request):
        data = LoginIn(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = services.user_login(request=request, account=request.account, **data.validated_data)
        return ok(_user_with_token(request, user, token))


class UserLogoutApi(APIView):
    @extend_schema(
        request=None,
        responses=inline_serializer("LogoutEnvelope", {"data": serializers.JSONField(allow_null=True)}),
        summary="Revoke the token this call is made with",
        operation_id="users_logout",
    )
    def post(self, request):
        services.api_token_revoke(token=request.auth)
        return ok(None)


class RefreshIn(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=200)


class TokenRefreshApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        request=RefreshIn,
        responses=UserTokenEnvelope,
        summary="Exchange a refresh token",
        operation_id="users_token_refresh",
    )
    def post(self, request):
        data = RefreshIn(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = services.api_token_refresh(account=request.account, **data.validated_data)
        return ok(_user_with_token(request, user, token))


class UsersIn(serializers.Serializer):
    q = serializers.CharField(required=False, max_length=100)
    type = serializers.ChoiceField(choices=UserType.choices, required=False)
    room_code = serializers.CharField(required=False, max_length=64)


class UserListApi(APIView):
    @extend_schema(
        parameters=[UsersIn, OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses=inline_serializer(
            "UserList", {"data": UserOut(many=True), "total_count": serializers.IntegerField()}
        ),
        summary="The clinic's users (staff only)",
        description=(
            "`q` matches names, username and codes; `room_code` keeps the providers working in that room. "
            "Patients are listed to front desk and clinic admins only."
        ),
        operation_id="users_list",
    )
    def get(self, request):
        params = UsersIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        users = selectors.users_list(account=request.account, viewer=request.user, **params.validated_data)
        return paged(request, users, UserOut, audit_action=audit.Action.LIST)


class UserDetailApi(APIView):
    @extend_schema(
        responses=inline_serializer("UserEnvelope", {"data": UserOut()}),
        summary="One user (oneself, or for staff one they may list)",
        operation_id="users_read",
    )
    def get(self, request, user_id: str):
        user = selectors.user_get(account=request.account, viewer=request.user, user_id=user_id)
        audit.audit_record(request, audit.Action.READ, user)
        return ok(UserOut(user).data)


class AccountRoomOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    time_zone = serializers.CharField()
    max_waiting_time = serializers.IntegerField(allow_null=True)


class AccountOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    time_zone = serializers.CharField()
    rooms = AccountRoomOut(many=True, source="walkin_rooms", help_text="The rooms taking walk-ins now.")


class AccountDetailApi(APIView):
    """Public, as VSee's Clinic Account API: no X-AccountCode or token needed."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer("AccountEnvelope", {"data": AccountOut()}),
        summary="A clinic account's public details",
        operation_id="accounts_read",
        auth=[],
    )
    def get(self, request, code: str):
        return ok(AccountOut(selectors.account_public(code=code)).data)


class RoomOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    active = serializers.BooleanField(source="is_open")
    time_zone = serializers.CharField()
    walkins_enabled = serializers.BooleanField()
    appointments_enabled = serializers.BooleanField()
    max_waiting_time = serializers.IntegerField(allow_null=True)


class RoomDetailOut(RoomOut):
    provider_ids = serializers.SerializerMethodField()
    payment = serializers.SerializerMethodField()

    def get_provider_ids(self, room) -> list[int]:
        return sorted(p.user_id for p in room.providers.all())  # person ids, as provider_id takes

    @extend_schema_field(inline_serializer("RoomPayment", {"consultations": ConsultationOut(many=True)}))
    def get_payment(self, room) -> dict:
        return {
            "consultations": ConsultationOut(
                [c for c in room.consultations.all() if c.active], many=True
            ).data
        }


class RoomListApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses=inline_serializer(
            "RoomList", {"data": RoomOut(many=True), "total_count": serializers.IntegerField()}
        ),
        summary="The account's rooms",
        operation_id="rooms_list",
    )
    def get(self, request):
        return paged(request, Room.objects.for_account(request.account).order_by("code"), RoomOut)


class RoomDetailApi(APIView):
    @extend_schema(
        responses=inline_serializer("RoomEnvelope", {"data": RoomDetailOut()}),
        summary="One room",
        operation_id="rooms_read",
    )
    def get(self, request, room_code: str):
        return ok(RoomDetailOut(selectors.room_detail(account=request.account, code=room_code)).data)


# --- the audit trail (clinic admins) -----------------------------------------------------------------


class AuditEventListIn(serializers.Serializer):
    member_id = serializers.CharField(required=False, max_length=128, help_text="The patient's code or id.")
    user_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    object_type = serializers.ChoiceField(choices=audit.ObjectType.choices, required=False)
    object_id = serializers.CharField(required=False, max_length=64)
    action = serializers.ChoiceField(choices=audit.Action.choices, required=False)
    start_time = UnixTimestampField(required=False, help_text="From this time (UNIX seconds), inclusive.")
    end_time = UnixTimestampField(required=False, help_text="Before this time (UNIX seconds).")


class AuditEventOut(serializers.Serializer):
    id = serializers.IntegerField()
    at = UnixTimestampField()
    user_id = serializers.IntegerField(allow_null=True)
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    member_id = serializers.IntegerField(allow_null=True)
    ip = serializers.CharField(allow_null=True)
    via = serializers.CharField()


class AuditEventListApi(APIView):
    @extend_schema(
        parameters=[AuditEventListIn, OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses=inline_serializer(
            "AuditEventList", {"data": AuditEventOut(many=True), "total_count": serializers.IntegerField()}
        ),
        summary="The audit trail of access to patient data (clinic admins)",
        description=(
            "Every read and change of patient data, newest first: who (`user_id`, null for the system), "
            "whose (`member_id`), what (`object_type`, `object_id`), how (`action`, `via`) and from where."
        ),
        operation_id="audit_events_list",
    )
    def get(self, request):
        params = AuditEventListIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.validated_data
        events = audit.audit_events(
            account=request.account,
            user=request.user,
            member=filters.get("member_id", ""),
            user_id=filters.get("user_id"),
            object_type=filters.get("object_type", ""),
            object_id=filters.get("object_id", ""),
            action=filters.get("action", ""),
            start=filters.get("start_time"),
            end=filters.get("end_time"),
        )
        # Ids only: no join to the people's rows.
        return paged(request, events.select_related(None), AuditEventOut)
