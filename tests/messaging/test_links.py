import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from messaging.links import LinkInvalid, link_issue, link_peek, link_redeem
from messaging.models import LinkToken

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.messaging.urls")]


def issue(minutes=60):
    path = link_issue(
        purpose="test_purpose", obj_id="42", expires_at=timezone.now() + dt.timedelta(minutes=minutes)
    )
    return path, path.strip("/").split("/")[-1]


def test_a_link_is_a_path_whose_token_is_not_stored():
    path, token = issue()
    assert path == f"/t/{token}/"
    assert len(token) >= 40
    stored = LinkToken.objects.get()
    assert token not in (stored.digest, stored.obj_id)
    assert (stored.purpose, stored.obj_id, stored.used_at) == ("test_purpose", "42", None)


def test_a_link_works_once():
    _, token = issue()
    assert link_peek(purpose="test_purpose", token=token).obj_id == "42"  # looking uses nothing
    assert link_redeem(purpose="test_purpose", token=token).obj_id == "42"
    with pytest.raises(LinkInvalid) as used:
        link_redeem(purpose="test_purpose", token=token)
    assert (used.value.reason, used.value.message) == ("used", "This link was already used.")
    with pytest.raises(LinkInvalid):
        link_peek(purpose="test_purpose", token=token)


def test_an_expired_link_says_so():
    _, token = issue(minutes=30)
    with (
        time_machine.travel(timezone.now() + dt.timedelta(minutes=31)),
        pytest.raises(LinkInvalid) as expired,
    ):
        link_redeem(purpose="test_purpose", token=token)
    assert expired.value.message == "This link has expired."
    assert LinkToken.objects.get().used_at is None


def test_an_unknown_or_other_purposes_token_is_not_valid():
    _, token = issue()
    for purpose, candidate in [("test_purpose", token[:-1] + "x"), ("other_purpose", token)]:
        with pytest.raises(LinkInvalid) as unknown:
            link_redeem(purpose=purpose, token=candidate)
        assert (unknown.value.reason, unknown.value.status_code) == ("unknown", 404)


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_act_once():
    _, token = issue()
    barrier, results = threading.Barrier(2), []

    def click():
        barrier.wait()
        try:
            results.append(link_redeem(purpose="test_purpose", token=token).obj_id)
        except LinkInvalid as exc:
            results.append(exc.reason)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["42", "used"]
