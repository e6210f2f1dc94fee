"""POST/GET/DELETE /api/v3/webhooks: clinic admins only, the secret in the creating answer alone."""

import pytest
from standardwebhooks import Webhook

from tests.clinic.factories import clinic_admin_user
from tests.conftest import client_for
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin):
    return client_for(admin)


def test_an_admin_registers_an_endpoint_and_gets_its_secret_once(api, receiver, account):
    created = api.post("webhooks", {"url": receiver.url(), "events": ["visit.created", "visit.ended"]})
    assert created.status_code == 201, created.content
    data = created.json()["data"]
    assert data["url"] == receiver.url()
    assert data["events"] == ["visit.created", "visit.ended"]
    assert data["active"] is True
    assert data["secret"].startswith("whsec_")
    Webhook(data["secret"])  # a key the package accepts

    listed = api.get("webhooks").json()
    assert listed["total_count"] == 1
    assert listed["data"][0]["id"] == data["id"]
    assert "secret" not in listed["data"][0]
    assert "secret" not in api.get(f"webhooks/{data['id']}").json()["data"]
    assert data["secret"] not in api.get("webhooks").content.decode()


def test_form_bodies_are_accepted(api, receiver):
    created = api.post(
        "webhooks.json",
        {"url": receiver.url(), "events": ["visit.updated", "user.created"]},
        format="multipart",
    )
    assert created.status_code == 201, created.content
    assert created.json()["data"]["events"] == ["user.created", "visit.updated"]


def test_deleting_removes_it(api, receiver):
    endpoint_id = api.post("webhooks", {"url": receiver.url(), "events": ["visit.created"]}).json()["data"][
        "id"
    ]
    deleted = api.client.delete(f"/api/v3/webhooks/{endpoint_id}")
    assert deleted.status_code == 200
    assert deleted.json()["data"]["id"] == endpoint_id
    assert not Endpoint.objects.exists()
    assert api.get(f"webhooks/{endpoint_id}").status_code == 404
    assert api.client.delete(f"/api/v3/webhooks/{endpoint_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["visit.created"]}, "url"),
        ({"url": "https://example.com/x"}, "events"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x", "events": ["visit.exploded"]}, "events"),
        ({"url": "ftp://example.com/x", "events": ["visit.created"]}, "url"),
        ({"url": "https://example.com/" + "x" * 2000, "events": ["visit.created"]}, "url"),
    ],
)
def test_bad_input_names_the_field(api, body, field):
    answer = api.post("webhooks", body)
    assert answer.status_code == 400
    assert answer.json()["code"] == 400
    assert field in answer.json()["errors"]


def test_private_addresses_are_refused_in_production(api, webhook_settings):
    webhook_settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    answer = api.post("webhooks", {"url": "http://169.254.169.254/", "events": ["visit.created"]})
    assert answer.status_code == 400
    assert "private" in answer.json()["errors"]["url"][0]


@pytest.mark.parametrize("who", ["provider_api", "front_desk_api", "member_api"])
def test_others_than_clinic_admins_get_403(who, request, api, receiver):
    endpoint_id = api.post("webhooks", {"url": receiver.url(), "events": ["visit.created"]}).json()["data"][
        "id"
    ]
    other = request.getfixturevalue(who)
    assert other.get("webhooks").status_code == 403
    assert other.get(f"webhooks/{endpoint_id}").status_code == 403
    # Refused before the input is looked at, and nothing is written.
    assert other.post("webhooks", {"url": "nonsense"}).status_code == 403
    assert other.client.delete(f"/api/v3/webhooks/{endpoint_id}").status_code == 403
    assert Endpoint.objects.count() == 1


def test_the_api_key_alone_gets_nothing(key_api):
    assert key_api.get("webhooks").status_code in (401, 403)


def test_another_clinics_endpoint_is_not_found(api, other_account, receiver):
    theirs = client_for(clinic_admin_user(other_account))
    endpoint_id = theirs.post("webhooks", {"url": receiver.url(), "events": ["visit.created"]}).json()[
        "data"
    ]["id"]
    assert api.get(f"webhooks/{endpoint_id}").status_code == 404
    assert api.client.delete(f"/api/v3/webhooks/{endpoint_id}").status_code == 404
    assert api.get("webhooks").json()["total_count"] == 0
    assert Endpoint.objects.count() == 1


AWKWARD = ["", "abc", "-1", "0", "9" * 30, "null", "[]", "{}", "\x00", "é" * 300]


def test_awkward_values_are_never_a_500(api):
    for value in AWKWARD:
        for answer in (
            api.post("webhooks", {"url": value, "events": value}, format="multipart"),
            api.post("webhooks", {"url": value, "events": [value]}),
            api.get(f"webhooks/{value}")
            if value and "\x00" not in value
            else api.get("webhooks", {"page": value}),
        ):
            assert answer.status_code < 500, (value, answer.status_code, answer.content[:200])
            if answer.status_code >= 400:
                assert answer.json()["code"] == answer.status_code
    assert not Endpoint.objects.exists()
