from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from clinic import audit
from clinic.lockout import AdminLoginForm
from clinic.models import (
    Account,
    ApiCredential,
    ApiToken,
    AuditEvent,
    Consultation,
    Member,
    Provider,
    ProviderLicense,
    Room,
    User,
)

admin.site.login_form = AdminLoginForm


class AuditedAdmin(admin.ModelAdmin):
    """Django admin of patient data: what a superuser sees or changes here goes into the audit trail too
    (each row to its own clinic's trail)."""

    def audit_target(self, obj):
        return audit.target(obj)

    def _audit(self, request, action: str, objects) -> None:
        audit.audit_record_many(
            request, action, [self.audit_target(obj) for obj in objects], detail="Django admin"
        )

    def _shown(self, request, response, key: str, action: str):
        # A page is a TemplateResponse with its context still at hand; a redirect shows nothing.
        shown = getattr(response, "context_data", None) or {}
        if shown.get(key) is not None:
            self._audit(request, action, shown[key].result_list if key == "cl" else [shown[key]])
        return response

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        return self._shown(request, response, "cl", audit.Action.LIST)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        return self._shown(request, response, "original", audit.Action.READ)

    def delete_view(self, request, object_id, extra_context=None):
        response = super().delete_view(request, object_id, extra_context)
        return self._shown(request, response, "object", audit.Action.READ)

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        return self._shown(request, response, "object", audit.Action.READ)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._audit(request, audit.Action.UPDATE if change else audit.Action.CREATE, [obj])

    def delete_model(self, request, obj):
        self._audit(request, audit.Action.DELETE, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        self._audit(request, audit.Action.DELETE, queryset)
        super().delete_queryset(request, queryset)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone", "created"]
    search_fields = ["code", "name"]


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    list_display = ["username", "account", "first_name", "last_name", "is_active", "is_staff"]
    list_filter = ["account", "groups", "is_active", "is_staff"]
    search_fields = ["username", "first_name", "last_name", "email", "external_code"]
    fieldsets = [(None, {"fields": ["account", "external_code", "is_guest"]}), *DjangoUserAdmin.fieldsets]
    add_fieldsets = [(None, {"fields": ["account", "username", "password1", "password2"]})]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member")


class ConsultationInline(admin.TabularInline):
    model = Consultation
    extra = 0


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "account",
        "time_zone",
        "is_open",
        "walkins_enabled",
        "appointments_enabled",
        "max_waiting_time",
    ]
    list_filter = ["account", "is_open", "walkins_enabled", "appointments_enabled"]
    search_fields = ["code", "name"]
    inlines = [ConsultationInline]


@admin.register(Consultation)
class ConsultationAdmin(admin.ModelAdmin):
    list_display = ["description", "room", "duration", "amount", "capacity", "active"]
    list_filter = ["room__account", "room", "active"]
    search_fields = ["description", "room__code"]


class ProviderLicenseInline(admin.TabularInline):
    model = ProviderLicense
    extra = 0


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["__str__", "account", "title", "time_zone"]
    list_filter = ["account", "rooms", "licenses__state"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    # A raw id, not an autocomplete: its search would list patients unrecorded.
    raw_id_fields = ["user"]
    filter_horizontal = ["rooms"]
    inlines = [ProviderLicenseInline]


@admin.register(Member)
class MemberAdmin(AuditedAdmin):
    list_display = ["code", "first_name", "last_name", "account", "dob", "state", "phone"]
    list_filter = ["account", "state", "gender"]
    search_fields = ["code", "first_name", "last_name", "phone", "email"]
    # A raw id, not an autocomplete: its search would list patients unrecorded.
    raw_id_fields = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    """Audited: a token's row names its user, who may be a patient."""

    list_display = ["user", "created", "expires", "revoked", "family"]
    list_filter = ["user__account"]
    search_fields = ["user__username"]
    readonly_fields = ["token_digest", "refresh_digest"]
    list_select_related = ["user__member"]

    def audit_target(self, obj):
        return audit.target(obj.user)


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    list_display = ["key", "account", "label", "created", "revoked"]
    list_filter = ["account"]
    readonly_fields = ["key", "secret_digest"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is written by `clinic.audit` and never changed."""

    list_display = [
        "at",
        "account",
        "user_id",
        "action",
        "object_type",
        "object_id",
        "member_id",
        "via",
        "ip",
    ]
    list_filter = ["account", "action", "object_type", "via"]
    search_fields = ["object_id", "detail"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
