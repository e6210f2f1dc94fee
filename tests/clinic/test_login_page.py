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
