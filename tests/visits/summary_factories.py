"""Visits that went through the real lifecycle services, at chosen times, for the summary tests."""

import datetime as dt
import io

import pytest
import time_machine
from pypdf import PdfReader

from tests.visits.factories import IntakeFactory
from visits import services


def walk_through(
    *,
    member,
    provider,
    room,
    consultation=None,
    joined: dt.datetime,
    wait: dt.timedelta = dt.timedelta(minutes=12),
    length: dt.timedelta = dt.timedelta(minutes=18),
    notes: str = "<p>Rest and fluids.</p>",
    reason: str = "Rash on the arm",
    custom: dict | None = None,
    finish: str = "complete",
):
    """A walk-in joined at `joined`, accepted `wait` later, then completed (or closed) `length` later."""
    intake = IntakeFactory(
        account=member.account,
        room=room,
        member=member,
        reason_for_visit=reason,
        consultation=consultation,
        phone="+14155550123",
        custom=custom if custom is not None else {"custom_symptoms_duration": "2 weeks"},
    )
    account = member.account
    with time_machine.travel(joined, tick=False):
        visit = services.visit_add_walkin(
            account=account, actor=member.user, intake_id=intake.pk, room_code=room.code
        )
    if wait is None:
        return visit
    with time_machine.travel(joined + wait, tick=False):
        services.visit_accept(account=account, actor=provider.user, visit_id=visit.pk)
    with time_machine.travel(joined + wait + length, tick=False):
        if finish == "complete":
            visit = services.visit_complete(
                account=account, actor=provider.user, visit_id=visit.pk, notes=notes
            )
        elif finish == "close":
            visit, _ = services.visit_close(
                account=account, actor=provider.user, visit_id=visit.pk, reason="call_ended"
            )
    return visit


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF"), data[:20]
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def eager_celery(settings):
    """Tasks run in the process that enqueues them (after the commit, with on_commit captured)."""
    from clinic.celery import app

    # Read before the setting changes: the first read loads the app's configuration from the settings, and
    # would otherwise restore "eager" for every later test of the session.
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
