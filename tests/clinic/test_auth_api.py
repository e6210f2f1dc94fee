import datetime as dt

import pytest
import time_machine

from clinic.models import ApiToken, Member, User
from clinic.services import api_token_issue
from tests.clinic.factories import AccountFactory, MemberFactory
from tests.conftest import V3Client, client_for

pytestmark = pytest.mark.django_db


def _sso(key_api, **fields):
    data = {"first_name": "Pat", "last_name": "Jones", "code": "ext-42", **fields}
    return key_api.post("users/sso", data, format="multipart")


# --- X-AccountCode / X-ApiToken --------------------------------------------------------------------------


def test_missing_account_code_is_401_in_the_envelope(member):
    response = V3Client("", api_token_issue(user=member.user)["token"]).get("visits")
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "X-AccountCode header is required."}


def test_unknown_account_code_is_401(member):
    response = V3Client("nope", api_token_issue(user=member.user)["token"]).get("visits")
    assert response.status_code == 401
    assert response.json()["message"] == "Unknown account code."


def test_missing_token_is_401_not_403(account):
    response = V3Client(account.code).get("visits")
    assert response.status_code == 401
    assert response.json()["code"] == 401


def test_wrong_token_is_401(account):
    response = V3Client(account.code, "0" * 32).get("visits")
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid or expired API token."


def test_token_presented_with_another_accounts_code_is_401(member):
    AccountFactory(code="other")
    response = V3Client("other", api_token_issue(user=member.user)["token"]).get("visits")
    assert response.status_code == 401


def test_token_expires_after_its_lifetime(member_api, settings):
    assert member_api.get("visits").status_code == 200
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.API_TOKEN_LIFETIME + 1)):
        assert member_api.get("visits").status_code == 401


def test_tokens_are_stored_only_as_digests(member):
    token = api_token_issue(user=member.user)["token"]
    stored = ApiToken.objects.get(user=member.user)
    assert token not in (stored.token_digest, stored.refresh_digest)
    assert len(stored.token_digest) == 64


def test_inactive_user_token_is_refused(member):
    api = client_for(member.user)
    User.objects.filter(pk=member.user.pk).update(is_active=False)
    assert api.get("visits").status_code == 401


def test_json_suffix_is_accepted(member_api):
    assert member_api.get("visits.json").status_code == 200


def test_unknown_api_path_answers_json_404(member_api):
    response = member_api.get("no/such/thing")
    assert response.status_code == 404
    assert response.json()["code"] == 404


# --- login and refresh -----------------------------------------------------------------------------------


def test_login_returns_a_working_token(account, provider):
    response = V3Client(account.code).post(
        "users/login", {"username": provider.user.username, "password": "secret-pass"}
    )
    assert response.status_code == 200
    token = response.json()["data"]["token"]
    assert set(token) == {"token", "expiry", "refresh_token"}
    assert V3Client(account.code, token["token"]).get("visits").status_code == 200


def test_login_with_wrong_password_is_refused(account, provider):
    response = V3Client(account.code).post(
        "users/login", {"username": provider.user.username, "password": "x"}
    )
    assert response.status_code == 403
    assert response.json()["message"] == "Wrong username or password."


def test_login_is_scoped_to_the_account_code(provider):
    AccountFactory(code="other")
    response = V3Client("other").post(
        "users/login", {"username": provider.user.username, "password": "secret-pass"}
    )
    assert response.status_code == 403


def test_login_without_fields_names_them(account):
    response = V3Client(account.code).post("users/login", {})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username", "password"}


def test_refresh_token_gives_a_new_pair_once(account, member):
    first = api_token_issue(user=member.user)
    api = V3Client(account.code)
    refreshed = api.post("users/token/refresh", {"refresh_token": first["refresh_token"]["token"]})
    assert refreshed.status_code == 200
    new_token = refreshed.json()["data"]["token"]["token"]
    assert V3Client(account.code, new_token).get("visits").status_code == 200
    assert V3Client(account.code, first["token"]).get("visits").status_code == 401  # the old pair is revoked
    again = api.post("users/token/refresh", {"refresh_token": first["refresh_token"]["token"]})
    assert again.status_code == 403


# --- SSO with the account's API key ----------------------------------------------------------------------


def test_sso_creates_a_member_with_a_token(key_api, account):
    response = _sso(
        key_api,
        dob="1990-02-03",
        gender="2",
        state="ca",
        phone="(415) 555-0199",
        email="p@x.org",
        street_addr="1 Main St",
        favourite_colour="ignored",
    )
    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert data["code"] == "ext-42"
    member = Member.objects.get(account=account, code="ext-42")
    assert (member.gender, member.state, member.phone) == ("female", "CA", "+14155550199")
    token = data["token"]["token"]
    assert V3Client(account.code, token).get("visits").status_code == 200


def test_sso_is_idempotent_by_code(key_api, account):
    first = _sso(key_api).json()["data"]
    second = _sso(key_api, first_name="Patricia").json()["data"]
    assert first["id"] == second["id"]
    assert first["token"]["token"] != second["token"]["token"]
    assert Member.objects.filter(account=account, code="ext-42").get().first_name == "Patricia"


def test_sso_accepts_json_and_the_fields_query(key_api):
    response = key_api.client.post(
        "/api/v3/users/sso?fields=vsee", {"first_name": "A", "last_name": "B", "code": "c1"}, format="json"
    )
    assert response.status_code == 200


def test_sso_can_create_a_provider(key_api, account):
    response = _sso(key_api, type="400", code="prov-1")
    assert response.status_code == 200
    assert response.json()["data"]["type"] == 400
    assert User.objects.get(account=account, external_code="prov-1").is_provider


def test_sso_requires_name_and_code(key_api):
    response = key_api.post("users/sso", {"first_name": "A"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"last_name", "code"}


def test_sso_code_is_bounded(key_api):
    assert _sso(key_api, code="x" * 129).status_code == 400


def test_sso_rejects_a_bad_state(key_api):
    response = _sso(key_api, state="ZZ")
    assert response.status_code == 400
    assert "state" in response.json()["errors"]


def test_sso_needs_the_api_key_not_a_user_token(member_api):
    response = member_api.post("users/sso", {"first_name": "A", "last_name": "B", "code": "c"})
    assert response.status_code == 403


def test_sso_with_a_wrong_secret_is_401(account, key_api):
    key = key_api.client._credentials["HTTP_X_APIKEY"]
    response = V3Client(account.code, api_key=(key, "wrong")).post("users/sso", {"first_name": "A"})
    assert response.status_code == 401


def test_sso_key_of_one_account_does_not_work_for_another(key_api):
    AccountFactory(code="other")
    key_api.client.credentials(**{**key_api.client._credentials, "HTTP_X_ACCOUNTCODE": "other"})
    assert _sso(key_api).status_code == 401


def test_sso_does_not_turn_a_member_into_a_provider(key_api):
    _sso(key_api)
    response = _sso(key_api, type="400")
    assert response.status_code == 400
    assert "type" in response.json()["errors"]


# --- rooms -----------------------------------------------------------------------------------------------


def test_room_detail_lists_providers_and_consultations(
    member_api, room, provider, other_provider, consultation
):
    response = member_api.get(f"rooms/{room.code}")
    data = response.json()["data"]
    assert data["provider_ids"] == sorted([provider.user_id, other_provider.user_id])
    assert data["payment"]["consultations"][0] == {
        "id": consultation.pk,
        "description": "General consultation",
        "duration": 900,
        "amount": "50.00",
        "capacity": 1,
    }
    assert data["max_waiting_time"] == 1800


def test_rooms_are_listed_paged(member_api, room):
    from tests.clinic.factories import RoomFactory

    RoomFactory.create_batch(3, account=room.account)
    response = member_api.get("rooms", {"limit": 2, "page": 2})
    body = response.json()
    assert body["total_count"] == 4
    assert len(body["data"]) == 2


def test_another_accounts_room_is_404(member_api):
    from tests.clinic.factories import RoomFactory

    RoomFactory(code="secret", account=AccountFactory(code="other"))
    assert member_api.get("rooms/secret").status_code == 404


def test_bad_paging_is_400_naming_the_field(member_api):
    response = member_api.get("rooms", {"limit": 1000})
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]


def test_member_factory_users_belong_to_the_members_account():
    member = MemberFactory()
    assert member.user.account == member.account
