from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from clinic.lockout import AdminLoginForm
from clinic.models import (
    Account,
    ApiCredential,
    ApiToken,
    Consultation,
    Member,
    Provider,
    ProviderLicense,
    Room,
    User,
)

admin.site.login_form = AdminLoginForm


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone", "created"]
    search_fields = ["code", "name"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "account", "first_name", "last_name", "is_active", "is_staff"]
    list_filter = ["account", "groups", "is_active", "is_staff"]
    search_fields = ["username", "first_name", "last_name", "email", "external_code"]
    fieldsets = [(None, {"fields": ["account", "external_code", "is_guest"]}), *DjangoUserAdmin.fieldsets]
    add_fieldsets = [(None, {"fields": ["account", "username", "password1", "password2"]})]


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
    autocomplete_fields = ["user"]
    filter_horizontal = ["rooms"]
    inlines = [ProviderLicenseInline]


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["code", "first_name", "last_name", "account", "dob", "state", "phone"]
    list_filter = ["account", "state", "gender"]
    search_fields = ["code", "first_name", "last_name", "phone", "email"]
    autocomplete_fields = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created", "expires", "revoked", "family"]
    list_filter = ["user__account"]
    search_fields = ["user__username"]
    readonly_fields = ["token_digest", "refresh_digest"]


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    list_display = ["key", "account", "label", "created", "revoked"]
    list_filter = ["account"]
    readonly_fields = ["key", "secret_digest"]
