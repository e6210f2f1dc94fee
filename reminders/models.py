"""Reminders of appointments: when a clinic sends them, what each patient was last told, and the reminders
still to send."""

from django.db import models
from django.db.models import Q

from clinic.models import Account, Room
from visits.models import Visit


class ReminderPlan(models.Model):
    """When a clinic (`room` empty) or one of its rooms reminds patients of their appointments, and the
    hours it never sends anything (in the room's time zone). A room without a plan of its own follows the
    clinic's; a clinic without one, the settings' defaults (REMINDER_OFFSETS, REMINDER_QUIET_HOURS)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="reminder_plans")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    offsets = models.JSONField(
        help_text="Minutes before the start, e.g. [1440, 120]. Whole days keep the time of day across DST.",
    )
    quiet_start = models.TimeField(null=True, blank=True, help_text="e.g. 21:00; empty: no quiet hours.")
    quiet_end = models.TimeField(null=True, blank=True, help_text="e.g. 08:00 (the next morning).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "room"], name="reminder_plan_unique_per_room"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(room__isnull=True), name="reminder_plan_unique_per_account"
            ),
        ]

    def __str__(self) -> str:
        return f"reminders of {self.room or self.account}: {self.offsets}"


class AppointmentNotice(models.Model):
    """What the patient was last told about an appointment: the calendar invite's sequence (bumped on every
    change, RFC 5545) and the times and state it gave. A change is what differs from this."""

    visit = models.OneToOneField(Visit, primary_key=True, on_delete=models.CASCADE, related_name="+")
    sequence = models.PositiveIntegerField(default=0)
    start = models.DateTimeField()
    end = models.DateTimeField()
    cancelled = models.BooleanField(default=False)
    updated = models.DateTimeField()

    def __str__(self) -> str:
        return f"notice of appointment {self.visit_id} (sequence {self.sequence})"


class ScheduledReminder(models.Model):
    """One reminder still to send: `offset` minutes before the appointment's `start` as it was when the
    reminder was planned, at `send_at` (quiet hours already skipped), never at or after `not_after`. A
    reschedule deletes the pending ones and plans anew; the sweep sends what is due."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="+")
    offset = models.PositiveIntegerField(help_text="Minutes before the start.")
    start = models.DateTimeField()
    send_at = models.DateTimeField()
    not_after = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["visit", "offset", "start"], name="scheduled_reminder_unique")
        ]
        indexes = [
            models.Index(fields=["send_at"], condition=Q(done_at__isnull=True), name="reminder_due_idx"),
        ]

    def __str__(self) -> str:
        return f"reminder of appointment {self.visit_id}, {self.offset} min before"
