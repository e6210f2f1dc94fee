from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self):
        from scheduling.services import schedule_versions_bump
        from visits.lifecycle import held_time_changed

        def bump(sender, provider_ids, **kwargs):
            schedule_versions_bump(provider_ids=provider_ids)

        # A visit transition that moves an appointment changes its provider's availability.
        held_time_changed.connect(bump, weak=False, dispatch_uid="scheduling.schedule_versions_bump")
