from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "push"
    verbose_name = "Live push"

    def ready(self) -> None:
        from clinic.health import readiness_check_register
        from push.selectors import backend_ping

        readiness_check_register("push", backend_ping)
