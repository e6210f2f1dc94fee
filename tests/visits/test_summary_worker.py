"""The summary render through a real Celery worker on the Redis broker (CELERY_BROKER_URL)."""

import time

import pytest

from tests.visits.summary_factories import media, pdf_text  # noqa: F401
from visits.models import SummaryDownload

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media"),
]


def test_completing_a_visit_renders_its_summary_on_the_worker(
    worker, member_api, provider_api, room, provider
):
    intake = member_api.post(
        "intakes", {"room_code": room.code, "reason_for_visit": "Migraine", "custom_pain_level": "7"}
    ).json()["data"]
    visit_id = member_api.post(
        "visits/add_walkin", {"intake_id": intake["id"], "room_code": room.code}
    ).json()["data"]["id"]
    assert provider_api.post("visits/accept", {"id": visit_id}).status_code == 200
    assert (
        provider_api.post(
            "visits/complete", {"id": visit_id, "notes": "<p>Dark room, fluids</p>"}
        ).status_code
        == 200
    )

    path = f"visits/{visit_id}/exports/visit_summary"
    deadline = time.monotonic() + 30
    answers = []
    while time.monotonic() < deadline:
        response = member_api.get(path)
        answers.append(response.status_code)
        if response.status_code == 200:
            break
        assert response.status_code == 202 and response["Retry-After"]
        time.sleep(0.2)
    assert answers[-1] == 200, answers
    text = pdf_text(b"".join(response.streaming_content))
    assert "Migraine" in text and "Pain level" in text and "7" in text
    assert SummaryDownload.objects.count() == 1
