import string
import uuid
import zoneinfo
from typing import NamedTuple

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Right
from django.utils import timezone

US_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY"
).split()
US_STATE_CHOICES = [(code, code) for code in US_STATE_CODES]

code_validator = RegexValidator(r"^[A-Za-z0-9._-]+$", "Use letters, digits, dot, dash or underscore.")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone.")


VIDEO_LINK_HELP = (
    "The video call's link, with {meeting_id} and optionally {role} (patient or provider), "
    "e.g. https://meet.example.org/{meeting_id}."
)


def validate_video_link_template(value: str) -> None:
    if not value:
        return
    if not value.startswith(("https://", "http://")) or "{meeting_id}" not in value:
        raise ValidationError("Give an http(s) link containing {meeting_id}.")
    # Parsed, not tried: formatting `{meeting_id:>999999999}` or `{role.__class__}` would already
    # allocate a gigabyte or read attributes. Only the two bare names may stand in braces.
    try:
        fields = [
            (name, spec, conv) for _, name, spec, conv in string.Formatter().parse(value) if name is not None
        ]
    except ValueError as exc:
        raise ValidationError("Only {meeting_id} and {role} may stand in braces.") from exc
    if any(name not in ("meeting_id", "role") or spec or conv for name, spec, conv in fields):
        raise ValidationError("Only {meeting_id} and {role} may stand in braces.")


PATIENT_CODE_PATTERN = RegexValidator(
    r"^[^{}]{0,60}\{seq(:0[1-9]d)?\}[^{}]{0,60}$",
    "Write the code around one {seq} (the next number), e.g. P-{seq:05d} for P-00001.",
)


class Account(models.Model):
    """A clinic: the tenant. Every other row belongs to exactly one account."""

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    time_zone = models.CharField(
        max_length=64, default="America/Los_Angeles", validators=[validate_time_zone]
    )
    created = models.DateTimeField(auto_now_add=True)
    video_link_template = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_video_link_template],
        help_text=VIDEO_LINK_HELP,
    )
    # The code the front desk's new-patient form proposes (scheduling.selectors.next_patient_code).
    patient_code_pattern = models.CharField(
        max_length=128, default="P-{seq:05d}", validators=[PATIENT_CODE_PATTERN]
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class AccountScopedQuerySet(models.QuerySet):
    def for_account(self, account):
        return self.filter(account=account)


class ClinicUserManager(UserManager.from_queryset(AccountScopedQuerySet)):
    pass


class UserType(models.IntegerChoices):
    """The API's user `type`: VSee's numbers for patients, providers and guests; 300 (ours) for the
    clinic's other staff (front desk, clinic admins)."""

    MEMBER = 200, "member"
    STAFF = 300, "staff"
    PROVIDER = 400, "provider"
    GUEST = 600, "guest"


class User(AbstractUser):
    """Usernames are unique within an account, so two clinics may both have a `dr.lee`."""

    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    username = models.CharField(max_length=150, validators=[AbstractUser.username_validator])
    external_code = models.CharField(
        max_length=128, blank=True, help_text="The caller's id for this user, from POST /users/sso."
    )
    is_guest = models.BooleanField(
        default=False, help_text="A one-time user from POST /users/sso (type 600)."
    )

    objects = ClinicUserManager()

    class Meta:
        permissions = [("unlock_login", "Can see and clear login lockouts of the clinic")]
        constraints = [
            models.UniqueConstraint(fields=["account", "username"], name="user_username_unique_per_account"),
            models.UniqueConstraint(
                fields=["username"],
                condition=Q(account__isnull=True),
                name="user_username_unique_without_account",
            ),
            models.UniqueConstraint(
                fields=["account", "external_code"],
                condition=~Q(external_code=""),
                name="user_external_code_unique_per_account",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        # set_password() leaves the new hash pending in _password until the save: a changed password
        # ends every API session of the user (the staff sessions end by Django's session hash check).
        password_changed = self._password is not None and not self._state.adding
        super().save(*args, **kwargs)
        if password_changed:
            ApiToken.objects.filter(user=self, revoked__isnull=True).update(revoked=timezone.now())

    @property
    def type(self) -> UserType:
        if self.is_provider:
            return UserType.PROVIDER
        if self.is_guest:
            return UserType.GUEST
        return UserType.MEMBER if self.is_member else UserType.STAFF

    @property
    def is_member(self) -> bool:
        return hasattr(self, "member")

    @property
    def is_provider(self) -> bool:
        return hasattr(self, "provider")


class ApiToken(models.Model):
    """A user's API token pair. Only SHA-256 digests are stored; the clear tokens are shown once.

    A refresh replaces the pair with one of the same family: a refresh token presented again after it
    was used (stolen and raced, or replayed) revokes the whole family."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    family = models.UUIDField(default=uuid.uuid4, db_index=True, editable=False)
    token_digest = models.CharField(max_length=64, unique=True)
    expires = models.DateTimeField()
    refresh_digest = models.CharField(max_length=64, unique=True)
    refresh_expires = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token of {self.user} (expires {self.expires:%Y-%m-%d %H:%M})"


class ApiCredential(models.Model):
    """An account's server-to-server key and secret (X-ApiKey + X-ApiSecret)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_credentials")
    key = models.CharField(max_length=64, unique=True)
    secret_digest = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.account.code}: {self.key}"


def validate_urgent_answers(value) -> None:
    """A field name to the list of answers that make a patient urgent: a bare string would be read letter
    by letter, so the shape is checked where staff type it."""
    shape = 'Write it as {"custom_chest_pain": ["Yes"], ...}: each intake field with a list of answers.'
    if not isinstance(value, dict):
        raise ValidationError({"urgent_answers": shape})
    for name, answers in value.items():
        if not str(name).strip() or not isinstance(answers, list) or not answers:
            raise ValidationError({"urgent_answers": f"{name!r}: {shape}"})
        if not all(isinstance(answer, str | int | float) and str(answer).strip() for answer in answers):
            raise ValidationError({"urgent_answers": f"{name!r}: each answer is a word or a number."})


class Room(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="rooms")
    code = models.CharField(max_length=64, validators=[code_validator])
    name = models.CharField(max_length=200)
    time_zone = models.CharField(
        max_length=64, default="America/Los_Angeles", validators=[validate_time_zone]
    )
    walkins_enabled = models.BooleanField(default=True)
    appointments_enabled = models.BooleanField(default=True)
    max_waiting_time = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds a walk-in or e-consult may wait before it is closed."
    )
    is_open = models.BooleanField(default=True)
    # Booking rules; availability reads them.
    slot_interval = models.PositiveIntegerField(default=15 * 60, help_text="Slot alignment in seconds.")
    min_notice = models.PositiveIntegerField(
        default=0, help_text="Seconds between now and the first bookable slot."
    )
    buffer_before = models.PositiveIntegerField(
        default=0, help_text="Seconds kept free before an appointment."
    )
    buffer_after = models.PositiveIntegerField(default=0, help_text="Seconds kept free after an appointment.")
    video_link_template = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_video_link_template],
        help_text=VIDEO_LINK_HELP + " Empty: the account's.",
    )
    urgent_answers = models.JSONField(
        default=dict,
        blank=True,
        help_text='Intake answers that make a patient urgent: {"custom_chest_pain": ["Yes"], ...}.',
    )

    intake_fields = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Names for the intake's custom fields, in the order shown: "
            '[{"name": "custom_fever", "label": "Temperature (°C)", "on_row": true}, ...]. '
            "on_row false keeps a field off the queue row (it still shows when the row is expanded). "
            "Fields not listed follow, named from their field name, on the row."
        ),
    )

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "code"], name="room_code_unique_per_account")
        ]
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def clean(self) -> None:
        super().clean()
        validate_urgent_answers(self.urgent_answers)
        errors = _intake_fields_errors(self.intake_fields)
        if errors:
            raise ValidationError({"intake_fields": errors})

    def intake_answers(self, answers: dict) -> list["IntakeAnswer"]:
        """An intake's custom answers as staff read them: the room's named fields in its order, then the
        rest in the order given, labelled from the field name (`derived`)."""
        if not self.intake_fields:  # the common case, on every row of every queue refresh
            return [
                IntakeAnswer(label=derived_label(n), value=v, on_row=True, derived=True)
                for n, v in answers.items()
            ]
        named = {f["name"]: f for f in self.intake_fields if isinstance(f, dict) and "name" in f}
        order = {name: i for i, name in enumerate(named)}
        listed = sorted((n for n in answers if n in named), key=order.__getitem__)
        rest = [n for n in answers if n not in named]
        return [
            IntakeAnswer(
                label=named[n].get("label") or derived_label(n),
                value=answers[n],
                on_row=named[n].get("on_row", True),
                derived=not named[n].get("label"),
            )
            for n in listed
        ] + [IntakeAnswer(label=derived_label(n), value=answers[n], on_row=True, derived=True) for n in rest]


def derived_label(name: str) -> str:
    """A custom field's label when its room gives none: custom_chest_pain -> "chest pain" (pages
    capitalise it)."""
    return name.removeprefix("custom_").replace("_", " ") or name


class IntakeAnswer(NamedTuple):
    """A tuple, so that a template unpacks it (`for label, value, on_row, derived in ...`) without a
    lookup per field: queue rows render these on every refresh."""

    label: str
    value: object
    on_row: bool
    derived: bool


def _intake_fields_errors(fields) -> list[str]:
    """What is wrong with a room's intake_fields, in words (empty when nothing is)."""
    if not isinstance(fields, list):
        return ['Give a list of fields: [{"name": "custom_fever", "label": "Temperature"}].']
    errors, seen = [], set()
    for i, field in enumerate(fields, start=1):
        if not isinstance(field, dict):
            errors.append(f"Field {i}: give an object with a name and a label.")
            continue
        name, label = field.get("name"), field.get("label", "")
        if not isinstance(name, str) or not name.strip():
            errors.append(f"Field {i}: give the intake field's name, e.g. custom_fever.")
        elif name in seen:
            errors.append(f"Field {i}: {name} is listed twice.")
        seen.add(name)
        if not isinstance(label, str) or len(label) > 100:
            errors.append(f"Field {i}: the label is text of at most 100 characters.")
        if not isinstance(field.get("on_row", True), bool):
            errors.append(f"Field {i}: on_row is true or false.")
        if unknown := sorted(set(field) - {"name", "label", "on_row"}):
            errors.append(f"Field {i}: unknown key {', '.join(unknown)} (use name, label, on_row).")
    return errors


class Consultation(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="consultations")
    description = models.CharField(max_length=200)
    duration = models.PositiveIntegerField(help_text="Seconds.")
    amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    capacity = models.PositiveSmallIntegerField(default=1, help_text="More than one makes it a group visit.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["room", "duration", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(duration__gt=0), name="consultation_duration_positive"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="consultation_capacity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.duration // 60} min)"

    @property
    def is_group(self) -> bool:
        return self.capacity > 1


class ProviderQuerySet(AccountScopedQuerySet):
    def in_room(self, room):
        return self.filter(rooms=room)

    def licensed_in(self, state: str):
        return self.filter(licenses__state=state)


class Provider(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="providers")
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="provider")
    title = models.CharField(max_length=50, blank=True, help_text="e.g. MD, NP")
    rooms = models.ManyToManyField(Room, related_name="providers", blank=True)
    time_zone = models.CharField(
        max_length=64, default="America/Los_Angeles", validators=[validate_time_zone]
    )

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = self.user.get_full_name() or self.user.username
        return f"Dr. {self.user.last_name}" if self.title in ("MD", "DO") and self.user.last_name else name

    @property
    def licensed_states(self) -> list[str]:
        return [lic.state for lic in self.licenses.all()]


class ProviderLicense(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="licenses")
    state = models.CharField(max_length=2, choices=US_STATE_CHOICES)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "state"], name="provider_license_unique")]
        ordering = ["state"]

    def __str__(self) -> str:
        return self.state


class Member(models.Model):
    """A patient of the clinic."""

    class Gender(models.TextChoices):
        MALE = "male", "Male"
        FEMALE = "female", "Female"
        OTHER = "other", "Other"
        UNKNOWN = "", "Not given"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="members")
    user = models.OneToOneField(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="member")
    code = models.CharField(max_length=128, help_text="The patient's id in the clinic's or partner's system.")
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    dob = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=10, choices=Gender.choices, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True, help_text="E.164")
    state = models.CharField(max_length=2, choices=US_STATE_CHOICES, blank=True)
    street_addr = models.CharField(max_length=255, blank=True)
    language = models.CharField(
        max_length=16,
        blank=True,
        help_text="The language of the patient's messages (e.g. es, fr-CA); empty: the clinic's.",
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "code"], name="member_code_unique_per_account")
        ]
        # Pattern operator classes, so that the front desk's prefix searches (a code's start, an area
        # code) use them whatever the collation; the last four digits of a phone have their own.
        indexes = [
            models.Index(fields=["account", "last_name", "first_name"]),
            models.Index(
                fields=["account", "phone"],
                name="member_phone_prefix_idx",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
            models.Index(
                fields=["account", "code"],
                name="member_code_prefix_idx",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
            models.Index(F("account"), Right("phone", 4), name="member_phone_last4_idx"),
        ]
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.code})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class AppendOnly(Exception):
    """The audit trail is never changed or removed by the application."""


class AuditEventQuerySet(AccountScopedQuerySet):
    def update(self, **kwargs):
        raise AppendOnly("Audit events are never changed.")

    def delete(self):
        raise AppendOnly("Audit events are never deleted.")


class AuditEvent(models.Model):
    """One access to patient data: who (the acting user; empty for the system), whom (the patient), what
    (object type and id), how (action, via) and from where. Written by `clinic.audit`, read by clinic
    admins; rows are only ever inserted (the model refuses changes and PostgreSQL refuses them too)."""

    class Action(models.TextChoices):
        READ = "read", "Viewed"
        LIST = "list", "Seen in a list"
        SEARCH = "search", "Found by a search"
        DOWNLOAD = "download", "Downloaded"
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"

    class ObjectType(models.TextChoices):
        VISIT = "visit", "Visit"
        INTAKE = "intake", "Intake form"
        FILE = "file", "File"
        MEMBER = "member", "Patient record"
        USER = "user", "User"

    class Via(models.TextChoices):
        PAGE = "page", "Staff page"
        API = "api", "API"
        TASK = "task", "Background task"
        # A patient acting through a signed link sent to them (no login).
        LINK = "link", "Patient's link"

    # PROTECT: a clinic with a trail cannot be deleted along with it. The people are plain ids without a
    # database constraint, so that deleting a user or a patient neither rewrites nor removes their trail.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        help_text="Who acted; empty for the system.",
    )
    member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        help_text="The patient whose data it was.",
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=10, choices=ObjectType.choices)
    object_id = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=4, choices=Via.choices)
    detail = models.CharField(max_length=200, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["account", "-at"], name="audit_account_at_idx"),
            # "Who saw this patient" and "what did this user see".
            models.Index(fields=["account", "member", "-at"], name="audit_member_at_idx"),
            models.Index(fields=["account", "user", "-at"], name="audit_user_at_idx"),
            models.Index(fields=["account", "object_type", "object_id", "-at"], name="audit_object_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly("Audit events are never changed.")
        # Never the UPDATE that Django tries first for an instance that carries a primary key.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Audit events are never deleted.")

    @property
    def actor_words(self) -> str:
        """Who, as an admin reads it (load with select_related("user"): a deleted user reads as such)."""
        if self.user is not None:
            return self.user.get_full_name() or self.user.username
        if self.user_id:
            return f"Deleted user #{self.user_id}"
        if self.via == self.Via.LINK:
            return "The patient, through a link sent to them"
        return "The system" if self.via == self.Via.TASK else "A partner system (API key)"

    @property
    def patient_words(self) -> str:
        if self.member is not None:
            return f"{self.member.full_name} ({self.member.code})"
        return f"Deleted patient #{self.member_id}" if self.member_id else ""
