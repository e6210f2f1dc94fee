from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, **kwargs):
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    from clinic.roles import ensure_role_groups

    # Role groups need every app's permissions, which Django creates per app after migrating.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    ensure_role_groups()


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from clinic import (
            log_redaction,
            schema,  # noqa: F401  (registers the OpenAPI description of our auth headers)
            session_limits,  # noqa: F401  (starts the session clocks at login)
        )

        log_redaction.install()
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="clinic.ensure_roles")
