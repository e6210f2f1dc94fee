"""The waitlist: patients waiting for a freed slot of a room, and the offers made to them.

An offer is for one slot kept by a `scheduling.SlotHold`; several patients may be offered one hold (the
best-ranked `WAITLIST_OFFER_BATCH`); the first to accept books it, and the hold's release decides a tie.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinic.models import Account, AccountScopedQuerySet, Consultation, Member, Provider, Room
from scheduling.models import SlotHold

# Times of day a patient may prefer, as bits (0: any time), by the slot's local start.
MORNING, AFTERNOON, EVENING = 1, 2, 4
TIMES_OF_DAY = (
    (MORNING, "Morning (before 12:00)"),
    (AFTERNOON, "Afternoon (12:00-17:00)"),
    (EVENING, "Evening (after 17:00)"),
)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def time_of_day_bit(local_start: dt.datetime) -> int:
    if local_start.hour < 12:
        return MORNING
    return AFTERNOON if local_start.hour < 17 else EVENING


class WaitlistEntry(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        BOOKED = "booked", "Booked"
        REMOVED = "removed", "Removed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="Empty: any."
    )
    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="+")
    earliest = models.DateField(help_text="The first day (room's local date) the patient can come.")
    latest = models.DateField(help_text="The last day, inclusive.")
    weekdays = models.PositiveSmallIntegerField(default=0, help_text="Bits, Monday = 1; 0: any day.")
    times_of_day = models.PositiveSmallIntegerField(default=0, help_text="Bits of TIMES_OF_DAY; 0: any.")
    note = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    joined = models.DateTimeField()
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey(
        "visits.Visit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(latest__gte=models.F("earliest")), name="waitlist_dates_ordered"
            ),
        ]
        indexes = [models.Index(fields=["room", "status", "joined"])]

    def __str__(self) -> str:
        return f"waitlist entry {self.pk} of room {self.room_id}"

    def weekday_labels(self) -> list[str]:
        return [name for i, name in enumerate(WEEKDAY_NAMES) if self.weekdays & (1 << i)]

    def time_labels(self) -> list[str]:
        return [label for bit, label in TIMES_OF_DAY if self.times_of_day & bit]


class OfferQuerySet(AccountScopedQuerySet):
    def pending(self):
        return self.filter(status=Offer.Status.PENDING)


class Offer(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an answer"
        ACCEPTED = "accepted", "Accepted and booked"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "No answer in time"
        TAKEN = "taken", "Taken by another patient"
        STOPPED = "stopped", "Stopped by the front desk"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    hold = models.ForeignKey(SlotHold, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created = models.DateTimeField()
    expires = models.DateTimeField()
    answered = models.DateTimeField(null=True, blank=True)

    objects = OfferQuerySet.as_manager()

    class Meta:
        constraints = [
            # The last word on a tie: one accepted offer per held slot.
            models.UniqueConstraint(
                fields=["hold"], condition=Q(status="accepted"), name="offer_one_accepted"
            ),
            models.UniqueConstraint(fields=["entry", "hold"], name="offer_once_per_slot"),
            # A patient decides on one slot at a time (two runs offering two slots never both ask them).
            models.UniqueConstraint(
                fields=["entry"], condition=Q(status="pending"), name="offer_one_pending_per_patient"
            ),
        ]
        indexes = [models.Index(fields=["status", "expires"])]

    def __str__(self) -> str:
        return f"offer {self.pk} ({self.status})"
