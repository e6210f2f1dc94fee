from django.contrib import admin

from messaging.models import MessageTemplate


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["kind", "language", "account", "subject"]
    list_filter = ["account", "kind", "language"]
