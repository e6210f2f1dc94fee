from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "reminders"
    verbose_name = "Appointment reminders"

    def ready(self):
        from clinic.jobs import enqueue_on_commit
        from messaging.services import send_check_register
        from reminders import services
        from visits.lifecycle import appointment_changed

        def changed(sender, visit_ids, **kwargs):
            # After commit, in a task: a booking never waits for (or fails with) its confirmation.
            for visit_id in visit_ids:
                enqueue_on_commit("reminders.tasks.sync", visit_id)

        appointment_changed.connect(changed, weak=False, dispatch_uid="reminders.appointment_changed")
        send_check_register(kind=services.REMINDER, check=services.reminders_still_wanted)
        for kind in (services.BOOKED, services.MOVED, services.CANCELLED):
            send_check_register(kind=kind, check=services.invites_still_current)
