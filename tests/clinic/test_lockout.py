"""Login lockout (django-axes) on the API login, the staff login page and /admin/, keyed on the clinic's
code + username and on the address; the clinic admin's page that shows and clears lockouts."""

import logging

import pytest
from axes.models import AccessAttempt, AccessFailureLog

from tests.clinic.factories import AccountFactory, ProviderFactory, UserFactory, clinic_admin_user
from tests.conftest import V3Client

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def _api_login(account_code, username, password, address="10.0.0.1"):
    api = V3Client(account_code)
    return api.client.post(
        "/api/v3/users/login",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def _page_login(client, account_code, username, password, address="10.0.0.1"):
    return client.post(
        "/login/", {"account": account_code, "username": username, "password": password}, REMOTE_ADDR=address
    )


# --- the API ---------------------------------------------------------------------------------------------


def test_api_login_locks_after_the_limit_with_a_429_envelope(account, provider):
    username = provider.user.username
    for _ in range(LIMIT - 1):
        assert _api_login(account.code, username, "wrong").status_code == 403
    locked = _api_login(account.code, username, "wrong")
    assert locked.status_code == 429
    body = locked.json()
    assert body["code"] == 429
    assert "Too many failed logins" in body["message"]
    assert int(locked["Retry-After"]) > 0
    # Locked means locked: the right password is refused too, from anywhere.
    again = _api_login(account.code, username, "secret-pass", address="10.9.9.9")
    assert again.status_code == 429


def test_api_lockout_ends_after_its_period(account, provider, settings):
    import datetime as dt

    import time_machine

    for _ in range(LIMIT):
        _api_login(account.code, provider.user.username, "wrong")
    assert _api_login(account.code, provider.user.username, "secret-pass").status_code == 429
    later = dt.datetime.now(dt.UTC) + settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=5)
    with time_machine.travel(later):
        assert _api_login(account.code, provider.user.username, "secret-pass").status_code == 200


def test_the_lockout_is_per_clinic_not_per_bare_username(account, provider):
    """dr.lee of another clinic is another person: failures against this one must not lock them out."""
    other = ProviderFactory(account=AccountFactory(code="other"), user__username=provider.user.username)
    for _ in range(LIMIT):
        _api_login(account.code, provider.user.username, "wrong")
    assert _api_login(account.code, provider.user.username, "secret-pass", "10.0.0.2").status_code == 429
    assert _api_login("other", other.user.username, "secret-pass", "10.0.0.2").status_code == 200
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {f"acme+{provider.user.username}"}


def test_one_address_trying_many_usernames_is_locked(account, provider):
    for n in range(LIMIT):
        _api_login(account.code, f"guess{n}", "wrong", address="10.6.6.6")
    # Even a real user with the right password, from that address, is refused...
    assert _api_login(account.code, provider.user.username, "secret-pass", "10.6.6.6").status_code == 429
    # ... while the same user from elsewhere is not locked.
    assert _api_login(account.code, provider.user.username, "secret-pass", "10.0.0.7").status_code == 200


def test_every_failure_is_logged_and_recorded(account, provider, caplog):
    caplog.set_level(logging.WARNING, logger="axes")
    _api_login(account.code, provider.user.username, "wrong", address="10.1.2.3")
    _api_login(account.code, "nobody", "wrong", address="10.1.2.3")
    failures = AccessFailureLog.objects.order_by("attempt_time")
    assert [(f.username, f.ip_address) for f in failures] == [
        (f"acme+{provider.user.username}", "10.1.2.3"),
        ("acme+nobody", "10.1.2.3"),
    ]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"acme+{provider.user.username}" in logged and "10.1.2.3" in logged
    assert "wrong" not in logged  # never the password


def test_the_address_behind_a_trusted_proxy_is_the_one_it_saw(account, provider, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    api = V3Client(account.code)
    api.client.post(
        "/api/v3/users/login",
        {"username": provider.user.username, "password": "wrong"},
        format="json",
        REMOTE_ADDR="10.0.0.254",
        HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9",
    )
    assert AccessAttempt.objects.get().ip_address == "203.0.113.9"


# --- the staff login page and /admin/ --------------------------------------------------------------------


def test_staff_page_lockout_is_a_form_error(client, account, provider):
    for _ in range(LIMIT - 1):
        response = _page_login(client, account.code, provider.user.username, "wrong")
        assert "Wrong clinic code, username or password." in response.content.decode()
    response = _page_login(client, account.code, provider.user.username, "wrong")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert 'name="username"' in page  # still the login page, the message as the form's error
    response = _page_login(client, account.code, provider.user.username, "secret-pass")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_page_and_api_share_one_count(client, account, provider):
    for _ in range(LIMIT - 1):
        _page_login(client, account.code, provider.user.username, "wrong")
    _api_login(account.code, provider.user.username, "wrong")
    assert _page_login(client, account.code, provider.user.username, "secret-pass").status_code == 429


def test_admin_login_locks_with_a_clear_message(client):
    UserFactory(account=None, username="root", is_staff=True, is_superuser=True, password="long-enough-pass")
    for _ in range(LIMIT):
        response = client.post(
            "/admin/login/?next=/admin/", {"username": "root", "password": "wrong"}, REMOTE_ADDR="10.0.0.3"
        )
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert AccessAttempt.objects.get().username == "+root"
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": "long-enough-pass"},
        REMOTE_ADDR="10.0.0.4",
    )
    assert response.status_code == 429


# --- the lockouts page -----------------------------------------------------------------------------------


def _lock(account, username, address="10.0.0.1"):
    for _ in range(LIMIT):
        _api_login(account.code, username, "wrong", address=address)


def test_clinic_admin_sees_the_clinics_lockouts_in_words(client, account, provider):
    provider.user.first_name, provider.user.last_name = "Grace", "Lee"
    provider.user.save()
    _lock(account, provider.user.username)
    _lock(AccountFactory(code="other"), "their.user", address="10.5.5.5")
    client.force_login(clinic_admin_user(account))
    page = client.get("/manage/lockouts/").content.decode()
    assert "Grace Lee" in page and "Locked" in page and "10.0.0.1" in page
    assert "their.user" not in page and "10.5.5.5" not in page  # another clinic's business
    assert "acme+" not in page  # words, not internal keys


def test_clinic_admin_unlocks_a_user(client, account, provider):
    _lock(account, provider.user.username)
    client.force_login(clinic_admin_user(account))
    attempt = AccessAttempt.objects.get()
    response = client.post("/manage/lockouts/", {"attempt": attempt.pk}, follow=True)
    assert "can log in again" in response.content.decode()
    assert not AccessAttempt.objects.exists()
    assert _api_login(account.code, provider.user.username, "secret-pass").status_code == 200


def test_another_clinics_lockout_cannot_be_cleared(client, account):
    _lock(AccountFactory(code="other"), "their.user")
    client.force_login(clinic_admin_user(account))
    client.raise_request_exception = False
    response = client.post("/manage/lockouts/", {"attempt": AccessAttempt.objects.get().pk})
    assert response.status_code == 404
    assert AccessAttempt.objects.exists()


@pytest.mark.parametrize("who", ["provider", "front_desk"])
def test_only_clinic_admins_see_the_lockouts_page(client, who, request):
    user = request.getfixturevalue(who)
    client.force_login(getattr(user, "user", user))
    assert client.get("/manage/lockouts/").status_code == 403
