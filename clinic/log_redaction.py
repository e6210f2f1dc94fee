"""The secrets in the paths of the pages opened without a login (patients' links, providers' calendar
feeds) stay out of the logs: the web server's access log and Django's request warnings write the path of
each request, and anyone reading a log line could otherwise open the appointment or the calendar."""

import logging
import re

# /a/<token>/confirm/, /offer/<token>/, /scheduling/feeds/<secret>.ics: tokens are 43 URL-safe characters.
SECRET_IN_PATH = re.compile(r"(/a/|/offer/|/scheduling/feeds/)[A-Za-z0-9_-]{16,}")
LOGGERS = ("uvicorn.access", "django.request", "django.server")


def redact(text: str) -> str:
    return SECRET_IN_PATH.sub(r"\1[secret]", text)


class SecretUrlFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if SECRET_IN_PATH.search(message):
            record.msg, record.args = redact(message), ()
        return True


def install() -> None:
    """Called once per process (ClinicConfig.ready): filters on the loggers themselves, so that whatever
    handlers and formats the server configured stay as they are."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretUrlFilter) for f in logger.filters):
            logger.addFilter(SecretUrlFilter())
