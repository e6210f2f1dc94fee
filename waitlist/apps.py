from django.apps import AppConfig


class WaitlistConfig(AppConfig):
    name = "waitlist"

    def ready(self):
        from waitlist import receivers  # noqa: F401  (connects to scheduling.signals.slot_freed)
