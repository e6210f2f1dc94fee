from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.conf import settings
from django.contrib.auth import authenticate

from clinic.lockout import is_locked_out, lockout_message


class StaffLoginForm(forms.Form):
    account = forms.CharField(label="Clinic code", max_length=64, initial=settings.DEFAULT_ACCOUNT_CODE)
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autofocus": True}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput)

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = None
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", "Log in", css_class="w-100"))

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        user = authenticate(
            self.request, account=data["account"], username=data["username"], password=data["password"]
        )
        if user is None:
            if is_locked_out(self.request):
                raise forms.ValidationError(lockout_message(), code="locked_out")
            raise forms.ValidationError("Wrong clinic code, username or password.")
        if not (user.is_provider or user.has_perm("visits.view_visit")):
            raise forms.ValidationError("This page is for clinic staff. Patients use the clinic's app.")
        self.user = user
        return data
