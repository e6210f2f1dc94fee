from django.apps import AppConfig
from django.db.models.signals import post_save


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self):
        from clinic.models import Provider
        from scheduling.services import schedule_versions_bump, slot_freed_announce
        from visits.lifecycle import held_time_changed
        from visits.models import VisitStatus

        def held_time(sender, provider_ids, visit=None, to_status=None, at=None, **kwargs):
            schedule_versions_bump(provider_ids=provider_ids)
            if visit is not None and to_status == VisitStatus.CANCELLED:
                slot_freed_announce(visit=visit, at=at, cause="closed")  # closed before its time

        def provider_saved(sender, instance, created, **kwargs):
            if not created:  # a new provider has no version yet: nothing of theirs is cached
                schedule_versions_bump(provider_ids=[instance.pk])

        # What cached availability reads about a provider and is written outside this app: a visit
        # transition that moves an appointment (visits/lifecycle.py), and the provider's own row (its zone).
        held_time_changed.connect(held_time, weak=False, dispatch_uid="scheduling.held_time")
        post_save.connect(provider_saved, sender=Provider, weak=False, dispatch_uid="scheduling.provider")
