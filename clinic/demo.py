"""The demo clinic: what `make run` shows and what the browser tests click through."""

import datetime as dt
from decimal import Decimal

from django.db import transaction

from clinic.models import Account, Consultation, Member, Provider, ProviderLicense, Room, User
from clinic.roles import CLINIC_ADMIN, FRONT_DESK, PROVIDER, ensure_role_groups
from messaging.models import Channel, Consent
from messaging.services import consent_record
from reminders.models import ReminderPlan
from scheduling.models import WorkingHours

DEMO_PASSWORD = "demo"

PROVIDERS = [
    # username, first, last, licensed states
    ("dr.lee", "Grace", "Lee", ["CA"]),
    ("dr.patel", "Ravi", "Patel", ["CA", "NY"]),
]


def _user(account: Account, username: str, first: str, last: str, group=None) -> User:
    user, created = User.objects.get_or_create(
        account=account, username=username, defaults={"first_name": first, "last_name": last}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    if group is not None:
        user.groups.add(group)
    return user


@transaction.atomic
def seed_demo_clinic(*, account_code: str = "demo") -> list[str]:
    groups = ensure_role_groups()
    name = "Demo Clinic" if account_code == "demo" else f"Demo Clinic ({account_code})"
    account, _ = Account.objects.get_or_create(
        code=account_code,
        # Its patients are P-1001, P-1002, ...: the front desk's next code follows on.
        defaults={"name": name, "time_zone": "America/Los_Angeles", "patient_code_pattern": "P-{seq:04d}"},
    )
    room, _ = Room.objects.get_or_create(
        account=account,
        code="main",
        defaults={
            "name": "Main room",
            "time_zone": "America/Los_Angeles",
            "walkins_enabled": True,
            "appointments_enabled": True,
            "max_waiting_time": 1800,
            "is_open": True,
        },
    )
    for description, minutes, amount, capacity in [
        ("General consultation (15 min)", 15, Decimal("50.00"), 1),
        ("Extended consultation (30 min)", 30, Decimal("90.00"), 1),
        ("Group class: healthy sleep", 60, Decimal("20.00"), 5),
    ]:
        Consultation.objects.get_or_create(
            room=room,
            description=description,
            defaults={"duration": minutes * 60, "amount": amount, "capacity": capacity},
        )
    for username, first, last, states in PROVIDERS:
        user = _user(account, username, first, last, groups[PROVIDER])
        provider, _ = Provider.objects.get_or_create(
            user=user, defaults={"account": account, "title": "MD", "time_zone": room.time_zone}
        )
        provider.rooms.add(room)
        for state in states:
            ProviderLicense.objects.get_or_create(provider=provider, state=state)
        for weekday in range(5):  # Monday to Friday, 09:00-17:00 in the provider's zone
            WorkingHours.objects.get_or_create(
                account=account,
                provider=provider,
                room=room,
                weekday=weekday,
                start_time=dt.time(9),
                defaults={"end_time": dt.time(17)},
            )
    _user(account, "frontdesk", "Frank", "Desk", groups[FRONT_DESK])
    _user(account, "admin", "Ada", "Admin", groups[CLINIC_ADMIN])
    patient = _user(account, "pat.jones", "Pat", "Jones")
    # The clinic's reminder times (the settings' defaults, written down so the admin shows where to
    # change them).
    ReminderPlan.objects.get_or_create(
        account=account,
        room=None,
        defaults={"offsets": [1440, 120], "quiet_start": dt.time(21), "quiet_end": dt.time(8)},
    )
    pat, _ = Member.objects.get_or_create(
        account=account,
        code="P-1001",
        defaults={
            "user": patient,
            "first_name": "Pat",
            "last_name": "Jones",
            "dob": dt.date(1985, 4, 12),
            "gender": Member.Gender.FEMALE,
            "phone": "+14155550123",
            "state": "CA",
            "email": "pat.jones@example.com",
        },
    )
    # Pat hears about her appointments by email (under `make run`, files in var/mail); a statement is made
    # once, so a later change (withdrawn at the front desk) is not overwritten by seeding again.
    if not Consent.objects.filter(member=pat, channel=Channel.EMAIL).exists():
        consent_record(patient=pat, channel=Channel.EMAIL, granted=True, source="demo data")
    return [u for u, *_ in PROVIDERS] + ["frontdesk", "admin", "pat.jones"]
