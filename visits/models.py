import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinic.models import Account, AccountScopedQuerySet, Consultation, Member, Provider, Room


class VisitType(models.IntegerChoices):
    WALKIN = 1, "walk-in"
    SCHEDULED = 2, "appointment"
    ECONSULT = 3, "e-consult"


class VisitStatus(models.IntegerChoices):
    WAITING = 10, "waiting"
    IN_PROGRESS = 20, "inprogress"
    COMPLETED = 30, "completed"
    CANCELLED = 40, "cancelled"


class Priority(models.IntegerChoices):
    """Triage: the queues show urgent patients first, then the longest waiting."""

    URGENT = 1, "Urgent"
    NORMAL = 2, "Normal"


class CloseReason(models.TextChoices):
    PATIENT_END_CALL = "patient_end_call", "Patient ended the call"
    PATIENT_EXIT_ROOM = "patient_exit_room", "Patient left the waiting room"
    CALL_ENDED = "call_ended", "Call ended"
    PATIENT_CANCEL_APPOINTMENT = "patient_cancel_appointment", "Appointment cancelled"
    MAX_WAITING_TIME_REACHED = "max_waiting_time_reached", "Maximum waiting time reached"
    FORCE_CANCELLED = "force_cancelled", "Cancelled by a clinic admin"
    # The providers' own, from the dashboard.
    NO_ANSWER = "no_answer", "No answer"
    EMERGENCY_REFERRAL = "emergency_referral", "Redirected to emergency care"
    DUPLICATE = "duplicate", "Duplicate"
    PROVIDER_OTHER = "provider_other", "Closed by the provider"


# The contract's reasons for POST /visits/close (the patient app's, and the system's max wait).
CLIENT_CLOSE_REASONS = [
    CloseReason.PATIENT_END_CALL,
    CloseReason.PATIENT_EXIT_ROOM,
    CloseReason.CALL_ENDED,
    CloseReason.PATIENT_CANCEL_APPOINTMENT,
    CloseReason.MAX_WAITING_TIME_REACHED,
]
PROVIDER_CLOSE_REASONS = [
    CloseReason.NO_ANSWER,
    CloseReason.EMERGENCY_REFERRAL,
    CloseReason.DUPLICATE,
    CloseReason.CALL_ENDED,
    CloseReason.PROVIDER_OTHER,
]
ACTIVE_STATUSES = (VisitStatus.WAITING, VisitStatus.IN_PROGRESS)
QUEUE_TYPES = (VisitType.WALKIN, VisitType.ECONSULT)


def status_words(status: int) -> str:
    """A status as people read it; `status_name` keeps the API's single word ("inprogress")."""
    return "in progress" if status == VisitStatus.IN_PROGRESS else VisitStatus(status).label


class Intake(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="intakes")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="intakes")
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="intakes"
    )
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.SET_NULL, related_name="intakes"
    )
    reason_for_visit = models.TextField(blank=True)
    type = models.PositiveSmallIntegerField(choices=VisitType.choices, null=True, blank=True)
    location = models.CharField(max_length=2, blank=True, help_text="US state code")
    phone = models.CharField(max_length=32, blank=True, help_text="E.164")
    consultation = models.ForeignKey(Consultation, null=True, blank=True, on_delete=models.SET_NULL)
    custom = models.JSONField(
        default=dict, blank=True, help_text="Fields the client sent beyond the contract's."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["account", "room", "member", "-created"])]

    def __str__(self) -> str:
        return f"intake {self.id}"


class VisitGroup(models.Model):
    """A group appointment: one provider, one time, up to `capacity` patients."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="visit_groups")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="visit_groups")
    consultation = models.ForeignKey(Consultation, on_delete=models.PROTECT)
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.SET_NULL)
    start = models.DateTimeField()
    end = models.DateTimeField()
    capacity = models.PositiveSmallIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="visit_group_end_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.consultation.description} at {self.start:%Y-%m-%d %H:%M}"


class VisitQuerySet(AccountScopedQuerySet):
    def waiting(self):
        return self.filter(status=VisitStatus.WAITING)

    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def queued(self):
        """Walk-ins and e-consults waiting for a provider to accept them."""
        return self.waiting().filter(type__in=QUEUE_TYPES)

    def appointments(self):
        return self.filter(type=VisitType.SCHEDULED)

    def in_rooms(self, rooms):
        return self.filter(room__in=rooms)

    def with_related(self):
        return self.select_related(
            "room",
            "account",
            "member",
            "provider__user",
            "intake__consultation",
            "closed_by",
            "visit_group__consultation",
            "consultation",
        ).prefetch_related("intake__attachments")


class IntakeAddendum(models.Model):
    """A correction or addition to an intake, kept beside it: the intake itself is read-only once its
    visit ended, and nothing anyone wrote is ever overwritten."""

    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    text = models.TextField(max_length=4000)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"addendum to intake {self.intake_id} by {self.author_id}"


class Visit(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="visits")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    # The video call's id: stable for the visit, unguessable, and no secret of ours in it.
    meeting_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="visits")
    type = models.PositiveSmallIntegerField(choices=VisitType.choices)
    status = models.PositiveSmallIntegerField(choices=VisitStatus.choices, default=VisitStatus.WAITING)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    intake = models.ForeignKey(
        Intake, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    consultation = models.ForeignKey(Consultation, null=True, blank=True, on_delete=models.SET_NULL)
    visit_group = models.ForeignKey(
        VisitGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    appointment = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sessions",
        help_text="The appointment this visit started.",
    )
    inviting_visit = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="invited_visits"
    )
    start = models.DateTimeField(
        null=True, blank=True, help_text="Scheduled start (appointments); else joined."
    )
    end = models.DateTimeField(null=True, blank=True)
    # The time the provider is held, buffers included: what double-booking is checked against.
    busy_start = models.DateTimeField(null=True, blank=True, editable=False)
    busy_end = models.DateTimeField(null=True, blank=True, editable=False)
    actual_start = models.DateTimeField(null=True, blank=True)
    # An appointment the patient confirmed (a link in their reminder); moving it asks again.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=40, choices=CloseReason.choices, blank=True)
    close_note = models.CharField(max_length=500, blank=True, help_text="The provider's words on closing.")
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.TextField(blank=True, help_text="Provider's notes, sanitised html.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    modified = models.DateTimeField(auto_now=True)

    objects = VisitQuerySet.as_manager()

    class Meta:
        permissions = [
            ("accept_visit", "Can accept walk-ins and e-consults from the queue"),
            ("book_appointment", "Can book, reschedule and cancel appointments"),
            ("view_all_visits", "Can find any visit of the account"),
            ("force_cancel_visit", "Can force-cancel any visit"),
            ("export_visit_summary", "Can download visit summaries of any visit"),
            ("view_clinical_content", "Can read notes, patients' files and PDF summaries of visits they see"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=VisitStatus.values), name="visit_status_valid"),
            models.CheckConstraint(condition=Q(type__in=VisitType.values), name="visit_type_valid"),
        ]
        indexes = [
            # The dashboards' queue read: waiting walk-ins/e-consults of a few rooms, oldest first.
            models.Index(fields=["room", "type", "created"], condition=Q(status=10), name="visit_queue_idx"),
            # Who left a room's queue today unseen (the board's and the dashboard's list): without it, every
            # refresh of the queues reads all of the provider's rooms' history.
            models.Index(
                fields=["room", "modified"],
                condition=Q(
                    status=40,
                    actual_start__isnull=True,
                    close_reason__in=["max_waiting_time_reached", "patient_exit_room"],
                ),
                name="visit_left_unseen_idx",
            ),
            models.Index(fields=["account", "start"], name="visit_account_start_idx"),
            models.Index(fields=["provider", "start"], name="visit_provider_start_idx"),
            models.Index(fields=["member", "-created"], name="visit_member_created_idx"),
            # Availability's read of a room's TBD appointments (no provider yet). Without it, the walk-ins
            # nobody took (provider NULL too) are scanned on every availability call.
            models.Index(
                fields=["room", "busy_start"],
                condition=Q(type=2, status__in=[10, 20], provider__isnull=True, visit_group__isnull=True),
                name="visit_tbd_hold_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def status_name(self) -> str:
        return VisitStatus(self.status).label

    @property
    def status_words(self) -> str:
        return status_words(self.status)

    @property
    def state_words(self) -> str:
        """For staff lists: an appointment not yet started is "booked", not "waiting"."""
        if self.type == VisitType.SCHEDULED and self.status == VisitStatus.WAITING:
            return "booked"
        return self.status_words

    @property
    def has_happened(self) -> bool:
        """Something to summarise: it was seen, or a queue visit that ended (a wait is worth a record);
        not an appointment still booked or cancelled before it started."""
        return (
            self.status == VisitStatus.COMPLETED
            or self.actual_start is not None
            or (self.type in QUEUE_TYPES and self.status == VisitStatus.CANCELLED)
        )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def meeting_link(self, role: str) -> str | None:
        """The video call's link for `role` ("patient" or "provider"), from the room's template, else the
        account's, else VIDEO_LINK_TEMPLATE; None when none is configured."""
        template = (
            self.room.video_link_template or self.account.video_link_template or settings.VIDEO_LINK_TEMPLATE
        )
        return template.format(meeting_id=self.meeting_id, role=role) if template else None


class VisitEvent(models.Model):
    """One status change of a visit: the audit trail and the source of wait-time figures."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="events")
    from_status = models.PositiveSmallIntegerField(choices=VisitStatus.choices, null=True, blank=True)
    to_status = models.PositiveSmallIntegerField(choices=VisitStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="Empty: the system.",
    )
    reason = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField()

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["visit", "created"])]

    def __str__(self) -> str:
        return f"{self.visit_id}: {self.from_status} -> {self.to_status}"

    @property
    def to_status_words(self) -> str:
        return status_words(self.to_status)

    @property
    def reason_words(self) -> str:
        """Why, as staff read it: a close reason's words ("Patient ended the call"), never its code, and
        nothing where the reason only repeats the new status (no "Completed completed")."""
        if self.reason in CloseReason.values:
            return CloseReason(self.reason).label
        if self.reason.casefold() in (self.to_status_words.casefold(), "created"):
            return ""
        return self.reason.replace("_", " ")


class NoteDraft(models.Model):
    """The notes a provider is typing for a visit, saved as they type, so that a reload, a lost connection
    or the patient leaving loses nothing. One per visit and provider; removed once the notes are saved on
    the visit. `left`: the visit ended while the provider was on it (the patient, an admin or the system
    closed it): their dashboard keeps a "Patient left" card until the notes are saved or the card is
    dismissed (`dismissed`; the draft itself is kept)."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="note_drafts")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="note_drafts")
    text = models.TextField(blank=True)
    # Counts the saves: a browser holding an older revision knows its copy is not the newest.
    revision = models.PositiveIntegerField(default=0)
    saved = models.DateTimeField(null=True, blank=True)
    left = models.DateTimeField(null=True, blank=True)
    dismissed = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["visit", "provider"], name="note_draft_one_per_visit_provider")
        ]
        indexes = [
            # The dashboard's read of a provider's open "Patient left" cards, on every in-progress poll.
            models.Index(
                fields=["provider"],
                condition=Q(left__isnull=False, dismissed__isnull=True),
                name="note_draft_left_idx",
            )
        ]

    def __str__(self) -> str:
        return f"notes draft of visit {self.visit_id} by provider {self.provider_id}"


def attachment_upload_to(instance, filename):
    # Never the client's name: a random one, grouped by account.
    return f"attachments/{instance.account_id}/{uuid.uuid4().hex}"


def attachment_thumbnail_upload_to(instance, filename):
    return f"{attachment_upload_to(instance, filename)}-thumb.jpg"


class Attachment(models.Model):
    """A file a patient uploaded for an intake (POST /files)."""

    class Category(models.TextChoices):
        INTAKE_ATTACHMENT = "intake_attachment", "Intake attachment"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="attachments")
    intake = models.ForeignKey(
        Intake, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    category = models.CharField(max_length=40, choices=Category.choices, default=Category.INTAKE_ATTACHMENT)
    file = models.FileField(upload_to=attachment_upload_to, max_length=255)
    # Images' 320px JPEG, made once (at upload, or on first request for older files), so the pages and the
    # PDF summaries never decode a full-size original again. Blank for PDFs.
    thumbnail = models.FileField(upload_to=attachment_thumbnail_upload_to, blank=True, max_length=255)
    name = models.CharField(max_length=255, help_text="The client's file name, for display only.")
    size = models.PositiveBigIntegerField()
    ext = models.CharField(max_length=10)
    content_type = models.CharField(max_length=100)
    created = models.DateTimeField(auto_now_add=True)
    attached = models.DateTimeField(null=True, blank=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created"]

    def __str__(self) -> str:
        return self.name


def summary_upload_to(instance, filename):
    # Random per render: a storage listing or a leaked path names no visit, and an old link dies.
    return f"summaries/{instance.visit.account_id}/{uuid.uuid4().hex}.pdf"


class VisitSummary(models.Model):
    """The rendered PDF of a visit; stale once the visit changed after `source_modified`."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    visit = models.OneToOneField(Visit, on_delete=models.CASCADE, related_name="summary")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to=summary_upload_to, max_length=255, blank=True)
    source_modified = models.DateTimeField(null=True, blank=True, help_text="visit.modified when rendered")
    requested = models.DateTimeField(auto_now=True)
    # The outbox's clock: a pending summary not rendered by then is enqueued again by the sweep (its task
    # was lost: broker restarted empty, worker killed, retries spent in an outage).
    due = models.DateTimeField(null=True, blank=True)
    # Requested by the system (a visit closed for waiting too long): rendered after everything else.
    background = models.BooleanField(default=False)
    rendered = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["due"], condition=models.Q(status="pending"), name="summary_pending_due_idx")
        ]

    def __str__(self) -> str:
        return f"summary of visit {self.visit_id} ({self.status})"


class SummaryDownload(models.Model):
    """Who downloaded which visit's summary, or a bulk ZIP of `visit_count` summaries, and when. The log
    of files sent; the audit trail still records each visit read."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="summary_downloads")
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.CASCADE, related_name="summary_downloads"
    )
    # The export row is removed after SUMMARY_EXPORT_TTL; its entry in the log stays, with its count.
    export = models.ForeignKey(
        "SummaryExport", null=True, blank=True, on_delete=models.SET_NULL, related_name="downloads"
    )
    visit_count = models.PositiveIntegerField(default=1)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(auto_now_add=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        what = f"visit {self.visit_id} summary" if self.visit_id else f"ZIP of {self.visit_count} summaries"
        return f"{what} downloaded by {self.user_id} at {self.created:%Y-%m-%d %H:%M}"


class SummaryExport(models.Model):
    """A bulk ZIP of visit summaries, built by a Celery task."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="summary_exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    filters = models.JSONField(default=dict, blank=True)
    visit_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/", max_length=255, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"export {self.id} ({self.status}, {self.done}/{self.total})"
