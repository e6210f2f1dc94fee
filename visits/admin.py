from django.contrib import admin

from visits.models import Attachment, Intake, SummaryDownload, Visit, VisitEvent, VisitSummary


class VisitEventInline(admin.TabularInline):
    model = VisitEvent
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "reason", "created"]

    def has_add_permission(self, request, obj=None):
        return False  # the trail is written by services only


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
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
class IntakeAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "member", "reason_for_visit", "location", "created"]
    list_filter = ["account", "room", "type"]
    search_fields = ["id", "member__code", "member__last_name", "reason_for_visit"]
    list_select_related = ["room", "member"]
    raw_id_fields = ["member", "provider", "consultation"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "account", "content_type", "size", "intake", "created"]
    list_filter = ["account", "content_type"]
    search_fields = ["id", "name"]
    raw_id_fields = ["intake", "uploaded_by"]


@admin.register(VisitSummary)
class VisitSummaryAdmin(admin.ModelAdmin):
    list_display = ["visit", "status", "rendered", "requested"]
    list_filter = ["status"]
    raw_id_fields = ["visit"]


@admin.register(SummaryDownload)
class SummaryDownloadAdmin(admin.ModelAdmin):
    list_display = ["visit", "user", "created"]
    list_filter = ["account"]
    raw_id_fields = ["visit", "user"]
