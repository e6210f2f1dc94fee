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


def age_words(dob: dt.date | None, today: dt.date, *, short: bool = False) -> str:
    """A patient's age as staff say it, "" when unknown: in years from two, in months under two, in days
    under a month (a 7-year-old is not an adult, a baby of 5 months not "0"). `short` for rows: "7 y",
    "18 mo", "12 d"; else "7 years"."""
    if dob is None or dob > today:
        return ""
    months = (today.year - dob.year) * 12 + today.month - dob.month - (today.day < dob.day)
    if months >= 24:
        return f"{months // 12} y" if short else f"{months // 12} years"
    if months >= 1:
        return f"{months} mo" if short else f"{months} month{'s' if months != 1 else ''}"
    days = (today - dob).days
    return f"{days} d" if short else f"{days} day{'s' if days != 1 else ''}"


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
