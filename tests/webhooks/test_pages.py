"""The clinic admin's webhooks page: endpoints, the secret shown once, the delivery log with Resend."""

import pytest
from django.test import Client

from tests.clinic.factories import clinic_admin_user, front_desk_user
from webhooks import services
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def browser(admin):
    client = Client()
    client.force_login(admin)
    return client


def record(account, key="visit:5"):
    return services.webhook_event_record(
        account=account, event_type="visit.ended", data={"id": "5"}, ordering_key=key
    )


def test_adding_an_endpoint_shows_its_secret_this_once(browser, receiver):
    page = browser.get("/manage/webhooks/")
    assert page.status_code == 200
    assert "No endpoints yet." in page.content.decode()

    added = browser.post(
        "/manage/webhooks/", {"url": receiver.url(), "events": ["visit.created", "visit.ended"]}, **HTMX
    )
    endpoint = Endpoint.objects.get()
    html = added.content.decode()
    assert endpoint.secret in html
    assert "shown only this once" in html
    assert "<html" not in html  # the partial alone
    assert "Visit created, Visit ended" in html  # words, not codes

    again = browser.get("/manage/webhooks/").content.decode()
    assert receiver.url() in again
    assert endpoint.secret not in again


def test_a_refused_url_is_explained_on_the_form(browser, webhook_settings):
    webhook_settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    answer = browser.post(
        "/manage/webhooks/", {"url": "http://10.0.0.8/hook", "events": ["visit.ended"]}, **HTMX
    )
    assert answer.status_code == 200
    assert "private, loopback, link-local or reserved" in answer.content.decode()
    assert not Endpoint.objects.exists()


def test_turning_off_and_on_and_deleting(browser, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url())
    off = browser.post(f"/manage/webhooks/{endpoint.pk}/active/", {"active": "0"}, **HTMX).content.decode()
    assert "Turn on" in off
    endpoint.refresh_from_db()
    assert not endpoint.active
    browser.post(f"/manage/webhooks/{endpoint.pk}/active/", {"active": "1"})
    endpoint.refresh_from_db()
    assert endpoint.active
    gone = browser.post(f"/manage/webhooks/{endpoint.pk}/delete/", **HTMX).content.decode()
    assert "was deleted" in gone
    assert not Endpoint.objects.exists()


def test_the_delivery_log_in_words_and_resend(account, browser, receiver, make_endpoint, committed):
    endpoint = make_endpoint(receiver.url(), events=["visit.ended"])
    receiver.answers.append(500)
    with committed():
        record(account)
    log = browser.get(f"/manage/webhooks/{endpoint.pk}/").content.decode()
    assert "Visit ended" in log
    assert "Waiting to send" in log
    assert "500 Internal Server Error" in log
    assert "next in " in log

    delivery = Delivery.objects.get()
    with committed():
        row = browser.post(f"/manage/webhooks/deliveries/{delivery.pk}/resend/", **HTMX).content.decode()
    assert row.strip().startswith(f'<tr id="delivery-{delivery.pk}"')
    assert "Waiting to send" in row and "next now" in row  # it is sent once the click has committed
    assert len(receiver.requests) == 2
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_an_endpoint_turned_off_automatically_says_why(browser, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url())
    Endpoint.objects.filter(pk=endpoint.pk).update(
        active=False, disabled_reason="Turned off automatically: every delivery since … failed."
    )
    page = browser.get("/manage/webhooks/").content.decode()
    assert "Turned off automatically" in page
    assert "every delivery since" in page


def test_only_clinic_admins_see_the_page(account, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url())
    client = Client()
    assert client.get("/manage/webhooks/").status_code == 302  # to the login page
    client.force_login(front_desk_user(account))
    assert client.get("/manage/webhooks/").status_code == 403
    assert client.get(f"/manage/webhooks/{endpoint.pk}/").status_code == 403
    assert client.post(f"/manage/webhooks/{endpoint.pk}/delete/").status_code == 403
    assert Endpoint.objects.exists()


def test_another_clinics_endpoints_are_not_found(account, other_account, receiver, make_endpoint, committed):
    theirs = make_endpoint(receiver.url(), of=other_account, by=clinic_admin_user(other_account))
    with committed():
        record(other_account)
    client = Client()
    client.force_login(clinic_admin_user(account))
    assert receiver.url() not in client.get("/manage/webhooks/").content.decode()
    assert client.get(f"/manage/webhooks/{theirs.pk}/").status_code == 404
    assert client.post(f"/manage/webhooks/{theirs.pk}/active/", {"active": "0"}).status_code == 404
    delivery = Delivery.objects.get()
    assert client.post(f"/manage/webhooks/deliveries/{delivery.pk}/resend/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.active
