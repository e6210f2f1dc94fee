"""Rate limits (DRF throttles): POST /users/sso and GET /availability with the API key, POST /files per
user, the public GET /accounts/:code per address. Past the rate: 429 in the envelope with Retry-After."""

import pytest
from django.conf import settings as django_settings

from clinic.services import api_credential_issue
from tests.conftest import V3Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "sso": "2/min", "availability": "2/min",
                                   "upload": "2/min", "account_lookup": "2/min"}  # fmt: skip


def _sso(api, code="ext-1"):
    return api.post("users/sso", {"first_name": "Pat", "last_name": "Jones", "code": code})


def _assert_throttled(response):
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == 429 and "Too many requests" in body["message"]
    assert int(response["Retry-After"]) >= 1


def test_sso_is_limited_per_api_key(rates, key_api, account):
    assert _sso(key_api).status_code == 200
    assert _sso(key_api, "ext-2").status_code == 200
    _assert_throttled(_sso(key_api, "ext-3"))
    # Another key of the same clinic has its own count.
    assert (
        _sso(V3Client(account.code, api_key=api_credential_issue(account=account)), "ext-4").status_code
        == 200
    )


def test_availability_with_the_api_key_is_limited_but_not_with_a_user_token(
    rates, key_api, front_desk_api, room, consultation
):
    params = {"room_code": room.code, "start": 1, "end": 2, "consultation_id": consultation.pk}
    for _ in range(2):
        assert key_api.get("availability", params).status_code != 429
    _assert_throttled(key_api.get("availability", params))
    for _ in range(3):
        assert front_desk_api.get("availability", params).status_code == 200


def test_uploads_are_limited_per_user(rates, member_api, provider_api):
    def upload(api):
        from django.core.files.uploadedfile import SimpleUploadedFile

        return api.post("files", {"file": SimpleUploadedFile("x.txt", b"not an image")}, format="multipart")

    for _ in range(2):
        assert upload(member_api).status_code != 429
    _assert_throttled(upload(member_api))
    assert upload(provider_api).status_code != 429


def test_the_public_account_lookup_is_limited_per_address(rates, account):
    from rest_framework.test import APIClient

    client = APIClient()
    for _ in range(2):
        assert client.get(f"/api/v3/accounts/{account.code}", REMOTE_ADDR="10.0.0.1").status_code == 200
    _assert_throttled(client.get(f"/api/v3/accounts/{account.code}", REMOTE_ADDR="10.0.0.1"))
    assert client.get(f"/api/v3/accounts/{account.code}", REMOTE_ADDR="10.0.0.2").status_code == 200


def test_the_default_rates_come_from_the_environment():
    assert set(django_settings.API_THROTTLE_RATES) == {"sso", "availability", "upload", "account_lookup"}
    for rate in django_settings.API_THROTTLE_RATES.values():
        number, period = rate.split("/")
        assert int(number) > 0 and period[0] in "smhd"


def test_counts_are_shared_through_redis(rates, settings, key_api):
    """Production keeps the counts in Redis (CACHE_URL), so that every web process sees them: two cache
    connections (as two processes would have) see one count."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("Set CELERY_BROKER_URL to a Redis database to run the Redis cache test.")
    import uuid

    import environ
    from django.core.cache import caches

    # Its own key prefix: nothing else in that Redis database is touched, and the counts expire by themselves.
    redis = environ.Env.cache_url_config(settings.CELERY_BROKER_URL)
    settings.CACHES = {"default": {**redis, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}
    assert "RedisCache" in type(caches["default"]).__name__
    assert _sso(key_api).status_code == 200
    assert _sso(key_api, "ext-2").status_code == 200
    caches["default"].close()  # a fresh connection, as another process would have
    _assert_throttled(_sso(key_api, "ext-3"))
