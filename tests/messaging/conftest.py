import email
from email import policy

import pytest
from aiosmtpd.controller import Controller

from messaging import sms
from tests.processes import free_port


class Inbox:
    """What a real SMTP server on 127.0.0.1 received: parsed messages and their envelopes' recipients."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"

    def text_of(self, message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) that Django's SMTP backend talks to."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield inbox
    controller.stop()


@pytest.fixture(autouse=True)
def messaging_settings(settings):
    """Eager tasks (delivery runs at commit), text messages kept in `messaging.sms.outbox`."""
    from clinic.celery import app

    settings.SMS_BACKEND = "messaging.sms.LocmemBackend"
    settings.PUBLIC_URL = "https://clinic.example"
    sms.outbox.clear()
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield settings
    app.conf.task_always_eager, app.conf.task_eager_propagates = before
    sms.outbox.clear()
