from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self):
        from clinic.signals import user_created
        from webhooks.receivers import user_created_record

        user_created.connect(user_created_record, dispatch_uid="webhooks.user_created")
