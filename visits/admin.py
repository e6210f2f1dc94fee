from django.contrib import admin

from clinic import audit
from clinic.admin import AuditedAdmin
from visits.attachment_views import file_target
from visits.models import Attachment, Intake, SummaryDownload, Visit, VisitEvent, VisitSummary


class VisitEventInline(admin.TabularInline):
    model = VisitEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "reason", "created"]

    def has_add_permission(self, request, obj=None):
        return False  # the trail is written by services only


@admin.register(Visit)
class VisitAdmin(AuditedAdmin):
    list_display = ["id", "type", "status", "room", "member", "provider", "start", "created"]
    list_filter = ["account", "type", "status", "room", "close_reason"]
    search_fields = ["id", "member__code", "member__last_name", "provider__user__last_name"]
    date_hierarchy = "created"
    list_select_related = ["room", "member", "provider__user"]
    readonly_fields = [f.name for f in Visit._meta.fields]
    inlines = [VisitEventInline]

    def has_add_permission(self, request):
        return False  # visits change state through the services (API and pages), never by hand


@admin.register(Intake)
class IntakeAdmin(AuditedAdmin):
    list_display = ["id", "room", "member", "reason_for_visit", "location", "created"]
    list_filter = ["account", "room", "type"]
    search_fields = ["id", "member__code", "member__last_name", "reason_for_visit"]
    list_select_related = ["room", "member"]
    raw_id_fields = ["member", "provider", "consultation"]


@admin.register(Attachment)
class AttachmentAdmin(AuditedAdmin):
    list_display = ["id", "name", "account", "content_type", "size", "intake", "created"]
    list_filter = ["account", "content_type"]
    search_fields = ["id", "name"]
    raw_id_fields = ["intake", "uploaded_by"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("intake", "uploaded_by__member")

    def audit_target(self, obj):
        return file_target(obj)


@admin.register(VisitSummary)
class VisitSummaryAdmin(AuditedAdmin):
    list_display = ["visit", "status", "rendered", "requested"]
    list_filter = ["status"]
    raw_id_fields = ["visit"]
    list_select_related = ["visit"]

    def audit_target(self, obj):
        return audit.target(obj.visit)


@admin.register(SummaryDownload)
class SummaryDownloadAdmin(AuditedAdmin):
    list_display = ["visit", "user", "created"]
    list_filter = ["account"]
    raw_id_fields = ["visit", "user"]
    list_select_related = ["visit", "user"]

    def audit_target(self, obj):
        return audit.target(obj.visit)
