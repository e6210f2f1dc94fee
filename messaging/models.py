"""Messages to patients: the clinic's templates, the patients' consent, the messages sent, and the signed
single-use links they carry."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import Account, AccountScopedQuerySet, Member


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class MessageTemplate(models.Model):
    """A clinic's own wording of one kind of message, in one language ('' = the clinic's default). A kind
    without one is written from the files templates/messaging/<kind>.subject, .txt, .html and .sms."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="message_templates")
    kind = models.CharField(max_length=64, help_text="e.g. appointment_booked, appointment_reminder")
    language = models.CharField(max_length=16, blank=True, help_text="e.g. es; empty: the default.")
    subject = models.CharField(max_length=300, help_text="Django template syntax, e.g. {{ first_name }}.")
    text = models.TextField(help_text="The plain-text email.")
    html = models.TextField(blank=True, help_text="The HTML email; empty: plain text only.")
    sms = models.TextField(blank=True, help_text="The text message; empty: the plain-text email.")

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "language"], name="message_template_unique_per_language"
            )
        ]
        ordering = ["kind", "language"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.language or 'default'})"


class Consent(models.Model):
    """One statement of a patient's consent to be contacted on a channel, kept as history: the newest row
    per patient and channel is what holds, and every earlier one stays to show when and how it changed."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=200, help_text="How it was given, e.g. 'intake form', 'front desk'.")
    # The staff member who wrote it down (none: the patient themselves, a partner's system, an import).
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "channel", "-at", "-id"], name="consent_current_idx")]

    def __str__(self) -> str:
        return f"{self.channel} {'granted' if self.granted else 'withdrawn'} ({self.source})"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Could not be sent"
    REFUSED = "refused", "Not sent"  # `reason` says why: no consent, no address
    CANCELLED = "cancelled", "No longer wanted"  # its sender's check said so at send time


class Message(models.Model):
    """One message to one patient, as rendered when it was asked for. `dedupe_key` is unique: asking again
    for the same message (a second beat, a retried task) finds this row and sends nothing more."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=64)
    channel = models.CharField(max_length=8, choices=Channel.choices, blank=True)
    language = models.CharField(max_length=16, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    recipient = models.CharField(max_length=254, blank=True, help_text="The address or phone number.")
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    # [[filename, base64 content, mimetype], ...]: a calendar invite is a few kilobytes.
    attachments = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was not sent, or the last error.")
    attempts = models.PositiveSmallIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    not_after = models.DateTimeField(null=True, blank=True, help_text="Never sent later than this.")
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["account", "member", "-created"], name="message_member_idx"),
            # The sweep's look for what is due or was dropped (a lost task, a dead worker).
            models.Index(
                fields=["next_attempt_at"],
                name="message_open_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to member {self.member_id} ({self.status})"


class LinkToken(models.Model):
    """A signed, single-use link: only a keyed digest of its token is stored, so the table alone opens
    nothing. `purpose` says what it does and `obj_id` to what; `used_at` is set once, by one UPDATE."""

    purpose = models.CharField(max_length=64)
    obj_id = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="link_token_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.purpose} link for {self.obj_id}"
