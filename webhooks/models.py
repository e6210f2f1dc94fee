from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import Account
from webhooks.event_types import EventType


class Endpoint(models.Model):
    """A clinic's receiver: the events it wants and the secret its deliveries are signed with."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list, help_text="Event type names, e.g. visit.created.")
    active = models.BooleanField(default=True)
    # Stored in clear: every delivery is signed with it. Shown to the admin once, when it is made.
    secret = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    # Set when the system turned the endpoint off (it kept failing); blank when an admin did.
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Since when every attempt failed, and how many in a row: reset by any success.
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created", "id"]
        permissions = [("manage_webhooks", "Can manage the clinic's webhook endpoints")]

    def __str__(self) -> str:
        return self.url

    @property
    def event_labels(self) -> list[str]:
        return [EventType(name).label for name in self.events if name in EventType.values]


OPEN_STATUSES = ("pending", "sending")


class Delivery(models.Model):
    """One event for one endpoint: the outbox row, written in the transaction of the change it reports."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=64, choices=EventType.choices)
    payload = models.TextField(help_text="The exact JSON body sent, the same on every attempt.")
    webhook_id = models.CharField(
        max_length=40, unique=True, help_text="webhook-id, the same on every retry."
    )
    # Deliveries of one endpoint with the same key (one visit: "visit:<id>") are sent in creation order.
    ordering_key = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When it is due; while it is being sent, when the sender's claim lapses.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When it was last put on the queue: the sweeper enqueues it again only once that is long past.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=OPEN_STATUSES),
                name="webhook_delivery_due_idx",
            ),
            models.Index(
                fields=["endpoint", "ordering_key", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="webhook_delivery_chain_idx",
            ),
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.status})"


class Attempt(models.Model):
    """One POST of a delivery: what the receiver answered, or why there was no answer."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt on delivery {self.delivery_id} at {self.at:%Y-%m-%d %H:%M:%S}"
