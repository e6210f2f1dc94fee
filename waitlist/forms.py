"""The front desk's waitlist form. Rules stay in services."""

import datetime as dt

from crispy_forms.helper import FormHelper
from django import forms
from django.utils import timezone

from clinic.models import Consultation, Provider, Room
from waitlist.models import TIMES_OF_DAY, WEEKDAY_NAMES


class _ProviderChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Provider) -> str:
        return obj.display_name


class _ConsultationChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Consultation) -> str:
        return obj.description


def _bits(values) -> int:
    return sum(int(v) for v in values)


class EntryForm(forms.Form):
    """A patient waiting for a freed slot of `room`."""

    patient = forms.CharField(
        max_length=150, help_text="The patient's id, or their full name as it is on file."
    )
    consultation = _ConsultationChoice(queryset=Consultation.objects.none(), empty_label=None)
    provider = _ProviderChoice(queryset=Provider.objects.none(), required=False, empty_label="Any provider")
    earliest = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    latest = forms.DateField(label="Until", widget=forms.DateInput(attrs={"type": "date"}))
    weekdays = forms.TypedMultipleChoiceField(
        choices=[(1 << i, name) for i, name in enumerate(WEEKDAY_NAMES)],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any day.",
    )
    times_of_day = forms.TypedMultipleChoiceField(
        label="Times of day",
        choices=TIMES_OF_DAY,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any time.",
    )
    note = forms.CharField(max_length=200, required=False)

    def __init__(self, data=None, *, room: Room, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["consultation"].queryset = Consultation.objects.filter(room=room, active=True, capacity=1)
        self.fields["provider"].queryset = (
            Provider.objects.for_account(room.account_id).in_room(room).select_related("user")
        )
        today = timezone.now().astimezone(room.zone).date()
        self.fields["earliest"].initial = today
        self.fields["latest"].initial = today + dt.timedelta(days=14)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean(self):
        data = super().clean()
        if data.get("earliest") and data.get("latest") and data["latest"] < data["earliest"]:
            self.add_error("latest", "The last day is before the first.")
        data["weekdays"] = _bits(data.get("weekdays") or [])
        data["times_of_day"] = _bits(data.get("times_of_day") or [])
        return data
