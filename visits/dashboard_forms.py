"""The provider dashboard's forms: finishing a visit in progress."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.urls import reverse

from visits.models import PROVIDER_CLOSE_REASONS, CloseReason


def _htmx_helper(*, url: str, target: str, button: Submit) -> FormHelper:
    helper = FormHelper()
    helper.form_action = url
    helper.attrs = {"hx-post": url, "hx-target": target, "hx-swap": "outerHTML"}
    helper.add_input(button)
    return helper


class VisitCompleteForm(forms.Form):
    notes = forms.CharField(
        required=False,
        # hx-preserve: the notes being typed survive the section reloading after another action.
        widget=forms.Textarea(attrs={"rows": 3, "hx-preserve": "true"}),
        help_text="Kept as simple html: bold, italic, underline, paragraphs and lists.",
    )

    def __init__(self, *args, visit_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.auto_id = f"id_complete_{visit_id}_%s"
        self.helper = _htmx_helper(
            url=reverse("visits:complete", args=[visit_id]),
            target=f"#in-progress-{visit_id}",
            button=Submit("complete", "Complete", css_class="btn-success btn-sm"),
        )


class VisitCloseForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("", "Choose a reason…")]
        + [(value, CloseReason(value).label) for value in PROVIDER_CLOSE_REASONS],
        error_messages={"required": "Choose why the visit ends."},
    )
    note = forms.CharField(
        required=False,
        max_length=500,
        label="Note",
        widget=forms.TextInput(attrs={"placeholder": "Optional: in your words"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("reason") == CloseReason.PROVIDER_OTHER and not (data.get("note") or "").strip():
            self.add_error("note", "Say why, in a few words.")
        return data

    def __init__(self, *args, visit_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.auto_id = f"id_close_{visit_id}_%s"
        self.helper = _htmx_helper(
            url=reverse("visits:close", args=[visit_id]),
            target=f"#in-progress-{visit_id}",
            button=Submit("close", "Close visit", css_class="btn-outline-danger btn-sm"),
        )
