import datetime as dt

from django import forms
from django.contrib import admin

from visits.models import Attachment, Intake, SummaryDownload, Visit, VisitEvent, VisitGroup, VisitSummary


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


class VisitGroupAddForm(forms.ModelForm):
    class Meta:
        model = VisitGroup
        fields = ["room", "consultation", "provider", "start"]

    def clean(self):
        from scheduling.selectors import providers_free_for

        data = super().clean()
        room, consultation, provider, start = (data.get(f) for f in self.Meta.fields)
        if not all((room, consultation, provider, start)):
            return data
        if consultation.room_id != room.pk or not consultation.is_group:
            self.add_error("consultation", "Choose a group consultation of this room.")
        elif provider.pk not in providers_free_for(
            room=room,
            start=start,
            end=start + dt.timedelta(seconds=consultation.duration),
            provider_id=provider.pk,
        ):
            self.add_error("start", f"{provider.display_name} is not free then.")
        return data


@admin.register(VisitGroup)
class VisitGroupAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "consultation", "provider", "start", "capacity"]
    list_filter = ["account", "room"]
    form = VisitGroupAddForm

    def get_readonly_fields(self, request, obj=None):
        # A planned group holds its provider's time: change it by cancelling and planning again.
        return VisitGroupAddForm.Meta.fields if obj else []

    def save_model(self, request, obj, form, change):
        from scheduling.services import visit_group_create

        # The same service as everywhere else: it checks again under the provider's lock.
        created = visit_group_create(
            account=obj.room.account,
            actor=request.user,
            room=obj.room,
            consultation=obj.consultation,
            provider=obj.provider,
            start=obj.start,
        )
        obj.pk, obj.account_id, obj.end, obj.capacity = (
            created.pk,
            created.account_id,
            created.end,
            created.capacity,
        )


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
