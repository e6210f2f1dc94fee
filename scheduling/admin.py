from django.contrib import admin

from scheduling.models import ScheduleException, WorkingHours


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ["provider", "room", "weekday", "start_time", "end_time", "account"]
    list_filter = ["account", "room", "weekday"]
    search_fields = ["provider__user__last_name", "provider__user__username", "room__code"]
    list_select_related = ["provider__user", "room", "account"]
    raw_id_fields = ["provider"]


@admin.register(ScheduleException)
class ScheduleExceptionAdmin(admin.ModelAdmin):
    list_display = ["provider", "kind", "room", "start_date", "end_date", "start_time", "end_time", "note"]
    list_filter = ["account", "kind", "room"]
    search_fields = ["provider__user__last_name", "provider__user__username", "note"]
    list_select_related = ["provider__user", "room"]
    raw_id_fields = ["provider"]
    date_hierarchy = "start_date"
