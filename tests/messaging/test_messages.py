import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from messaging import services, sms
from messaging.models import Channel, Message, MessageStatus, MessageTemplate
from messaging.selectors import consent_history, has_consent
from messaging.services import consent_record, message_send, messages_deliver, messages_sweep
from tests.clinic.factories import MemberFactory

pytestmark = pytest.mark.django_db

INVITE = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


@pytest.fixture
def patient(account):
    return MemberFactory(account=account, first_name="Pat", email="pat@example.org", phone="+14155550123")


@pytest.fixture
def templates(account):
    MessageTemplate.objects.create(
        account=account,
        kind="note",
        subject="Hello {{ first_name }}",
        text="Dear {{ first_name }}, see you {{ when }}.",
        html="<p>Dear {{ first_name }}, see you {{ when }}.</p>",
        sms="{{ first_name }}: see you {{ when }}.",
    )
    MessageTemplate.objects.create(
        account=account,
        kind="note",
        language="es",
        subject="Hola {{ first_name }}",
        text="Querido {{ first_name }}, hasta {{ when }}.",
        html="<p>Querido {{ first_name }}, hasta {{ when }}.</p>",
    )


def send(account, patient, key="k-1", **kwargs):
    kwargs.setdefault("context", {"first_name": patient.first_name, "when": "Tom & Jerry's <b>"})
    return message_send(account=account, patient=patient, kind="note", dedupe_key=key, **kwargs)


def test_a_message_reaches_a_real_smtp_server_in_the_patients_language(
    account, patient, templates, smtp, django_capture_on_commit_callbacks
):
    patient.language = "es-MX"
    consent_record(patient=patient, channel=Channel.EMAIL, granted=True, source="intake form")
    with django_capture_on_commit_callbacks(execute=True):
        message = send(
            account, patient, attachments=[("invite.ics", INVITE, "text/calendar; method=REQUEST")]
        )

    [received] = smtp.messages
    assert smtp.recipients == [["pat@example.org"]]
    assert received["Subject"] == "Hola Pat"
    # The plain part is not HTML-escaped; the HTML part is.
    assert smtp.text_of(received).strip() == "Querido Pat, hasta Tom & Jerry's <b>."
    html = received.get_body(preferencelist=("html",)).get_content()
    assert "Tom &amp; Jerry&#x27;s &lt;b&gt;" in html
    [invite] = [part for part in received.iter_attachments() if part.get_filename() == "invite.ics"]
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    assert "METHOD:REQUEST" in invite.get_content()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.sent_at is not None
    assert message.language == "es"


def test_the_clinics_default_wording_when_it_has_none_in_the_patients_language(
    account, patient, templates, smtp, django_capture_on_commit_callbacks
):
    patient.language = "fr"
    consent_record(patient=patient, channel=Channel.EMAIL, granted=True, source="intake form")
    with django_capture_on_commit_callbacks(execute=True):
        send(account, patient)
    assert [m["Subject"] for m in smtp.messages] == ["Hello Pat"]


def test_the_template_files_when_the_clinic_wrote_none(
    account, patient, smtp, settings, tmp_path, django_capture_on_commit_callbacks
):
    folder = tmp_path / "messaging"
    folder.mkdir()
    (folder / "hello.subject").write_text("Welcome, {{ first_name }}\n")
    (folder / "hello.txt").write_text("Hi {{ first_name }} & co.")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    consent_record(patient=patient, channel=Channel.EMAIL, granted=True, source="front desk")
    with django_capture_on_commit_callbacks(execute=True):
        message_send(
            account=account, patient=patient, kind="hello", context={"first_name": "Pat"}, dedupe_key="h"
        )
    [received] = smtp.messages
    assert received["Subject"] == "Welcome, Pat"
    assert smtp.text_of(received).strip() == "Hi Pat & co."
    assert received.get_body(preferencelist=("html",)) is None  # the files have no .html


def test_sending_twice_with_one_key_sends_once(
    account, patient, templates, smtp, django_capture_on_commit_callbacks
):
    consent_record(patient=patient, channel=Channel.EMAIL, granted=True, source="intake form")
    with django_capture_on_commit_callbacks(execute=True):
        first = send(account, patient)
    with django_capture_on_commit_callbacks(execute=True):
        second = send(account, patient, context={"first_name": "Other", "when": "later"})
    assert second.pk == first.pk
    assert len(smtp.messages) == 1
    assert Message.objects.count() == 1
    # A delivery asked for again (a redelivered task) finds it sent.
    assert messages_deliver(message_ids=[first.pk]) == 0
    assert len(smtp.messages) == 1


def test_no_consent_sends_nothing_and_says_why(
    account, patient, templates, smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert send(account, patient) is None
    refused = Message.objects.get(dedupe_key="k-1")
    assert refused.status == MessageStatus.REFUSED
    assert refused.reason == "Not sent: no consent to email; no consent to text message."
    assert smtp.messages == [] and sms.outbox == []


def test_withdrawn_consent_is_kept_as_history_and_holds(
    account, patient, templates, smtp, django_capture_on_commit_callbacks
):
    consent_record(patient=patient, channel=Channel.EMAIL, granted=True, source="intake form")
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        consent_record(
            patient=patient, channel=Channel.EMAIL, granted=False, source="phone call to front desk"
        )
    assert not has_consent(patient, Channel.EMAIL)
    assert [(c.granted, c.source) for c in consent_history(patient)] == [
        (False, "phone call to front desk"),
        (True, "intake form"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert send(account, patient, channel=Channel.EMAIL) is None
    assert Message.objects.get().reason == "Not sent: no consent to email."
    assert smtp.messages == []


def test_a_text_message_when_only_that_is_consented(
    account, patient, templates, smtp, django_capture_on_commit_callbacks
):
    consent_record(patient=patient, channel=Channel.SMS, granted=True, source="intake form")
    with django_capture_on_commit_callbacks(execute=True):
        message = send(account, patient, context={"first_name": "Pat", "when": "Monday"})
    assert sms.outbox == [sms.Sms(to="+14155550123", body="Pat: see you Monday.")]
    assert smtp.messages == []
    message.refresh_from_db()
    assert (message.channel, message.status) == (Channel.SMS, MessageStatus.SENT)


def test_no_address_is_a_reason_too(account, templates, django_capture_on_commit_callbacks):
    patient = MemberFactory(account=account, email="", phone="")
    consent_record(patient=patient, channel=Channel.EMAIL, granted=True, source="intake form")
    with django_capture_on_commit_callbacks(execute=True):
        assert send(account, patient, channel=Channel.EMAIL) is None
    assert Message.objects.get().reason == "Not sent: no email address on file."


def test_a_refused_recipient_is_retried_later_then_sent(
    account, patient, templates, smtp, django_capture_on_commit_callbacks
):
    consent_record(patient=patient, channel=Channel.EMAIL, granted=True, source="intake form")
    smtp.refuse.add("pat@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        message = send(account, patient)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 1)
    assert "550" in message.reason
    assert messages_sweep() == 0  # not due yet
    smtp.refuse.clear()
    with (
        time_machine.travel(timezone.now() + dt.timedelta(minutes=2)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert messages_sweep() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(smtp.messages) == 1


def test_a_check_of_the_sender_drops_a_message_no_longer_wanted(
    account, patient, templates, smtp, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(
        services._send_checks, "note", lambda messages: {m.pk: "Cancelled." for m in messages}
    )
    consent_record(patient=patient, channel=Channel.EMAIL, granted=True, source="intake form")
    with django_capture_on_commit_callbacks(execute=True):
        message = send(account, patient)
    message.refresh_from_db()
    assert (message.status, message.reason) == (MessageStatus.CANCELLED, "Cancelled.")
    assert smtp.messages == []


def test_never_sent_past_its_time(account, patient, templates, smtp):
    consent_record(patient=patient, channel=Channel.EMAIL, granted=True, source="intake form")
    message = send(account, patient, not_after=timezone.now() + dt.timedelta(minutes=1))
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        assert messages_deliver(message_ids=[message.pk]) == 0
    message.refresh_from_db()
    assert (message.status, message.reason) == (MessageStatus.CANCELLED, "Too late to send.")
    assert smtp.messages == []


def test_another_clinics_patient_is_refused(account, templates):
    from clinic.errors import NotFound

    stranger = MemberFactory()
    with pytest.raises(NotFound):
        send(account, stranger)
