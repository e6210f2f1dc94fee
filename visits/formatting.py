"""Times and durations as staff read them, on pages and in PDFs."""

import datetime as dt

from django.utils import timezone


def format_local(value: dt.datetime | None, zone) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value, zone)
    return local.strftime("%a %d %b %Y, %H:%M %Z")


def format_duration(value: dt.timedelta | None) -> str:
    if value is None:
        return ""
    seconds = max(int(value.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s"


def age_words(dob: dt.date | None, today: dt.date) -> str:
    """A patient's age as staff say it: in years, in months under two (a 7-year-old is not an adult, a
    baby of 5 months not "0")."""
    if dob is None:
        return ""
    months = (today.year - dob.year) * 12 + today.month - dob.month - (today.day < dob.day)
    if months < 0:
        return ""
    if months < 24:
        return f"{months} month{'s' if months != 1 else ''}"
    return f"{months // 12} years"


def patient_facts(member, today: dt.date) -> list[str]:
    """What tells two patients of one name apart on a card or a visit page: born, age, sex."""
    if member is None:
        return []
    facts = []
    if member.dob:
        facts += [f"Born {member.dob.day} {member.dob:%b %Y}", age_words(member.dob, today)]
    if member.gender:
        facts.append(member.get_gender_display())
    return [fact for fact in facts if fact]
