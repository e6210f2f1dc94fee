import datetime as dt

from django import forms
from django.contrib import admin

from scheduling.models import ScheduleException, WorkingHours
from scheduling.selectors import providers_free_for
from scheduling.services import schedule_versions_bump, visit_group_create
from visits.models import VisitGroup


class BumpsScheduleAdmin(admin.ModelAdmin):
    """Rows availability reads: every change bumps the provider's schedule version in the admin's
    transaction, as the services do (see ProviderSchedule)."""

    def save_model(self, request, obj, form, change):
        previous = type(obj).objects.filter(pk=obj.pk).values_list("provider_id", flat=True).first()
        super().save_model(request, obj, form, change)
        schedule_versions_bump(provider_ids=[previous, obj.provider_id])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        schedule_versions_bump(provider_ids=[obj.provider_id])

    def delete_queryset(self, request, queryset):
        provider_ids = list(queryset.values_list("provider_id", flat=True))
        super().delete_queryset(request, queryset)
        schedule_versions_bump(provider_ids=provider_ids)


@admin.register(WorkingHours)
class WorkingHoursAdmin(BumpsScheduleAdmin):
    list_display = ["provider", "room", "weekday", "start_time", "end_time", "account"]
    list_filter = ["account", "room", "weekday"]
    search_fields = ["provider__user__last_name", "provider__user__username", "room__code"]
    list_select_related = ["provider__user", "room", "account"]
    raw_id_fields = ["provider"]


@admin.register(ScheduleException)
class ScheduleExceptionAdmin(BumpsScheduleAdmin):
    list_display = ["provider", "kind", "room", "start_date", "end_date", "start_time", "end_time", "note"]
    list_filter = ["account", "kind", "room"]
    search_fields = ["provider__user__last_name", "provider__user__username", "note"]
    list_select_related = ["provider__user", "room"]
    raw_id_fields = ["provider"]
    date_hierarchy = "start_date"


class VisitGroupAddForm(forms.ModelForm):
    class Meta:
        model = VisitGroup
        fields = ["room", "consultation", "provider", "start"]

    def clean(self):
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
class VisitGroupAdmin(BumpsScheduleAdmin):
    list_display = ["id", "room", "consultation", "provider", "start", "capacity"]
    list_filter = ["account", "room"]
    form = VisitGroupAddForm

    def get_readonly_fields(self, request, obj=None):
        # A planned group holds its provider's time: change it by cancelling and planning again.
        return VisitGroupAddForm.Meta.fields if obj else []

    def save_model(self, request, obj, form, change):
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
