import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from clinic.services import api_credential_issue, api_token_issue
from tests.clinic.factories import (
    AccountFactory,
    ConsultationFactory,
    MemberFactory,
    ProviderFactory,
    RoomFactory,
    clinic_admin_user,
    front_desk_user,
)


@pytest.fixture(autouse=True)
def empty_cache():
    """Django's cache outlives a test (it is in memory by default); what one test left (the audit trail's
    recently listed rows) must not change what the next one sees."""
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests create users by the hundred: a deliberately slow hasher made each one cost about 0.3 s here.
    The hashing itself is Django's, and the login tests still check real passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Redis channels are shared by every database of the server: this run's events stay its own.
PUSH_TEST_PREFIX = f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session", autouse=True)
def push_test_keys_removed():
    """This run's Redis logs go at the end (each account's is bounded, but a run makes hundreds)."""
    yield
    from django.conf import settings

    if settings.PUSH_URL.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(settings.PUSH_URL)
        for key in client.scan_iter(f"{PUSH_TEST_PREFIX}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own on a free port (tests.processes.PrivateRedis), killed after."""
    import shutil

    from tests.processes import PrivateRedis

    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.kill()


@pytest.fixture(autouse=True)
def push_isolated(settings, tmp_path_factory):
    """Events published by tests go to this run's channels (Redis) or a file of its own (SQLite), never
    the working tree's var/push.sqlite3."""
    settings.PUSH_CHANNEL_PREFIX = PUSH_TEST_PREFIX
    if settings.PUSH_URL.startswith("sqlite:"):
        settings.PUSH_URL = f"sqlite:///{tmp_path_factory.getbasetemp() / 'push.sqlite3'}"


@pytest.fixture(autouse=True)
def fresh_cache():
    """API throttle counts live in the cache (local memory in tests): each test starts with none."""
    from django.core.cache import cache

    cache.clear()


class V3Client:
    """An API client that speaks as one account, optionally with one user's token."""

    def __init__(self, account_code: str, token: str | None = None, api_key: tuple[str, str] | None = None):
        self.client = APIClient()
        headers = {"HTTP_X_ACCOUNTCODE": account_code}
        if token:
            headers["HTTP_X_APITOKEN"] = token
        if api_key:
            headers["HTTP_X_APIKEY"], headers["HTTP_X_APISECRET"] = api_key
        self.client.credentials(**headers)

    def get(self, path, params=None):
        return self.client.get(f"/api/v3/{path}", params)

    def post(self, path, data=None, format="json"):
        return self.client.post(f"/api/v3/{path}", data or {}, format=format)


def client_for(user) -> V3Client:
    return V3Client(user.account.code, api_token_issue(user=user)["token"])


@pytest.fixture
def account(db):
    return AccountFactory(code="acme")


@pytest.fixture
def room(account):
    return RoomFactory(account=account, code="main")


@pytest.fixture
def consultation(room):
    return ConsultationFactory(room=room)


@pytest.fixture
def provider(account, room):
    return ProviderFactory(account=account, rooms=[room], user__first_name="Grace", user__last_name="Lee")


@pytest.fixture
def other_provider(account, room):
    return ProviderFactory(
        account=account, rooms=[room], user__first_name="Ravi", user__last_name="Patel", states=["CA", "NY"]
    )


@pytest.fixture
def member(account):
    return MemberFactory(account=account, first_name="Pat", last_name="Jones", code="P-1001")


@pytest.fixture
def front_desk(account):
    return front_desk_user(account)


@pytest.fixture
def clinic_admin(account):
    return clinic_admin_user(account)


@pytest.fixture
def member_api(member):
    return client_for(member.user)


@pytest.fixture
def provider_api(provider):
    return client_for(provider.user)


@pytest.fixture
def admin_api(clinic_admin):
    return client_for(clinic_admin)


@pytest.fixture
def front_desk_api(front_desk):
    return client_for(front_desk)


@pytest.fixture
def key_api(account):
    return V3Client(account.code, api_key=api_credential_issue(account=account))


# --- browser tests ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium (Debian's) for the session; each test opens its own contexts."""
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls tests make meanwhile are safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(executable):
        pytest.skip(f"No Chromium at {executable}")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def staff_page(chromium, live_server):
    """Log a staff user in through the real login page: `page = staff_page(user, password)`."""
    contexts = []

    def open_as(user, password="secret-pass"):
        context = chromium.new_context(base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.fill("input[name=account]", user.account.code)
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_load_state()
        return page

    yield open_as
    for context in contexts:
        context.close()
