"""The load balancer's probes, and what a request answers while the database cannot be reached.

The outage is real but private: this test's connection is pointed at a port where nothing listens
(or, on SQLite, a file that cannot be opened), never at the shared server being stopped."""

import contextlib

import pytest
from django.db import connection
from django.test import override_settings

from tests.processes import free_port
from tests.visits.factories import VisitFactory

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def database_unreachable():
    """Requests made inside see a database that refuses connections; the real one is back after."""
    saved_settings, saved_raw = connection.settings_dict, connection.connection
    broken = {**saved_settings, "OPTIONS": {**saved_settings["OPTIONS"]}}
    broken["OPTIONS"].pop("pool", None)  # the pool holds connections to the real server
    if connection.vendor == "sqlite":
        broken["NAME"] = "/nonexistent-directory/clinic.sqlite3"
    else:
        broken.update(HOST="127.0.0.1", PORT=str(free_port()))
    # Set aside rather than closed: SQLite's in-memory test database would not survive a close.
    connection.connection = None
    connection.settings_dict = broken
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict, connection.connection = saved_settings, saved_raw


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").json() == {"status": "ok"}
    with database_unreachable():
        response = client.get("/healthz")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_when_the_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "push": "ok"},
    }


def test_readyz_names_the_database_when_it_is_down(client):
    with database_unreachable():
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert (body["code"], body["message"]) == (503, "Not ready: database unreachable.")
    assert body["checks"]["database"].startswith("unreachable")
    assert body["checks"]["broker"] == body["checks"]["push"] == "ok"
    assert response["Retry-After"] == "5"


def test_readyz_names_the_broker_when_redis_is_down(client):
    with override_settings(
        CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0", CELERY_BROKER_TRANSPORT_OPTIONS={}
    ):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["message"] == "Not ready: broker unreachable."
    assert body["checks"]["database"] == "ok" and body["checks"]["broker"].startswith("unreachable")


def test_readyz_names_the_push_backend_when_its_redis_is_down(client, settings):
    """Live queues go through the push app's Redis, which may be another server than the broker's: a
    node that cannot publish to it is not ready (its pages would only poll)."""
    settings.PUSH_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["message"] == "Not ready: push unreachable."
    assert body["checks"]["database"] == body["checks"]["broker"] == "ok"
    assert body["checks"]["push"].startswith("unreachable")
    assert response["Retry-After"] == "5"


def test_the_api_answers_503_in_the_envelope_while_the_database_is_down(room, provider_api):
    visit = VisitFactory(account=room.account, room=room)
    with database_unreachable():
        response = provider_api.get(f"visits/{visit.pk}")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": 503, "message": "The database is unavailable."}
    assert response["Retry-After"] == "5"
    # And once it is back, the same request works.
    assert provider_api.get(f"visits/{visit.pk}").status_code == 200


def test_a_page_answers_a_styled_503_while_the_database_is_down(client, provider):
    client.force_login(provider.user)
    # The session middleware meets the outage before any view: Django's handler500 answers it.
    client.raise_request_exception = False
    with database_unreachable():
        page = client.get("/dashboard/")
        poll = client.get("/dashboard/queues/", headers={"HX-Request": "true"})
    assert page.status_code == 503
    html = page.content.decode()
    assert "temporarily unavailable" in html and "The database is unavailable." in html
    assert 'href="/dashboard/"' in html  # "Try again" reloads the page
    assert "Traceback" not in html
    assert page["Retry-After"] == "5"
    # The dashboard's refresh fails too, and its script shows "reconnecting" on any error status.
    assert poll.status_code == 503
