"""Simultaneous requests attaching the same files: all of them end on exactly one intake."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from clinic.services import api_token_issue
from tests.conftest import V3Client
from tests.visits.attachment_factories import stored_attachment
from tests.visits.factories import IntakeFactory
from visits.models import Attachment

CONTENDERS = 6


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db(transaction=True)
def test_simultaneous_attaches_of_the_same_files_have_one_winner(account, room, member):
    if connection.vendor != "postgresql":
        pytest.skip("The race is only meaningful on PostgreSQL, where CI runs it.")
    files = [str(stored_attachment(user=member.user).pk) for _ in range(3)]
    intakes = [IntakeFactory(account=account, room=room, member=member) for _ in range(CONTENDERS)]
    token = api_token_issue(user=member.user)["token"]
    barrier = threading.Barrier(CONTENDERS)
    results: list[tuple[int, str]] = []

    def attach(intake, order) -> None:
        try:
            api = V3Client(account.code, token)
            barrier.wait()
            response = api.post(f"intakes/{intake.pk}", {"attachments": order})
            results.append((response.status_code, str(intake.pk)))
        finally:
            connections.close_all()

    # Half list the files forwards, half backwards: whatever the order, one request takes them all.
    threads = [
        threading.Thread(target=attach, args=(intake, files if i % 2 else files[::-1]))
        for i, intake in enumerate(intakes)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert Counter(code for code, _ in results) == {200: 1, 400: CONTENDERS - 1}
    [winner] = [intake for code, intake in results if code == 200]
    assert {str(a.intake_id) for a in Attachment.objects.filter(pk__in=files)} == {winner}
