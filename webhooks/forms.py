from django import forms

from webhooks.event_types import EventType


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Receiver URL",
        max_length=2000,
        widget=forms.URLInput(
            attrs={"placeholder": "https://crm.example.org/hooks/clinic", "autocomplete": "off"}
        ),
    )
    events = forms.MultipleChoiceField(
        label="Send these events",
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[EventType.VISIT_CREATED, EventType.VISIT_UPDATED, EventType.VISIT_ENDED],
    )
