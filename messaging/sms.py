"""Text messages: a small backend interface, like Django's mail backends, chosen by `SMS_BACKEND`.

No vendor is wired in. A backend for one is a class with `send_messages(messages) -> int` that raises
`SmsError` (or any exception) for a message that could not be handed over; delivery retries it.
"""

import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sms:
    to: str  # E.164
    body: str


class SmsError(Exception):
    pass


class SmsBackend(Protocol):
    def send_messages(self, messages: list[Sms]) -> int:
        """Hand the messages to the carrier; returns how many were taken."""


class LoggingBackend:
    """Development: writes each message to the log (INFO, logger `messaging.sms`) and sends nothing. Its
    text only with DEBUG on: elsewhere a log must not keep a patient's links (they open their appointment)."""

    def send_messages(self, messages: list[Sms]) -> int:
        for message in messages:
            if settings.DEBUG:
                log.info("SMS to %s: %s", message.to, message.body)
            else:
                log.info("SMS to ...%s: %d characters, not sent", message.to[-2:], len(message.body))
        return len(messages)


# What the locmem backend was given (tests read and clear it, like django.core.mail.outbox).
outbox: list[Sms] = []


class LocmemBackend:
    """Tests: keeps the messages in `messaging.sms.outbox`."""

    def send_messages(self, messages: list[Sms]) -> int:
        outbox.extend(messages)
        return len(messages)


def get_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()
