"""Writing a message from its templates: the clinic's own (`MessageTemplate`, in the patient's language when
the clinic wrote one), else the files templates/messaging/<kind>.subject, .txt, .html (optional) and .sms
(optional: the text is sent instead). Plain parts are rendered without HTML escaping; the HTML part with.
"""

from dataclasses import dataclass

from django.template import Context, TemplateDoesNotExist, engines
from django.utils import translation

from messaging.models import MessageTemplate

PARTS = ("subject", "text", "html", "sms")
SMS_MAX_LENGTH = 1600
_FILES = {"subject": "subject", "text": "txt", "html": "html", "sms": "sms"}


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    text: str
    html: str
    sms: str


def _inert(value):
    """Only words, numbers and dicts of them reach a template: the templates are the clinics' own (in the
    database), and through a model instance they could read its relations (the provider's user, the
    account's patients) into a message."""
    if isinstance(value, dict):
        return {str(key): _inert(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def language_candidates(language: str) -> list[str]:
    """ "es-MX" -> ["es-mx", "es", ""]: the most specific wording the clinic has, then its default."""
    language = language.strip().lower().replace("_", "-")
    found = [language, language.split("-")[0], ""] if language else [""]
    return list(dict.fromkeys(found))


class TemplateBook:
    """The templates of a batch of messages: the clinics' own read in one query, each compiled once."""

    def __init__(self, *, account_ids, kinds):
        rows = MessageTemplate.objects.filter(account_id__in=set(account_ids), kind__in=set(kinds))
        self._rows = {(row.account_id, row.kind, row.language.lower()): row for row in rows}
        self._compiled: dict[tuple, tuple[str, dict]] = {}
        self._engine = engines["django"].engine

    def render(self, *, account_id: int, kind: str, language: str, context: dict) -> Rendered:
        used, templates = self._templates(account_id, kind, language)
        context = _inert(context)
        with translation.override(used or None):
            out = {
                part: template.render(Context(context, autoescape=part == "html")) if template else ""
                for part, template in templates.items()
            }
        return Rendered(
            language=used,
            subject=" ".join(out["subject"].split())[:300],
            text=out["text"].strip() + "\n",
            html=out["html"],
            # A carrier takes at most 1,600 characters (ten parts): a clinic's long wording is cut there.
            sms=(out["sms"] or out["text"]).strip()[:SMS_MAX_LENGTH],
        )

    def _templates(self, account_id: int, kind: str, language: str) -> tuple[str, dict]:
        key = (account_id, kind, language)
        if key not in self._compiled:
            self._compiled[key] = self._compile(account_id, kind, language)
        return self._compiled[key]

    def _compile(self, account_id: int, kind: str, language: str) -> tuple[str, dict]:
        for candidate in language_candidates(language):
            row = self._rows.get((account_id, kind, candidate))
            if row is not None:
                sources = {part: getattr(row, part) for part in PARTS}
                return candidate, {p: self._engine.from_string(s) if s else None for p, s in sources.items()}
        templates = {}
        for part in PARTS:
            try:
                templates[part] = self._engine.get_template(f"messaging/{kind}.{_FILES[part]}")
            except TemplateDoesNotExist:
                if part in ("subject", "text"):
                    raise
                templates[part] = None
        # The files are the clinic's default wording, whatever the patient's language.
        return "", templates
