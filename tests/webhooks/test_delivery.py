"""Deliveries to a real HTTP receiver: signed, retried, in order, never for a rollback or another clinic."""

import base64
import datetime as dt
import json

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from webhooks import services, transport
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

VISIT = {"id": "41", "status": 10, "status_name": "waiting", "room_code": "main"}


def record(account, event_type="visit.created", data=VISIT, key="visit:41"):
    return services.webhook_event_record(account=account, event_type=event_type, data=data, ordering_key=key)


def sweep_at(moment, committed):
    """Run the beat's sweeper at `moment` and the deliveries it enqueues."""
    with time_machine.travel(moment, tick=False), committed():
        return services.deliveries_sweep()


def test_a_delivery_is_signed_per_standard_webhooks(account, receiver, make_endpoint, committed):
    endpoint = make_endpoint(receiver.url())
    with committed():
        record(account)
    [request] = receiver.requests
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "visit.created"
    assert body["data"] == VISIT
    assert abs(body["timestamp"] - timezone.now().timestamp()) < 5
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["Content-Type"] == "application/json"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("delivered", 1, 200)


def test_a_wrong_secret_does_not_verify(account, receiver, make_endpoint, committed):
    make_endpoint(receiver.url())
    with committed():
        record(account)
    [request] = receiver.requests
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + base64.b64encode(b"not the endpoint's key").decode()).verify(
            request.body, request.headers
        )


def test_only_endpoints_subscribed_to_the_event_get_it(account, receiver, make_endpoint, committed):
    make_endpoint(receiver.url("/ended-only"), events=["visit.ended"])
    make_endpoint(receiver.url("/all"), events=["visit.created", "visit.ended"])
    with committed():
        record(account, "visit.created")
    assert receiver.paths() == ["/all"]


def test_after_a_500_it_is_retried_with_the_same_webhook_id(account, receiver, make_endpoint, committed):
    endpoint = make_endpoint(receiver.url())
    receiver.answers.append(500)
    with committed():
        record(account)
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    # The first retry comes within a minute.
    assert timezone.now() < delivery.next_attempt_at < timezone.now() + dt.timedelta(minutes=1)
    assert sweep_at(delivery.next_attempt_at - dt.timedelta(seconds=1), committed) == 0  # not yet due
    assert len(receiver.requests) == 1

    assert sweep_at(delivery.next_attempt_at + dt.timedelta(seconds=1), committed) == 1
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    Webhook(endpoint.secret).verify(second.body, second.headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert [a.response_status for a in delivery.attempt_log.all()] == [500, 200]


def test_deliveries_of_one_visit_arrive_in_the_order_recorded(account, receiver, make_endpoint, committed):
    make_endpoint(receiver.url())
    receiver.answers.append(503)  # the first one fails once: the two after it wait for it
    with committed():
        record(account, "visit.created", {"n": 1})
        record(account, "visit.updated", {"n": 2})
        record(account, "visit.ended", {"n": 3})
        record(account, "visit.created", {"n": 4}, key="visit:99")  # another visit does not wait
    assert [json.loads(r.body)["data"]["n"] for r in receiver.requests] == [1, 4]

    first = Delivery.objects.get(event_type="visit.created", ordering_key="visit:41")
    sweep_at(first.next_attempt_at + dt.timedelta(seconds=1), committed)
    assert [json.loads(r.body)["data"]["n"] for r in receiver.requests] == [1, 4, 1, 2, 3]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_rollback_writes_and_sends_nothing(account, receiver, make_endpoint, committed):
    make_endpoint(receiver.url())
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        record(account)
        raise RuntimeError("the visit change failed")
    assert receiver.requests == []
    assert not Delivery.objects.exists()


def test_another_clinics_events_never_reach_this_clinics_endpoints(
    account, other_account, receiver, make_endpoint, committed
):
    from tests.clinic.factories import clinic_admin_user

    make_endpoint(receiver.url("/ours"))
    make_endpoint(receiver.url("/theirs"), of=other_account, by=clinic_admin_user(other_account))
    with committed():
        record(other_account, data={"id": "7"}, key="visit:7")
    assert receiver.paths() == ["/theirs"]


def test_many_events_of_several_clinics_in_one_call(
    account, other_account, receiver, make_endpoint, committed
):
    from tests.clinic.factories import clinic_admin_user

    make_endpoint(receiver.url("/ours"), events=["visit.ended"])
    make_endpoint(receiver.url("/theirs"), of=other_account, by=clinic_admin_user(other_account))
    events = [
        services.WebhookEvent(
            account_id=acc.pk, event_type="visit.ended", data={"id": str(n)}, ordering_key=f"visit:{n}"
        )
        for n, acc in enumerate([account, other_account, account])
    ]
    with committed():
        assert services.webhook_events_record(events=events) == 3
    assert sorted(receiver.paths()) == ["/ours", "/ours", "/theirs"]


def test_a_lost_message_is_sent_by_the_sweeper(
    account, receiver, make_endpoint, django_capture_on_commit_callbacks, committed
):
    make_endpoint(receiver.url())
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost it
        record(account)
    assert sweep_at(timezone.now() + dt.timedelta(seconds=30), committed) == 0  # it may still be queued
    assert sweep_at(timezone.now() + services.ENQUEUE_LEASE + dt.timedelta(seconds=1), committed) == 1
    assert len(receiver.requests) == 1


class WorkerKilled(BaseException):
    pass


def test_a_sender_that_died_mid_request_is_taken_over(
    account, receiver, make_endpoint, django_capture_on_commit_callbacks, committed, monkeypatch
):
    make_endpoint(receiver.url())
    with django_capture_on_commit_callbacks(execute=False):
        record(account)
    delivery = Delivery.objects.get()

    def killed(**kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patched:
        patched.setattr(transport, "send", killed)
        with pytest.raises(WorkerKilled):
            services.delivery_attempt(delivery_id=delivery.pk)
    assert services.delivery_attempt(delivery_id=delivery.pk) == "skipped"  # a duplicate message
    assert sweep_at(timezone.now() + services.CLAIM_LEASE + dt.timedelta(seconds=1), committed) == 1
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_it_gives_up_after_about_a_day_and_the_next_one_goes(
    account, receiver, make_endpoint, committed, monkeypatch
):
    monkeypatch.setattr(services, "DISABLE_AFTER", dt.timedelta(days=7))  # the endpoint stays on
    make_endpoint(receiver.url())
    receiver.answers.extend([500] * services.MAX_ATTEMPTS)
    with committed():
        record(account, "visit.created", {"n": 1})
        record(account, "visit.updated", {"n": 2})
    first = Delivery.objects.order_by("id").first()
    started = timezone.now()
    while first.status == "pending":
        sweep_at(first.next_attempt_at + dt.timedelta(seconds=1), committed)
        first.refresh_from_db()
    assert first.status == "failed"
    assert first.attempts == services.MAX_ATTEMPTS
    span = first.attempt_log.last().at - started
    assert dt.timedelta(hours=18) < span < dt.timedelta(hours=30)
    # Given up on, it no longer holds back the visit's next delivery.
    assert json.loads(receiver.requests[-1].body)["data"] == {"n": 2}
    assert Delivery.objects.order_by("id").last().status == "delivered"


def test_an_endpoint_failing_for_a_day_is_turned_off_and_the_admins_told(
    account, admin, receiver, make_endpoint, committed
):
    endpoint = make_endpoint(receiver.url())
    receiver.answers.extend([500] * 100)
    with committed():
        record(account)
    first_failure = timezone.now()
    while endpoint.active:  # retry what is due; once a delivery is given up on, the next event comes
        pending = Delivery.objects.filter(status="pending").order_by("next_attempt_at").first()
        if pending is None:
            last = Delivery.objects.latest("id").attempt_log.last().at
            with time_machine.travel(last + dt.timedelta(hours=1), tick=False), committed():
                record(account, key=f"visit:{Delivery.objects.count() + 100}")
        else:
            sweep_at(pending.next_attempt_at + dt.timedelta(seconds=1), committed)
        endpoint.refresh_from_db()
    assert endpoint.disabled_at - first_failure >= services.DISABLE_AFTER
    assert "every delivery since" in endpoint.disabled_reason
    assert "500 Internal Server Error" in endpoint.disabled_reason
    [message] = mail.outbox
    assert message.to == [admin.email]
    assert endpoint.url in message.body

    # Off, it gets no new events; turned on again, it is sent what waits.
    with committed():
        assert record(account, key="visit:42") == 0
    services.endpoint_set_active(account=account, actor=admin, endpoint_id=endpoint.pk, active=True)
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_reason == "" and endpoint.consecutive_failures == 0


def test_a_success_resets_the_failure_count(account, receiver, make_endpoint, committed):
    endpoint = make_endpoint(receiver.url())
    receiver.answers.extend([500, 500])
    with committed():
        record(account)
    delivery = Delivery.objects.get()
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1
    sweep_at(delivery.next_attempt_at + dt.timedelta(seconds=1), committed)
    delivery.refresh_from_db()
    sweep_at(delivery.next_attempt_at + dt.timedelta(seconds=1), committed)
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.failing_since, endpoint.active) == (0, None, True)


def test_resend_sends_the_same_message_again(account, admin, receiver, make_endpoint, committed):
    make_endpoint(receiver.url())
    with committed():
        record(account)
    delivery = Delivery.objects.get()
    with committed():
        services.delivery_resend(account=account, actor=admin, delivery_id=delivery.pk)
    first, again = receiver.requests
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.attempt_log.count()) == ("delivered", 1, 2)


def test_a_deleted_endpoint_gets_nothing_more(
    account, admin, receiver, make_endpoint, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(receiver.url())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record(account)
    services.endpoint_delete(account=account, actor=admin, endpoint_id=endpoint.pk)
    for callback in callbacks:
        callback()
    assert receiver.requests == []
