from collections.abc import Iterable

from django.db.models import QuerySet

from clinic.models import Member
from messaging.models import Consent


def has_consent(patient: Member, channel: str) -> bool:
    """Whether the patient's newest statement for `channel` grants it (none: not consented)."""
    newest = Consent.objects.filter(member=patient, channel=channel).order_by("-at", "-id").first()
    return bool(newest and newest.granted)


def consents_granted(*, member_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(member id, channel) of every channel each of the patients consents to now, in one query."""
    rows = (
        Consent.objects.filter(member_id__in=set(member_ids))
        .order_by("member_id", "channel", "-at", "-id")
        .values_list("member_id", "channel", "granted")
    )
    # A patient's history is a few rows: the first of each (patient, channel) is the newest (portable,
    # where DISTINCT ON is PostgreSQL's alone).
    newest: dict[tuple[int, str], bool] = {}
    for member_id, channel, granted in rows:
        newest.setdefault((member_id, channel), granted)
    return {key for key, granted in newest.items() if granted}


def consent_history(patient: Member) -> QuerySet[Consent]:
    """Every statement of the patient's consent, newest first."""
    return Consent.objects.filter(member=patient).order_by("-at", "-id")


def consents_current(patient: Member) -> dict[str, Consent]:
    """The newest statement per channel of the patient's consent (a channel never asked about is absent)."""
    current: dict[str, Consent] = {}
    for consent in consent_history(patient).select_related("recorded_by"):
        current.setdefault(consent.channel, consent)
    return current
