"""API tokens: logout revokes the token it is called with, a password change revokes all of the user's,
and a rotated refresh token presented again revokes its whole family. Passwords: at least 12 characters."""

import io

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command

from clinic.models import ApiToken, User
from clinic.services import api_token_issue
from tests.conftest import V3Client

pytestmark = pytest.mark.django_db


def _works(account, token: str) -> bool:
    return V3Client(account.code, token).get("visits").status_code == 200


def _refresh(account, refresh_token: str):
    return V3Client(account.code).post("users/token/refresh", {"refresh_token": refresh_token})


def test_logout_revokes_the_token_it_is_called_with_only(account, member):
    phone, laptop = api_token_issue(user=member.user), api_token_issue(user=member.user)
    response = V3Client(account.code, phone["token"]).post("users/logout")
    assert response.status_code == 200 and response.json() == {"data": None}
    assert not _works(account, phone["token"])
    assert _refresh(account, phone["refresh_token"]["token"]).status_code == 403  # its refresh token too
    assert _works(account, laptop["token"])


def test_logout_needs_a_token(account):
    response = V3Client(account.code).post("users/logout")
    assert response.status_code == 401
    assert response.json()["code"] == 401


def test_a_password_change_revokes_every_token_of_the_user(account, provider, other_provider):
    mine = [api_token_issue(user=provider.user) for _ in range(2)]
    theirs = api_token_issue(user=other_provider.user)
    provider.user.set_password("a-new-long-password")
    provider.user.save()
    assert not any(_works(account, t["token"]) for t in mine)
    assert _refresh(account, mine[0]["refresh_token"]["token"]).status_code == 403
    assert _works(account, theirs["token"])


def test_saving_a_user_without_a_password_change_keeps_the_tokens(account, provider):
    token = api_token_issue(user=provider.user)
    user = User.objects.get(pk=provider.user.pk)
    user.first_name = "Renamed"
    user.save()
    assert _works(account, token["token"])


def test_a_refresh_keeps_the_family_and_reuse_revokes_it(account, member):
    first = api_token_issue(user=member.user)
    elsewhere = api_token_issue(user=member.user)  # another login: another family
    second = _refresh(account, first["refresh_token"]["token"]).json()["data"]["token"]
    third = _refresh(account, second["refresh_token"]["token"]).json()["data"]["token"]
    assert _works(account, third["token"])
    assert ApiToken.objects.filter(user=member.user).values("family").distinct().count() == 2

    # The first refresh token again (stolen and replayed): refused, and the family's live pair dies too.
    replay = _refresh(account, first["refresh_token"]["token"])
    assert replay.status_code == 403
    assert not _works(account, third["token"])
    assert _refresh(account, third["refresh_token"]["token"]).status_code == 403
    assert _works(account, elsewhere["token"])


def test_an_unknown_refresh_token_revokes_nothing(account, member):
    live = api_token_issue(user=member.user)
    assert _refresh(account, "f" * 64).status_code == 403
    assert _works(account, live["token"])


@pytest.mark.parametrize("password", ["short-pass1", "elevenchars"])
def test_passwords_need_twelve_characters(password):
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password(password)
    validate_password(password + "-and-more")


def test_the_admin_refuses_a_short_password(client, account):
    superuser = User.objects.create_superuser(username="root", password="x" * 20, email="")
    client.force_login(superuser)
    response = client.post(
        "/admin/clinic/user/add/",
        {
            "account": account.pk,
            "username": "new.one",
            "password1": "Short-pw-11",
            "password2": "Short-pw-11",
        },
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    assert not User.objects.filter(username="new.one").exists()


def test_the_demo_users_keep_their_demo_password(client):
    """seed_demo alone sets a password past the policy: the demo's documented "demo"."""
    call_command("seed_demo", account="demotest", stdout=io.StringIO())
    response = client.post("/login/", {"account": "demotest", "username": "dr.lee", "password": "demo"})
    assert response.status_code == 302
