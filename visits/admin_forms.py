"""The clinic admin's visit filters: one GET form for the page, reused by the bulk export."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout, Submit
from django import forms

from clinic.models import Provider, Room
from visits.models import VisitStatus, VisitType, status_words
from visits.selectors import ADMIN_SORTS

SORT_CHOICES = [(key, key) for key in ADMIN_SORTS] + [(f"-{key}", f"-{key}") for key in ADMIN_SORTS]


class ProviderChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


class VisitFilterForm(forms.Form):
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    room = forms.ModelChoiceField(queryset=Room.objects.none(), required=False, empty_label="Any room")
    provider = ProviderChoiceField(
        queryset=Provider.objects.none(), required=False, empty_label="Any provider"
    )
    type = forms.TypedChoiceField(
        choices=[("", "Any type"), *((v, label.capitalize()) for v, label in VisitType.choices)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    status = forms.TypedChoiceField(
        choices=[("", "Any status"), *((v, status_words(v).capitalize()) for v in VisitStatus.values)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    patient = forms.CharField(
        required=False,
        max_length=128,
        label="Patient",
        widget=forms.TextInput(attrs={"placeholder": "Name or code"}),
    )
    closed_by = forms.ChoiceField(
        choices=[
            ("", "Any ending"),
            ("patient", "Closed by the patient"),
            ("provider", "Closed by the provider"),
            ("system", "Timed out (system)"),
            ("admin", "Cancelled by an admin"),
        ],
        required=False,
        label="Ended by",
    )
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, account, results_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].queryset = Room.objects.for_account(account)
        self.fields["provider"].queryset = Provider.objects.for_account(account).select_related("user")
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_id = "visit-filters"
        self.helper.attrs = {
            "hx-get": results_url,
            "hx-target": "#visit-results",
            "hx-push-url": "true",
            "hx-trigger": "submit, change from:select, change from:input[type=date]",
        }
        self.helper.layout = Layout(
            Div(
                *(
                    Div(Field(name), css_class="col-6 col-md-3 col-xl")
                    for name in (
                        "date_from",
                        "date_to",
                        "room",
                        "provider",
                        "type",
                        "status",
                        "closed_by",
                        "patient",
                    )
                ),
                Div(Submit("filter", "Filter", css_class="mt-md-4"), css_class="col-auto"),
                css_class="row g-2 align-items-start",
            ),
            "sort",
        )

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def search_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "room": data.get("room"),
            "provider": data.get("provider"),
            "type": data.get("type"),
            "status": data.get("status"),
            "patient": data.get("patient") or "",
            "closed_by": data.get("closed_by") or "",
            "sort": data.get("sort") or "-start",
        }
