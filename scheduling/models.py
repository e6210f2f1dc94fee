"""Providers' working hours: weekly wall-clock rules and dated exceptions, in the provider's time zone.

A window whose end is not after its start crosses midnight and ends the next day (22:00-06:00);
00:00-00:00 is the whole day.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from clinic.models import Account, AccountScopedQuerySet, Provider, Room


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingHours(models.Model):
    """A provider works in `room` every `weekday` from `start_time` to `end_time` (provider's zone)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="working_hours")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="working_hours")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField(help_text="Not after the start: the window ends the next day.")

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "working hours"
        ordering = ["provider", "room", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="working_hours_weekday"),
        ]
        indexes = [models.Index(fields=["room", "provider"])]

    def __str__(self) -> str:
        return f"{self.provider} in {self.room.code}: {self.get_weekday_display()} {window_label(self)}"

    def clean(self):
        _check_same_account(self)


class ScheduleException(models.Model):
    """Time off or extra hours, each day from `start_date` to `end_date` (provider's zone).

    Time off without a room applies to every room of the provider; extra hours name their room.
    """

    class Kind(models.TextChoices):
        TIME_OFF = "off", "Time off"
        EXTRA = "extra", "Extra hours"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="schedule_exceptions")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="schedule_exceptions")
    room = models.ForeignKey(
        Room,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="schedule_exceptions",
        help_text="Empty: every room (time off only).",
    )
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.TIME_OFF)
    start_date = models.DateField()
    end_date = models.DateField(help_text="Inclusive; the same as the start for one day.")
    start_time = models.TimeField(default=dt.time(0))
    end_time = models.TimeField(default=dt.time(0), help_text="00:00 to 00:00 is the whole day.")
    note = models.CharField(max_length=200, blank=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["provider", "start_date", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="schedule_exception_dates_ordered"
            ),
            models.CheckConstraint(
                condition=Q(kind="off") | Q(room__isnull=False), name="schedule_exception_extra_has_room"
            ),
        ]
        indexes = [models.Index(fields=["provider", "end_date"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.provider}: {self.start_date} {window_label(self)}"

    def clean(self):
        _check_same_account(self)
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "The end date is before the start date."})
        if self.kind == self.Kind.EXTRA and not self.room_id:
            raise ValidationError({"room": "Extra hours need a room."})


def window_label(window) -> str:
    end = "24:00" if window.end_time.strftime("%H:%M") == "00:00" else f"{window.end_time:%H:%M}"
    overnight = " (next day)" if window.end_time <= window.start_time and end != "24:00" else ""
    return f"{window.start_time:%H:%M}-{end}{overnight}"


def _check_same_account(obj) -> None:
    # Admin forms list every provider and room; a rule must stay inside one clinic.
    if obj.provider_id and obj.account_id and obj.provider.account_id != obj.account_id:
        raise ValidationError({"provider": "The provider belongs to another clinic."})
    if obj.room_id and obj.account_id and obj.room.account_id != obj.account_id:
        raise ValidationError({"room": "The room belongs to another clinic."})
    if obj.room_id and obj.provider_id and not obj.provider.rooms.filter(pk=obj.room_id).exists():
        raise ValidationError({"room": "The provider does not work in this room."})


class ProviderSchedule(models.Model):
    """The version of everything availability reads about one provider: hours and exceptions in every
    room, and the time their appointments and group visits hold. Every write that changes one of them bumps
    it in its own transaction (`services.schedule_versions_bump`), so an answer cached under the versions
    it was computed from is never served after a change. A provider without a row is never cached."""

    provider = models.OneToOneField(Provider, primary_key=True, on_delete=models.CASCADE, related_name="+")
    # Starts at a random number: a provider row recreated with the same id (a fresh database, a rolled-back
    # test) never meets an answer cached for the old one.
    version = models.BigIntegerField()

    def __str__(self) -> str:
        return f"schedule of provider {self.provider_id}: version {self.version}"


class SlotHoldQuerySet(AccountScopedQuerySet):
    def active(self):
        return self.filter(released__isnull=True)


class SlotHold(models.Model):
    """A freed slot kept for someone (a waitlist offer): until it is released it is held time of its
    provider like an appointment, for everyone but its holder, who books it with `appointment_book(hold=…)`.

    Whether it counts is its `released` column alone, never the clock: cached availability is keyed by the
    schedule version, which starting and releasing a hold bump, so the cache and the booking guard agree.
    `expires` is when its owner's sweep releases it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    consultation = models.ForeignKey(
        "clinic.Consultation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    busy_start = models.DateTimeField()
    busy_end = models.DateTimeField()
    created = models.DateTimeField()
    expires = models.DateTimeField()
    released = models.DateTimeField(null=True, blank=True)

    objects = SlotHoldQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["provider", "busy_start"], condition=Q(released__isnull=True), name="slothold_active"
            )
        ]

    def __str__(self) -> str:
        return f"hold of provider {self.provider_id} at {self.start:%Y-%m-%d %H:%M}"


class CalendarFeed(models.Model):
    """A provider's secret iCalendar feed URL. Only a hash of its secret is stored: the URL is shown once,
    when it is made; revoking (or making a new one) makes the old URL answer 404."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="calendar_feeds")
    secret_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField()
    revoked = models.DateTimeField(null=True, blank=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider"], condition=Q(revoked__isnull=True), name="calendar_feed_one_live"
            )
        ]

    def __str__(self) -> str:
        return f"calendar feed of provider {self.provider_id}"
