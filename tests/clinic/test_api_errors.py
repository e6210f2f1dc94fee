"""What the API cannot store or should not parse answers 400 in the envelope, never a 500; and on /api/
every error is JSON, in development (DEBUG) too."""

import json

import pytest

from tests.conftest import V3Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def _envelope(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == status
    return body


# --- NUL characters --------------------------------------------------------------------------------------


def test_nul_in_a_json_custom_field_is_a_400_naming_it(member_api, room):
    body = _envelope(member_api.post("intakes", {"room_code": room.code, "custom_note": "a\x00b"}), 400)
    assert body["errors"] == {"custom_note": ["Must not contain NUL characters (\\u0000)."]}


def test_nul_deep_in_a_json_value_or_a_key_is_a_400(member_api, room):
    _envelope(
        member_api.post("intakes", {"room_code": room.code, "custom_x": {"list": ["ok", "b\x00"]}}), 400
    )
    _envelope(member_api.post("intakes", {"room_code": room.code, "custom_\x00": "x"}), 400)


def test_nul_in_a_form_field_is_a_400(member_api, room):
    for format in ("multipart", None):
        response = member_api.client.post(
            "/api/v3/intakes", {"room_code": room.code, "custom_note": "a\x00b"}, format=format
        )
        assert "custom_note" in _envelope(response, 400)["errors"]


def test_nul_in_the_account_code_header_is_a_400(member):
    body = _envelope(V3Client("acme\x00", "0" * 32).get("visits"), 400)
    assert "X-Accountcode" in body["errors"]


def test_nul_in_the_path_or_the_query_is_a_400(member_api):
    _envelope(member_api.get("rooms/ab%00c"), 400)
    _envelope(member_api.client.get("/api/v3/rooms", {"limit\x00": "1"}), 400)
    _envelope(member_api.client.get("/api/v3/rooms", {"limit": "1\x00"}), 400)


def test_nul_in_a_header_of_a_page_login_is_a_400_not_a_500(client, provider):
    client.raise_request_exception = False
    response = client.post(
        "/login/",
        {"account": provider.account.code, "username": provider.user.username, "password": "wrong"},
        HTTP_USER_AGENT="agent\x00",
    )
    assert response.status_code == 400


# --- nesting ---------------------------------------------------------------------------------------------


def _raw_json(api, path, text):
    return api.client.post(f"/api/v3/{path}", text, content_type="application/json")


def test_a_deeply_nested_json_body_is_a_400(member_api):
    body = _envelope(_raw_json(member_api, "intakes", "[" * 100_000 + "]" * 100_000), 400)
    assert "nested" in body["message"]


def test_json_nested_past_the_bound_is_a_400_and_below_it_is_parsed(member_api, room):
    deep = {"room_code": room.code, "custom_x": json.loads("[" * 30 + "]" * 30)}
    assert "nested" in _envelope(member_api.post("intakes", deep), 400)["message"]
    shallow = member_api.post("intakes", {"room_code": room.code, "custom_x": [[["a"]]]})
    assert shallow.status_code in (200, 201), shallow.json()


def test_invalid_json_is_a_400(member_api):
    _envelope(_raw_json(member_api, "intakes", '{"room_code": '), 400)


# --- JSON errors in every mode ---------------------------------------------------------------------------


def test_unknown_path_is_json_404_in_development(debug, member_api):
    body = _envelope(member_api.get("no/such/thing"), 404)
    assert body["message"] == "Not found."


def test_unknown_path_without_credentials_is_json_404_in_development(debug, client):
    _envelope(client.get("/api/v3/definitely/not/here"), 404)
    _envelope(client.get("/api/nothing-here"), 404)


def test_wrong_method_is_json_405(debug, member_api):
    response = member_api.client.delete("/api/v3/users/login")
    _envelope(response, 405)
    assert "POST" in response["Allow"]


def test_a_crash_is_json_500_in_development_and_names_nothing(debug, member_api, monkeypatch, room):
    from clinic import selectors

    def broken(**kwargs):
        raise RuntimeError("SECRET_KEY=hunter2")

    monkeypatch.setattr(selectors, "room_detail", broken)
    member_api.client.raise_request_exception = False
    body = _envelope(member_api.get(f"rooms/{room.code}"), 500)
    assert body == {"code": 500, "message": "Internal error; it has been logged."}
