import datetime as dt

import pytest

from messaging.models import Channel
from messaging.services import consent_record
from tests.clinic.factories import MemberFactory
from tests.scheduling.conftest import clock, la  # noqa: F401  (the frozen clock, for these tests too)
from tests.scheduling.factories import work
from waitlist import services

TEN = la(2027, 3, 8, 10)  # Monday 10:00 in Los Angeles, three hours after the tests' clock
QUARTER = dt.timedelta(minutes=15)


@pytest.fixture(autouse=True)
def eager_tasks(settings):
    """Tasks run at commit, in the test (the offers after a cancel, the messages after the offers)."""
    from clinic.celery import app

    settings.PUBLIC_URL = "https://clinic.example"
    settings.WAITLIST_OFFER_BATCH = 2
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def hours(provider, room):
    work(provider, room)


def patient(account, first, last, **kwargs):
    member = MemberFactory(
        account=account, first_name=first, last_name=last, email=f"{first.lower()}@example.org", **kwargs
    )
    consent_record(patient=member, channel=Channel.EMAIL, granted=True, source="front desk, by phone")
    return member


def wait(account, room, consultation, front_desk, member, **kwargs):
    kwargs.setdefault("earliest", TEN.date())
    kwargs.setdefault("latest", TEN.date() + dt.timedelta(days=7))
    return services.waitlist_entry_add(
        account=account, actor=front_desk, room=room, member_code=member.code, consultation=consultation,
        **kwargs,
    )  # fmt: skip
