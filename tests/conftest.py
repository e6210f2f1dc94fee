import pytest
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
