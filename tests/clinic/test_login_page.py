from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.django_db


def test_member_cannot_log_in_to_the_staff_pages(client, member):
    response = client.post(
        "/login/",
        {"account": member.account.code, "username": member.user.username, "password": "secret-pass"},
    )
    assert response.status_code == 200
    assert "This page is for clinic staff" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_wrong_clinic_code_is_refused_without_saying_which_field(client, provider):
    response = client.post(
        "/login/", {"account": "nope", "username": provider.user.username, "password": "secret-pass"}
    )
    assert "Wrong clinic code, username or password." in response.content.decode()


def test_same_username_in_two_clinics_logs_into_the_right_one(client, provider):
    from tests.clinic.factories import AccountFactory, ProviderFactory

    other = ProviderFactory(
        account=AccountFactory(code="other"),
        user__username=provider.user.username,
        user__password="other-pass",
    )
    client.post("/login/", {"account": "other", "username": provider.user.username, "password": "other-pass"})
    assert int(client.session["_auth_user_id"]) == other.user.pk


def _login(client, provider, next_value):
    client.raise_request_exception = False
    return client.post(
        "/login/?" + urlencode({"next": next_value}),
        {"account": provider.account.code, "username": provider.user.username, "password": "secret-pass"},
    )


def test_next_on_this_site_is_followed_after_login(client, provider):
    response = _login(client, provider, "/scheduling/day/?date=2026-01-05")
    assert response.status_code == 302
    assert response["Location"] == "/scheduling/day/?date=2026-01-05"


@pytest.mark.parametrize(
    "next_value",
    [
        "https://elsewhere.example/",
        "//elsewhere.example/path",
        "/\\elsewhere.example",
        "http:/elsewhere.example",
        "javascript:alert(1)",
        "home",
        "admin:index",
        "no-such-page",
        "http://[::1",
        "/ok\r\nSet-Cookie: x=1",
        "é" * 300,
    ],
)
def test_any_other_next_goes_home_never_off_site_nor_a_500(client, provider, next_value):
    response = _login(client, provider, next_value)
    assert response.status_code == 302, next_value
    assert response["Location"] == "/", (next_value, response["Location"])


def test_a_nul_in_next_is_a_400_not_a_500(client, provider):
    assert _login(client, provider, "/\x00").status_code == 400
