"""Twenty providers click Accept on the same e-consult at the same moment: one wins, cleanly."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from clinic.services import api_token_issue
from tests.clinic.factories import ProviderFactory
from tests.conftest import V3Client
from tests.visits.factories import VisitFactory
from visits.models import Visit, VisitEvent, VisitStatus, VisitType

CONTENDERS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_accepts_have_exactly_one_winner(account, room):
    if connection.vendor != "postgresql":
        pytest.skip("The race is only meaningful on PostgreSQL, where CI runs it.")
    visit = VisitFactory(account=account, room=room, type=VisitType.ECONSULT)
    tokens = [
        api_token_issue(user=ProviderFactory(account=account, rooms=[room]).user)["token"]
        for _ in range(CONTENDERS)
    ]
    barrier = threading.Barrier(CONTENDERS)
    results: list[tuple[int, dict]] = []

    def accept(token: str) -> None:
        try:
            api = V3Client(account.code, token)
            barrier.wait()
            response = api.post("visits/accept", {"id": visit.pk})
            results.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    statuses = Counter(code for code, _ in results)
    assert statuses == {200: 1, 409: CONTENDERS - 1}
    winner = next(body["data"]["provider"]["id"] for code, body in results if code == 200)
    visit.refresh_from_db()
    assert (visit.status, visit.provider.user_id) == (VisitStatus.IN_PROGRESS, winner)
    assert VisitEvent.objects.filter(visit=visit, to_status=VisitStatus.IN_PROGRESS).count() == 1
    losers = {body["message"] for code, body in results if code == 409}
    taken = Visit.objects.get(pk=visit.pk)
    assert losers == {f"{taken.member.full_name} was already taken by {taken.provider.display_name}."}
