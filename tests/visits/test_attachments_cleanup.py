"""The beat task removes files whose intake is gone, or never attached within a day; nothing else."""

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from tests.visits.attachment_factories import stored_attachment
from tests.visits.factories import IntakeFactory
from visits import tasks
from visits.attachments import attachments_cleanup
from visits.models import Attachment


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _age(attachment: Attachment, **delta) -> None:
    Attachment.objects.filter(pk=attachment.pk).update(created=timezone.now() - dt.timedelta(**delta))


@pytest.fixture
def intake(account, room, member):
    return IntakeFactory(account=account, room=room, member=member)


def test_cleanup_removes_orphans_and_their_files_and_thumbnails_and_keeps_attached_ones(member, intake):
    attached_long_ago = stored_attachment(user=member.user, intake=intake)
    _age(attached_long_ago, days=30)
    fresh = stored_attachment(user=member.user)
    _age(fresh, hours=23)
    stale = stored_attachment(user=member.user)
    _age(stale, hours=25)
    gone_intake = IntakeFactory(account=member.account, room=intake.room, member=member)
    of_deleted_intake = stored_attachment(user=member.user, intake=gone_intake)
    gone_intake.delete()

    removed = tasks.attachments_cleanup.apply().get()

    assert removed == 2
    assert set(Attachment.objects.values_list("pk", flat=True)) == {attached_long_ago.pk, fresh.pk}
    for orphan in (stale, of_deleted_intake):
        assert orphan.thumbnail.name  # an image, so it had a thumbnail to remove
        assert not default_storage.exists(orphan.file.name)
        assert not default_storage.exists(orphan.thumbnail.name)
    for kept in (attached_long_ago, fresh):
        assert kept.thumbnail.name
        assert default_storage.exists(kept.file.name) and default_storage.exists(kept.thumbnail.name)


def test_cleanup_is_idempotent_when_the_stored_file_is_already_gone(member):
    stale = stored_attachment(user=member.user)
    _age(stale, days=2)
    default_storage.delete(stale.file.name)

    assert attachments_cleanup() == 1
    assert attachments_cleanup() == 0
    assert not Attachment.objects.exists()


def test_cleanup_works_in_batches(member):
    for _ in range(5):
        _age(stored_attachment(user=member.user), days=2)

    assert attachments_cleanup(batch_size=2) == 5
    assert not Attachment.objects.exists()


def test_the_grace_time_is_a_setting(settings, member):
    settings.ATTACHMENT_UNATTACHED_TTL = 60
    recent = stored_attachment(user=member.user)
    _age(recent, minutes=2)

    assert attachments_cleanup() == 1


def test_the_task_is_on_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["visits-attachments-cleanup"]
    assert entry["task"] == tasks.attachments_cleanup.name


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no row locks to skip")
def test_a_file_being_attached_meanwhile_is_left_alone(member, intake):
    """An attach holds the file's row lock until it commits; the clean-up skips locked rows."""
    stale = stored_attachment(user=member.user)
    _age(stale, days=2)
    locked, release = threading.Event(), threading.Event()

    def attach_slowly():
        try:
            with transaction.atomic():
                Attachment.objects.select_for_update().get(pk=stale.pk)
                locked.set()
                release.wait(10)
                Attachment.objects.filter(pk=stale.pk).update(intake=intake, attached=timezone.now())
        finally:
            connection.close()

    worker = threading.Thread(target=attach_slowly)
    worker.start()
    assert locked.wait(10)
    try:
        started = time.monotonic()
        assert attachments_cleanup() == 0
        assert time.monotonic() - started < 5  # skipped, not waited for
    finally:
        release.set()
        worker.join(10)

    assert attachments_cleanup() == 0
    assert Attachment.objects.get(pk=stale.pk).intake_id == intake.pk
    assert default_storage.exists(stale.file.name)
