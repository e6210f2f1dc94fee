"""What a clinic's own message templates (stored in the database) can reach, and the size and logging of
text messages."""

import logging

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from clinic.models import validate_video_link_template
from messaging import sms
from messaging.models import MessageTemplate
from messaging.rendering import TemplateBook
from tests.scheduling.conftest import clock  # noqa: F401 (fixture)
from tests.waitlist.conftest import QUARTER, TEN, eager_tasks, hours, patient, wait  # noqa: F401
from waitlist import services

REACHING = "{{ provider.user.password }}|{{ provider.user.account.code }}|{{ room.account.members.all }}"


@pytest.mark.usefixtures("clock", "hours")
def test_a_clinic_template_reaches_only_the_words_of_a_waitlist_offer(
    account, room, consultation, provider, front_desk, django_capture_on_commit_callbacks
):
    MessageTemplate.objects.create(
        account=account,
        kind="waitlist_offer",
        subject="Free: {{ when }}",
        text="{{ room.name }} ({{ room.time_zone }}) with {{ provider.display_name }}: " + REACHING,
    )
    wait(account, room, consultation, front_desk, patient(account, "Ada", "Lovelace"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.offers_make(
            account_id=account.pk, room_id=room.pk, provider_id=provider.pk, consultation_id=consultation.pk,
            start=TEN, end=TEN + QUARTER,
        )  # fmt: skip
    (message,) = mail.outbox
    body = message.body
    assert f"{room.name} ({room.time_zone}) with {provider.display_name}: ||" in body
    assert provider.user.password not in body and account.code not in body and "Lovelace" not in body


def test_no_model_reaches_a_template_whatever_the_caller_passes(account, provider):
    MessageTemplate.objects.create(account=account, kind="probe", subject="s", text=REACHING)
    book = TemplateBook(account_ids=[account.pk], kinds=["probe"])
    rendered = book.render(account_id=account.pk, kind="probe", language="", context={"provider": provider})
    assert rendered.text.strip() == "||"


def test_a_long_clinic_wording_is_cut_to_what_a_carrier_takes(account):
    MessageTemplate.objects.create(account=account, kind="probe", subject="s", text="x", sms="{{ a }}" * 500)
    book = TemplateBook(account_ids=[account.pk], kinds=["probe"])
    rendered = book.render(account_id=account.pk, kind="probe", language="", context={"a": "word "})
    assert len(rendered.sms) == 1600


def test_the_logging_sms_backend_keeps_no_links_in_the_log_outside_debug(settings, caplog):
    settings.DEBUG = False
    body = "Confirm: https://clinic.example/a/SECRETTOKEN/confirm/"
    with caplog.at_level(logging.INFO, logger="messaging.sms"):
        sms.LoggingBackend().send_messages([sms.Sms(to="+15551234567", body=body)])
    assert "SECRETTOKEN" not in caplog.text and "1234567" not in caplog.text


@pytest.mark.parametrize(
    "template",
    [
        "https://meet.example/{meeting_id}/{meeting_id:>99999999}",
        "https://meet.example/{meeting_id}/{role.__class__}",
        "https://meet.example/{meeting_id}/{role!r}",
        "https://meet.example/{meeting_id}/{}",
    ],
)
def test_a_video_link_template_holds_only_the_bare_names(template):
    with pytest.raises(ValidationError):
        validate_video_link_template(template)


def test_a_video_link_template_with_both_names_is_fine():
    validate_video_link_template("https://meet.example/{meeting_id}?as={role}")


def test_a_name_with_line_breaks_stays_on_the_subject_line(account):
    MessageTemplate.objects.create(account=account, kind="probe", subject="Hello {{ first_name }}", text="x")
    book = TemplateBook(account_ids=[account.pk], kinds=["probe"])
    context = {"first_name": "Ada\r\nBcc: everyone@example.org"}
    rendered = book.render(account_id=account.pk, kind="probe", language="", context=context)
    assert rendered.subject == "Hello Ada Bcc: everyone@example.org"
