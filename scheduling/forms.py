"""Forms of the front desk's booking pages and the clinic admin's hours page. Rules stay in services."""

import datetime as dt

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils import timezone

from clinic.errors import ServiceError
from clinic.models import US_STATE_CHOICES, Consultation, Member, Provider, Room
from clinic.services import phone_normalise
from messaging.models import Channel
from scheduling.models import ScheduleException, Weekday


def _no_form_tag(*, submit: str | None = None) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    if submit:
        helper.add_input(Submit("submit", submit))
    return helper


class ProviderChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Provider) -> str:
        return obj.display_name


class ConsultationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Consultation) -> str:
        return obj.description


class SlotSearchForm(forms.Form):
    """Room, consultation, provider or any, and a day: what the free slots are listed for."""

    room = forms.ModelChoiceField(queryset=Room.objects.none(), empty_label=None)
    consultation = ConsultationChoiceField(queryset=Consultation.objects.none(), empty_label=None)
    provider = ProviderChoiceField(
        queryset=Provider.objects.none(), required=False, empty_label="Any provider"
    )
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data=None, *, account, **kwargs):
        super().__init__(data, **kwargs)
        rooms = Room.objects.for_account(account).filter(appointments_enabled=True)
        self.fields["room"].queryset = rooms
        room = self._chosen_room(rooms)
        self.room = room
        self.fields["consultation"].queryset = Consultation.objects.filter(room=room, active=True, capacity=1)
        self.fields["provider"].queryset = (
            Provider.objects.for_account(account).in_room(room).select_related("user")
            if room
            else Provider.objects.none()
        )
        if room is not None:
            self.fields["room"].initial = room.pk
            self.fields["day"].initial = timezone.now().astimezone(room.zone).date()
        self.helper = _no_form_tag()

    def _chosen_room(self, rooms) -> Room | None:
        wanted = (self.data or {}).get("room") or self.initial.get("room")
        room = rooms.filter(pk=wanted).first() if str(wanted or "").isdigit() else None
        return room or rooms.first()


class PatientSearchForm(forms.Form):
    q = forms.CharField(label="Patient", min_length=2, max_length=100)


OLDEST_AGE_YEARS = 130


class PatientCreateForm(forms.Form):
    """A new patient, from the booking page. The code is proposed from the clinic's pattern; the phone is
    normalised here so that a possible duplicate is found by the number stored."""

    code = forms.CharField(
        label="Patient code",
        max_length=128,
        help_text="Proposed from the clinic's pattern; change it if the patient has one.",
        error_messages={"required": "Give the patient a code."},
    )
    first_name = forms.CharField(max_length=150, error_messages={"required": "Type the first name."})
    last_name = forms.CharField(max_length=150, error_messages={"required": "Type the last name."})
    dob = forms.DateField(
        label="Date of birth",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Type the date of birth as a date."},
    )
    phone = forms.CharField(required=False, max_length=40)
    email = forms.EmailField(
        required=False, max_length=254, error_messages={"invalid": "That is not an email address."}
    )
    state = forms.ChoiceField(choices=[("", "—"), *US_STATE_CHOICES], required=False)
    consent_email = forms.BooleanField(label="Agrees to appointment messages by email", required=False)
    consent_sms = forms.BooleanField(label="Agrees to appointment messages by text", required=False)

    def __init__(self, *args, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["dob"].widget.attrs.update(max=today.isoformat())
        self.helper = _no_form_tag()

    def clean_dob(self):
        dob = self.cleaned_data["dob"]
        if dob and dob > self.today:
            raise forms.ValidationError("The date of birth is in the future.")
        try:
            oldest = self.today.replace(year=self.today.year - OLDEST_AGE_YEARS)
        except ValueError:  # 29 February
            oldest = self.today.replace(year=self.today.year - OLDEST_AGE_YEARS, day=28)
        if dob and dob < oldest:
            raise forms.ValidationError(f"The date of birth is more than {OLDEST_AGE_YEARS} years ago.")
        return dob

    def clean_phone(self):
        try:
            return phone_normalise(raw=self.cleaned_data["phone"])
        except ServiceError as exc:
            raise forms.ValidationError("That is not a phone number.") from exc

    def clean(self):
        data = super().clean()
        _consent_needs_address(self, email=data.get("email"), phone=data.get("phone"))
        return data

    @property
    def patient_fields(self) -> dict:
        """What `member_create` takes: the fields typed, without the consent answers."""
        return {k: v for k, v in self.cleaned_data.items() if v and not k.startswith("consent_")}

    @property
    def consents(self) -> dict[str, bool]:
        return consents_of(self.cleaned_data)


def consents_of(data: dict) -> dict[str, bool]:
    """The consent answers of a form, by channel (as `messaging.services.consents_set` takes them)."""
    return {Channel.EMAIL: data["consent_email"], Channel.SMS: data["consent_sms"]}


def _consent_needs_address(form: forms.Form, *, email, phone) -> None:
    # A message needs somewhere to go: the answer is refused beside the box rather than a silent no.
    if form.cleaned_data.get("consent_email") and not email:
        form.add_error("consent_email", "Type the patient's email address to send them email.")
    if form.cleaned_data.get("consent_sms") and not phone:
        form.add_error("consent_sms", "Type the patient's phone number to send them text messages.")


class ConsentForm(forms.Form):
    """A known patient's consent to appointment messages, as the front desk is told it."""

    consent_email = forms.BooleanField(label="Agrees to appointment messages by email", required=False)
    consent_sms = forms.BooleanField(label="Agrees to appointment messages by text", required=False)

    def __init__(self, *args, patient: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.helper = _no_form_tag()

    def clean(self):
        data = super().clean()
        _consent_needs_address(self, email=self.patient.email, phone=self.patient.phone)
        return data


class BookForm(forms.Form):
    """The slot picked (the search form's fields travel beside it, to list fresh slots afterwards), or
    one of the nearest free slots offered after it was taken (`alternative`: "start:provider")."""

    start = forms.IntegerField(widget=forms.HiddenInput)
    book_provider = forms.IntegerField(required=False, min_value=0, help_text="0: to be decided.")
    member = forms.CharField(max_length=128, error_messages={"required": "Choose the patient."})
    reason = forms.CharField(
        label="Reason for the visit",
        required=False,
        max_length=2000,
        error_messages={"max_length": "Keep the reason under %(limit_value)d characters."},
    )
    alternative = forms.RegexField(regex=r"^\d+:\d*$", required=False)

    def clean(self):
        data = super().clean()
        if data.get("alternative"):
            start, provider = data["alternative"].split(":")
            data["start"], data["book_provider"] = int(start), int(provider or 0)
        return data


class RescheduleForm(forms.Form):
    start = forms.IntegerField()
    confirmed = forms.BooleanField(required=False)  # the answer to "Move … to …?"


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=200, error_messages={"required": "Say why it is cancelled."})


class DayForm(forms.Form):
    room = forms.ModelChoiceField(queryset=Room.objects.none(), empty_label=None)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data=None, *, rooms, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["room"].queryset = rooms
        self.helper = _no_form_tag()


class CalendarForm(DayForm):
    view = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week")], required=False)


class CalendarMoveForm(forms.Form):
    """Where an appointment moves: the next free slot, a time on a day, or (dropped) start and provider."""

    next_free = forms.BooleanField(required=False)
    day = forms.DateField(required=False)
    time = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    start = forms.IntegerField(required=False)
    provider = forms.IntegerField(required=False)
    confirmed = forms.BooleanField(required=False)  # the answer to "Move … to …?"

    def clean(self):
        data = super().clean()
        if not (data.get("next_free") or data.get("start") or (data.get("day") and data.get("time"))):
            raise forms.ValidationError("Choose the new time.")
        return data


class WorkingHoursForm(forms.Form):
    room = forms.ModelChoiceField(queryset=Room.objects.none(), empty_label=None)
    weekday = forms.TypedChoiceField(label="Day", choices=Weekday.choices, coerce=int)
    start_time = forms.TimeField(
        label="From",
        widget=forms.TimeInput(attrs={"type": "time"}),
        error_messages={"required": "Give the start."},
    )
    end_time = forms.TimeField(
        label="To",
        widget=forms.TimeInput(attrs={"type": "time"}),
        error_messages={"required": "Give the end."},
    )
    overnight = forms.BooleanField(
        label="Overnight: ends the next day", required=False, help_text="Tick it for a shift past midnight."
    )

    def __init__(self, *args, rooms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].queryset = rooms
        self.helper = _no_form_tag(submit="Add hours")

    def clean(self):
        data = super().clean()
        start, end, overnight = data.get("start_time"), data.get("end_time"), data.get("overnight")
        if start is None or end is None:
            return data
        whole_day = start == end == dt.time(0)
        if end <= start and not whole_day and not overnight:
            self.add_error(
                "end_time", "The end is before the start. Tick “Overnight” if the shift ends the next day."
            )
        elif overnight and (end > start or whole_day):
            self.add_error("overnight", "An overnight shift ends the next day, before its start time.")
        return data


class ScheduleExceptionForm(forms.Form):
    kind = forms.ChoiceField(choices=ScheduleException.Kind.choices)
    room = forms.ModelChoiceField(queryset=Room.objects.none(), required=False, empty_label="Every room")
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(initial=dt.time(0), widget=forms.TimeInput(attrs={"type": "time"}))
    end_time = forms.TimeField(
        initial=dt.time(0), widget=forms.TimeInput(attrs={"type": "time"}), help_text="00:00-00:00: all day."
    )
    note = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, rooms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].queryset = rooms
        self.helper = _no_form_tag(submit="Add exception")
