from django.contrib import admin

from reminders.models import ReminderPlan


@admin.register(ReminderPlan)
class ReminderPlanAdmin(admin.ModelAdmin):
    list_display = ["account", "room", "offsets", "quiet_start", "quiet_end"]
    list_filter = ["account"]
