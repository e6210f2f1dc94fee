"""Which URLs deliveries may go to: https in production, public addresses only unless allowed, no
redirects followed, short timeouts, and the address checked is the address connected to."""

import socket

import pytest

from clinic.errors import InvalidInput
from webhooks.models import Delivery
from webhooks.services import webhook_event_record

pytestmark = pytest.mark.django_db


def record(account):
    return webhook_event_record(
        account=account, event_type="visit.created", data={"id": "1"}, ordering_key="visit:1"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://localhost/hook",
    ],
)
def test_private_addresses_are_refused_unless_allowed(url, make_endpoint, webhook_settings):
    webhook_settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(InvalidInput) as refused:
        make_endpoint(url)
    assert "private, loopback, link-local or reserved" in refused.value.errors["url"][0]


def test_https_only_refuses_http(make_endpoint, webhook_settings):
    webhook_settings.WEBHOOK_HTTPS_ONLY = True
    with pytest.raises(InvalidInput, match="https"):
        make_endpoint("http://hooks.example.com/x")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "http"),
        ("https:///x", "no host"),
        ("https://user:pw@example.com/x", "user name or password"),
        ("https://example.com:99999/x", "port"),
        ("https://no-such-host.invalid/x", "could not be found"),
    ],
)
def test_unusable_urls_are_refused_with_the_reason(url, problem, make_endpoint):
    with pytest.raises(InvalidInput, match=problem):
        make_endpoint(url)


def test_a_name_that_resolves_to_a_private_address_later_is_not_called(
    account, receiver, make_endpoint, committed, webhook_settings, monkeypatch
):
    """DNS rebinding: registered while the name looked public, it now resolves to loopback."""
    real = socket.getaddrinfo
    answers = {"hooks.example.test": "93.184.216.34"}

    def resolve(host, port, *args, **kwargs):
        if host in answers:
            return real(answers[host], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    webhook_settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    make_endpoint(f"http://hooks.example.test:{receiver.port}/hook")
    answers["hooks.example.test"] = "127.0.0.1"
    with committed():
        record(account)
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert "private, loopback" in delivery.last_error


def test_the_checked_address_is_the_one_connected_to(
    account, receiver, make_endpoint, committed, monkeypatch
):
    real = socket.getaddrinfo
    looked_up = []

    def resolve(host, port, *args, **kwargs):
        looked_up.append(host)
        return real("127.0.0.1" if host == "hooks.example.test" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    make_endpoint(f"http://hooks.example.test:{receiver.port}/hook")
    looked_up.clear()
    with committed():
        record(account)
    [request] = receiver.requests
    # The name was resolved once, by the policy check; the connection went to the address it checked
    # (urllib3 "resolves" that literal address), with the name as Host.
    assert looked_up == ["hooks.example.test", "127.0.0.1"]
    assert request.headers["Host"] == f"hooks.example.test:{receiver.port}"


def test_redirects_are_not_followed(account, receiver, make_endpoint, committed):
    make_endpoint(receiver.url("/redirect"))
    with committed():
        record(account)
    assert receiver.paths() == ["/redirect"]  # never /target
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_response_status) == ("pending", 307)


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(
    account, receiver, make_endpoint, committed, webhook_settings
):
    webhook_settings.WEBHOOK_TIMEOUT = 0.5
    receiver.slow_seconds = 1.5
    make_endpoint(receiver.url("/slow"))
    with committed():
        record(account)
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.last_error == "No answer in time."
    assert delivery.attempt_log.get().duration_ms < 1400


def test_nothing_listening_is_a_failed_attempt(account, make_endpoint, committed):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    make_endpoint(f"http://127.0.0.1:{port}/hook")
    with committed():
        record(account)
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("Could not connect")
