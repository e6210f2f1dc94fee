"""Issue 12's user calls: SSO as VSee's clients use it (all three headers, ?fields=vsee, guests, partial
updates), the public GET /accounts/:code, and the staff's GET /users and GET /users/:id."""

import pytest

from clinic.models import Member, User
from clinic.services import api_token_issue
from tests.clinic.factories import (
    AccountFactory,
    MemberFactory,
    ProviderFactory,
    RoomFactory,
    UserFactory,
    clinic_admin_user,
)
from tests.conftest import V3Client, client_for

pytestmark = pytest.mark.django_db


def _sso(api, path="users/sso", **fields):
    return api.post(path, {"first_name": "Pat", "last_name": "Jones", "code": "ext-42", **fields})


def _works(account, token) -> bool:
    return V3Client(account.code, token).get("visits").status_code == 200


# --- POST /users/sso -------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["valid", "expired-or-wrong"])
def test_sso_key_and_secret_decide_when_a_token_is_sent_too(account, key_api, member, token):
    key, secret = (
        key_api.client._credentials["HTTP_X_APIKEY"],
        key_api.client._credentials["HTTP_X_APISECRET"],
    )
    sent = api_token_issue(user=member.user)["token"] if token == "valid" else "0" * 32
    all_three = V3Client(account.code, sent, api_key=(key, secret))
    response = _sso(all_three)
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["code"] == "ext-42"  # the SSO user, not the token's


def test_sso_with_a_wrong_secret_and_a_valid_token_is_still_refused(account, key_api, member):
    key = key_api.client._credentials["HTTP_X_APIKEY"]
    token = api_token_issue(user=member.user)["token"]
    assert _sso(V3Client(account.code, token, api_key=(key, "wrong"))).status_code == 401


def test_fields_vsee_adds_the_call_identity(account, key_api):
    data = _sso(key_api, path="users/sso?fields=vsee").json()["data"]
    user = User.objects.get(pk=data["id"])
    assert data["vsee"] == {"id": f"acme+{user.username}", "token": data["token"]["token"]}
    again = _sso(key_api, path="users/sso?fields=vsee").json()["data"]
    assert again["vsee"]["id"] == data["vsee"]["id"]  # stable per user
    assert "vsee" not in _sso(key_api).json()["data"]


def test_a_guest_needs_no_code_and_is_a_new_user_each_time(account, key_api):
    first = key_api.post("users/sso", {"first_name": "Guest", "last_name": "One", "type": 600})
    second = key_api.post("users/sso", {"first_name": "Guest", "last_name": "One", "type": "600"})
    assert first.status_code == second.status_code == 200, first.json()
    a, b = first.json()["data"], second.json()["data"]
    assert a["type"] == b["type"] == 600
    assert a["id"] != b["id"]
    assert _works(account, a["token"]["token"])
    assert User.objects.get(pk=a["id"]).is_guest


def test_a_guest_code_cannot_take_over_a_patient(key_api):
    _sso(key_api)
    response = _sso(key_api, type=600)
    assert response.status_code == 400 and "type" in response.json()["errors"]


def test_a_non_guest_still_needs_a_code(key_api):
    response = key_api.post("users/sso", {"first_name": "A", "last_name": "B", "type": 200})
    assert response.status_code == 400 and "code" in response.json()["errors"]


def test_sso_changes_only_the_fields_it_is_sent(account, key_api):
    _sso(key_api, dob="1990-02-03", email="p@x.org", phone="(415) 555-0199", state="CA", street_addr="1 Main")
    _sso(key_api, first_name="Patricia", gender="female")
    member = Member.objects.get(account=account, code="ext-42")
    assert (member.first_name, member.gender) == ("Patricia", "female")
    assert (str(member.dob), member.email, member.phone, member.state, member.street_addr) == (
        "1990-02-03",
        "p@x.org",
        "+14155550199",
        "CA",
        "1 Main",
    )


def test_sso_of_an_existing_patient_keeps_their_user_and_tokens(account, key_api):
    """A patient the clinic registered itself, already using the app, signs in through a partner's SSO."""
    member = MemberFactory(account=account, code="P-77", dob="1980-01-01", email="pat@old.example")
    token = api_token_issue(user=member.user)["token"]
    response = _sso(key_api, code="P-77")
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["id"] == member.user.pk
    assert _works(account, token)  # the patient's other session goes on
    member.refresh_from_db()
    assert (str(member.dob), member.email, member.user_id) == (
        "1980-01-01",
        "pat@old.example",
        member.user.pk,
    )


def test_sso_again_keeps_the_earlier_token_working(account, key_api):
    first = _sso(key_api).json()["data"]["token"]["token"]
    _sso(key_api, first_name="Again")
    assert _works(account, first)


def test_sso_ignores_unknown_fields_of_any_shape(key_api):
    response = key_api.post(
        "users/sso", {"first_name": "A", "last_name": "B", "code": "c", "extra": {"x": [1]}}
    )
    assert response.status_code == 200


def test_the_sso_id_is_the_persons_user_id(key_api):
    data = _sso(key_api, type=400, code="prov-9").json()["data"]
    user = User.objects.get(pk=data["id"])
    assert user.is_provider and user.external_code == "prov-9"


# --- GET /accounts/:code ---------------------------------------------------------------------------------


def test_the_account_is_public_with_its_walkin_rooms(client, account, room):
    RoomFactory(account=account, code="closed", is_open=False)
    RoomFactory(account=account, code="appointments-only", walkins_enabled=False)
    response = client.get(f"/api/v3/accounts/{account.code}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["code"], data["name"], data["time_zone"]) == ("acme", account.name, "America/Los_Angeles")
    assert [r["code"] for r in data["rooms"]] == ["main"]
    assert set(data["rooms"][0]) == {"code", "name", "time_zone", "max_waiting_time"}


def test_an_unknown_account_is_404_in_the_envelope(client, account):
    response = client.get("/api/v3/accounts/nope")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "Account not found."}


# --- GET /users, GET /users/:id --------------------------------------------------------------------------


@pytest.fixture
def people(account, room, provider, other_provider, member, front_desk):
    RoomFactory(account=account, code="east")
    ProviderFactory(account=account, rooms=[], user__first_name="Nora", user__last_name="Elsewhere")
    ProviderFactory(account=AccountFactory(code="other"), user__first_name="Grace", user__last_name="Foreign")
    UserFactory(account=account, first_name="Gone", last_name="Away", is_active=False)
    return {
        "provider": provider,
        "other_provider": other_provider,
        "member": member,
        "front_desk": front_desk,
    }


def _ids(response):
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["data"]}


def test_front_desk_lists_the_clinics_users_paged(people, front_desk_api):
    body = front_desk_api.get("users", {"limit": 2}).json()
    assert body["total_count"] == 5  # 3 providers, the patient, the front desk; not the inactive one
    assert len(body["data"]) == 2 and body["page"] == 1
    assert set(body["data"][0]) == {"id", "code", "username", "first_name", "last_name", "type"}


def test_users_filter_by_q_type_and_room(people, front_desk_api, room):
    provider, member = people["provider"], people["member"]
    assert _ids(front_desk_api.get("users", {"q": "grace"})) == {provider.user.pk}
    assert _ids(front_desk_api.get("users", {"q": member.code})) == {member.user.pk}
    assert _ids(front_desk_api.get("users", {"type": 200})) == {member.user.pk}
    assert _ids(front_desk_api.get("users", {"type": 300})) == {people["front_desk"].pk}
    in_room = {provider.user.pk, people["other_provider"].user.pk}
    assert _ids(front_desk_api.get("users", {"room_code": room.code})) == in_room
    assert _ids(front_desk_api.get("users", {"room_code": "east"})) == set()
    assert front_desk_api.get("users", {"room_code": "nope"}).status_code == 404
    assert front_desk_api.get("users", {"type": 999}).status_code == 400


def test_providers_do_not_list_patients(people, provider_api):
    ids = _ids(provider_api.get("users"))
    assert people["member"].user.pk not in ids and people["provider"].user.pk in ids
    assert provider_api.get(f"users/{people['member'].user.pk}").status_code == 404


def test_patients_may_not_list_users(people, member_api):
    assert member_api.get("users").status_code == 403


def test_one_user_by_id_is_the_sso_and_login_id(people, front_desk_api, account):
    provider = people["provider"]
    login = V3Client(account.code).post(
        "users/login", {"username": provider.user.username, "password": "secret-pass"}
    )
    user_id = login.json()["data"]["id"]
    data = front_desk_api.get(f"users/{user_id}").json()["data"]
    assert (data["id"], data["type"], data["first_name"]) == (provider.user.pk, 400, "Grace")


def test_another_clinics_user_is_not_found(people, front_desk_api):
    foreign = User.objects.get(account__code="other")
    for user_id in (foreign.pk, 999_999, "abc"):
        response = front_desk_api.get(f"users/{user_id}")
        assert response.status_code == 404 and response.json()["code"] == 404


def test_anyone_reads_themselves(people, member_api):
    assert member_api.get(f"users/{people['member'].user.pk}").json()["data"]["type"] == 200


def test_clinic_admin_lists_users_too(people, account):
    assert people["member"].user.pk in _ids(client_for(clinic_admin_user(account)).get("users"))
