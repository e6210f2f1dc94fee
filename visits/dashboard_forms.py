"""The provider dashboard's forms: finishing a visit in progress, and notes on one that ended."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.urls import reverse

from visits.models import PROVIDER_CLOSE_REASONS, CloseReason, NoteDraft

NOTES_HELP = (
    "Saved as you type. Blank lines start paragraphs; bold, italic, underline and lists are kept as "
    "simple html."
)


def _htmx_helper(*, url: str, target: str, button: Submit) -> FormHelper:
    helper = FormHelper()
    helper.form_action = url
    helper.attrs = {"hx-post": url, "hx-target": target, "hx-swap": "outerHTML"}
    helper.add_input(button)
    return helper


def _action(name: str, visit_id: int, page: str) -> str:
    # The visit page's forms say so: their answer is that page's, not a dashboard card.
    url = reverse(name, args=[visit_id])
    return f"{url}?page=detail" if page == "detail" else url


def _target(visit_id: int, page: str) -> str:
    return "#visit-actions" if page == "detail" else f"#in-progress-{visit_id}"


def _notes_field(*, required: bool) -> forms.CharField:
    return forms.CharField(
        required=required,
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 4, "class": "notes-input"}),
        help_text=NOTES_HELP,
        error_messages={"required": "Write the notes before saving them."},
    )


def _notes_draft_attrs(form: forms.Form, *, visit_id: int, draft: NoteDraft | None, saved: str) -> None:
    """The notes textarea saves itself as a draft (static/js/notes.js). One id per visit on a page, and
    hx-preserve: a card reloading (or turning into "Patient left") keeps what is being typed."""
    widget = form.fields["notes"].widget
    widget.attrs.update(
        {
            "id": f"notes-{visit_id}",
            "hx-preserve": "true",
            "data-draft-url": reverse("visits:notes-draft", args=[visit_id]),
            "data-draft-revision": str(draft.revision if draft else 0),
            "data-draft-visit": str(visit_id),
            # When the draft shown was saved, in the provider's time ("Draft saved 10:42").
            "data-draft-saved": saved,
        }
    )
    if draft is not None and not form.is_bound and not form.initial.get("notes"):
        form.initial["notes"] = draft.text


class _NotesForm(forms.Form):
    """A notes textarea that saves itself as a draft, posted by htmx to `action` with `button`."""

    id_prefix = action = ""
    button: tuple[str, str, str] = ("", "", "")  # name, words, css classes

    def __init__(
        self,
        *args,
        visit_id: int,
        draft: NoteDraft | None = None,
        draft_saved: str = "",
        page: str = "dashboard",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.auto_id = f"id_{self.id_prefix}_{visit_id}_%s"
        _notes_draft_attrs(self, visit_id=visit_id, draft=draft, saved=draft_saved)
        self.helper = _htmx_helper(
            url=_action(self.action, visit_id, page),
            target=_target(visit_id, page),
            button=Submit(*self.button[:2], css_class=self.button[2]),
        )


class VisitCompleteForm(_NotesForm):
    notes = _notes_field(required=False)
    id_prefix, action = "complete", "visits:complete"
    button = ("complete", "Complete", "btn-success btn-sm")


class VisitNotesForm(_NotesForm):
    """Notes on a visit that ended before the provider completed it (the patient left)."""

    notes = _notes_field(required=True)
    id_prefix, action = "notes", "visits:notes-add"
    button = ("save_notes", "Save notes", "btn-sm")


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

    def __init__(self, *args, visit_id: int, page: str = "dashboard", **kwargs):
        super().__init__(*args, **kwargs)
        self.auto_id = f"id_close_{visit_id}_%s"
        self.helper = _htmx_helper(
            url=_action("visits:close", visit_id, page),
            target=_target(visit_id, page),
            button=Submit("close", "Close visit", css_class="btn-outline-danger btn-sm"),
        )
