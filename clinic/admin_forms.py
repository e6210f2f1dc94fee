"""The clinic admin's audit trail filters: one GET form for the page and its CSV export."""

import datetime as dt

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout, Submit
from django import forms

from clinic.models import AuditEvent


class AuditFilterForm(forms.Form):
    patient = forms.CharField(
        required=False, max_length=128, widget=forms.TextInput(attrs={"placeholder": "Name or code"})
    )
    person = forms.CharField(
        required=False,
        max_length=150,
        label="User",
        widget=forms.TextInput(attrs={"placeholder": "Name or username"}),
    )
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    action = forms.ChoiceField(choices=[("", "Any action"), *AuditEvent.Action.choices], required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_id = "audit-filters"
        self.helper.layout = Layout(
            Div(
                *(
                    Div(Field(name), css_class="col-6 col-md-4 col-xl")
                    for name in ("patient", "person", "date_from", "date_to", "action")
                ),
                Div(Submit("filter", "Filter", css_class="mt-md-4"), css_class="col-auto"),
                css_class="row g-2 align-items-start",
            )
        )

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def search_kwargs(self, zone) -> dict:
        """The filters for `clinic.audit.audit_events`, dates read as whole days in `zone`."""
        data = self.cleaned_data
        start = end = None
        if data.get("date_from"):
            start = dt.datetime.combine(data["date_from"], dt.time(), tzinfo=zone)
        if data.get("date_to"):
            end = dt.datetime.combine(data["date_to"] + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        return {
            "patient": data.get("patient") or "",
            "person": data.get("person") or "",
            "action": data.get("action") or "",
            "start": start,
            "end": end,
        }
