"""Outgoing webhooks: endpoints, the outbox, and delivering it.

The app that owns an object records its events here, inside the transaction that changes the object, with
the data its own API serializer gives: this app imports no domain module. A rollback writes and sends
nothing; a commit enqueues the deliveries, and the sweeper enqueues whatever is due and not on the queue
(retries, messages the broker lost): the outbox table, not the queue, is the source of truth.

Lock order: a delivery row, then its endpoint row."""

import base64
import datetime as dt
import json
import logging
import random
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from clinic.errors import Conflict, InvalidInput, NotFound
from clinic.jobs import enqueue_on_commit
from clinic.models import Account, User
from webhooks import transport
from webhooks.event_types import EventType
from webhooks.models import OPEN_STATUSES, Attempt, Delivery, Endpoint
from webhooks.selectors import MANAGE_PERMISSION, endpoint_get, id_from, require_webhook_admin

log = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_ACCOUNT = 20
# Retries: 15 s, 1 min, 4 min, 16 min, 64 min, 4 h 16 min, then every 6 h, each ±20 % so that the
# deliveries a receiver's outage held back do not all come back at once: about a day in all.
MAX_ATTEMPTS = 10
RETRY_FIRST_DELAY = 15
RETRY_FACTOR = 4
RETRY_MAX_DELAY = 6 * 3600
RETRY_JITTER = 0.2
# An endpoint whose every attempt failed for this long (and at least this many in a row) is turned off.
DISABLE_AFTER = dt.timedelta(days=1)
DISABLE_MIN_FAILURES = 5
# A sender holds its claim this long (well past the request timeout): after a crash, the sweeper takes over.
CLAIM_LEASE = dt.timedelta(seconds=60)
# A delivery put on the queue is enqueued again by the sweeper only after this long without being taken.
ENQUEUE_LEASE = dt.timedelta(minutes=2)
SWEEP_BATCH = 1000


# --- recording events (inside the domain transaction) --------------------------------------------------


@dataclass(frozen=True)
class WebhookEvent:
    account_id: int
    event_type: EventType
    data: dict
    ordering_key: str  # deliveries with one key ("visit:<id>") reach each endpoint in the order recorded


def webhook_event_record(*, account: Account, event_type: EventType, data: dict, ordering_key: str) -> int:
    """Record one event for every active endpoint of `account` subscribed to it; returns how many
    deliveries were written. Call it inside the transaction of the change the event reports."""
    return webhook_events_record(
        events=[
            WebhookEvent(account_id=account.pk, event_type=event_type, data=data, ordering_key=ordering_key)
        ]
    )


# No savepoint: it runs inside the caller's transaction on every visit change, and its one insert is atomic.
@transaction.atomic(savepoint=False)
def webhook_events_record(*, events: Iterable[WebhookEvent]) -> int:
    """Many events, of any accounts, in one read of the endpoints and one insert."""
    events = list(events)
    if not events:
        return 0
    listening: dict[int, list[Endpoint]] = {}
    for endpoint in Endpoint.objects.filter(account_id__in={e.account_id for e in events}, active=True).only(
        "account_id", "events"
    ):
        listening.setdefault(endpoint.account_id, []).append(endpoint)
    now = timezone.now()
    rows = []
    for event in events:
        targets = [e for e in listening.get(event.account_id, ()) if event.event_type in e.events]
        if not targets:
            continue
        payload = json.dumps(
            {"type": str(event.event_type), "timestamp": int(now.timestamp()), "data": event.data},
            cls=DjangoJSONEncoder,
            separators=(",", ":"),
        )
        rows += [
            Delivery(
                endpoint_id=endpoint.pk,
                event_type=event.event_type,
                payload=payload,
                webhook_id=f"msg_{uuid.uuid4().hex}",
                ordering_key=event.ordering_key,
                next_attempt_at=now,
                enqueued_at=now,
                created=now,
            )
            for endpoint in targets
        ]
    if not rows:
        return 0
    created = Delivery.objects.bulk_create(rows)
    _enqueue_on_commit([d.pk for d in created])
    return len(created)


def _enqueue_on_commit(delivery_ids: list[int]) -> None:
    # A broker that is down is logged: the sweeper enqueues these once ENQUEUE_LEASE has passed.
    for delivery_id in delivery_ids:
        enqueue_on_commit("webhooks.tasks.deliver", delivery_id)


# --- endpoints (clinic admins) --------------------------------------------------------------------------


def _secret_new() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _events_clean(events: Iterable[str]) -> list[str]:
    wanted = set(events)
    unknown = sorted(wanted - set(EventType.values))
    if unknown:
        raise InvalidInput.field("events", f"Unknown event type {unknown[0]!r}.")
    if not wanted:
        raise InvalidInput.field("events", "Choose at least one event.")
    return [name for name in EventType.values if name in wanted]


@transaction.atomic
def endpoint_create(*, account: Account, actor: User, url: str, events: Iterable[str]) -> Endpoint:
    """A new endpoint with a new secret: the returned object is the only time its secret is shown."""
    require_webhook_admin(actor=actor)
    events = _events_clean(events)
    try:
        url = transport.url_clean(url)
    except transport.UrlRefused as exc:
        raise InvalidInput.field("url", exc.message) from None
    # Counted under the account's row lock, so two simultaneous requests cannot both pass the bound.
    Account.objects.select_for_update().filter(pk=account.pk).first()
    if Endpoint.objects.filter(account=account).count() >= MAX_ENDPOINTS_PER_ACCOUNT:
        raise Conflict(f"A clinic may have at most {MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints.")
    return Endpoint.objects.create(
        account=account, url=url, events=events, secret=_secret_new(), created_by=actor
    )


@transaction.atomic
def endpoint_delete(*, account: Account, actor: User, endpoint_id) -> Endpoint:
    """Remove the endpoint with its delivery log; nothing more is sent to it."""
    endpoint = endpoint_get(account=account, actor=actor, endpoint_id=endpoint_id)
    deleted_id = endpoint.pk
    endpoint.delete()
    endpoint.pk = deleted_id
    return endpoint


@transaction.atomic
def endpoint_set_active(*, account: Account, actor: User, endpoint_id, active: bool) -> Endpoint:
    """Turn an endpoint off or on. Turned on again, it gets what waited meanwhile, in order."""
    endpoint = endpoint_get(account=account, actor=actor, endpoint_id=endpoint_id)
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.active = active
    if active:
        endpoint.disabled_reason, endpoint.disabled_at = "", None
        endpoint.failing_since, endpoint.consecutive_failures = None, 0
    endpoint.save(
        update_fields=["active", "disabled_reason", "disabled_at", "failing_since", "consecutive_failures"]
    )
    return endpoint


@transaction.atomic
def delivery_resend(*, account: Account, actor: User, delivery_id) -> Delivery:
    """Send a delivery again now (same webhook-id, so the receiver can tell it is the same event)."""
    require_webhook_admin(actor=actor)
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .filter(pk=id_from(delivery_id), endpoint__account=account)
        .first()
    )
    if delivery is None:
        raise NotFound(f"Delivery {delivery_id} not found.", errors={"id": ["No such delivery."]})
    if delivery.status == Delivery.Status.SENDING:
        raise Conflict("This delivery is being sent right now.")
    if not delivery.endpoint.active:
        raise Conflict("Turn the endpoint on first.")
    now = timezone.now()
    if delivery.status != Delivery.Status.PENDING:
        delivery.attempts = 0  # a new round of retries; the attempt log keeps the earlier ones
    delivery.status = Delivery.Status.PENDING
    delivery.next_attempt_at = delivery.enqueued_at = now
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "enqueued_at"])
    _enqueue_on_commit([delivery.pk])
    return delivery


# --- delivering (the worker) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    attempt: int
    at: dt.datetime
    url: str
    secret: str
    webhook_id: str
    payload: str


def _earlier_open(delivery: Delivery):
    return Delivery.objects.filter(
        endpoint_id=delivery.endpoint_id,
        ordering_key=delivery.ordering_key,
        id__lt=delivery.pk,
        status__in=OPEN_STATUSES,
    )


def _claim(delivery_id: int) -> _Claim | None:
    """Take the delivery for one attempt if it is due, its endpoint is on, and nothing recorded before it
    for the same endpoint and key is still open; None otherwise (a duplicate message, not due, waiting
    its turn: the delivery before it enqueues it when done)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, status__in=OPEN_STATUSES)
            .first()
        )
        now = timezone.now()
        if (
            delivery is None
            or not delivery.endpoint.active
            or (delivery.next_attempt_at and delivery.next_attempt_at > now)
            or _earlier_open(delivery).exists()
        ):
            return None
        delivery.status = Delivery.Status.SENDING
        delivery.attempts += 1
        delivery.next_attempt_at = now + CLAIM_LEASE
        delivery.enqueued_at = None
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "enqueued_at"])
        return _Claim(
            delivery_id=delivery.pk,
            attempt=delivery.attempts,
            at=now,
            url=delivery.endpoint.url,
            secret=delivery.endpoint.secret,
            webhook_id=delivery.webhook_id,
            payload=delivery.payload,
        )


def retry_delay(*, attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones."""
    delay = min(RETRY_FIRST_DELAY * RETRY_FACTOR ** (attempts - 1), RETRY_MAX_DELAY)
    return delay * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)


def delivery_attempt(*, delivery_id: int) -> str:
    """One attempt at a delivery: claim it, POST it (outside any transaction), record what happened.
    Idempotent: a message for a delivery that is not due, not open or not its key's turn does nothing."""
    claim = _claim(delivery_id)
    if claim is None:
        return "skipped"
    outcome = transport.send(
        url=claim.url, secret=claim.secret, webhook_id=claim.webhook_id, payload=claim.payload
    )
    return _attempt_record(claim=claim, outcome=outcome)


@transaction.atomic
def _attempt_record(*, claim: _Claim, outcome: transport.Outcome) -> str:
    delivery = (
        Delivery.objects.select_for_update()
        .filter(pk=claim.delivery_id, status=Delivery.Status.SENDING, attempts=claim.attempt)
        .first()
    )
    if delivery is None:  # the endpoint was deleted meanwhile
        return "gone"
    now = timezone.now()
    Attempt.objects.create(
        delivery=delivery,
        at=claim.at,
        response_status=outcome.status,
        duration_ms=outcome.duration_ms,
        error=outcome.error[:300],
    )
    delivery.last_response_status, delivery.last_error = outcome.status, outcome.error[:300]
    if outcome.ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            Delivery.Status.DELIVERED,
            now,
            None,
        )
        Endpoint.objects.filter(pk=delivery.endpoint_id).exclude(consecutive_failures=0).update(
            consecutive_failures=0, failing_since=None
        )
    else:
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
        else:
            delivery.status = Delivery.Status.PENDING
            delivery.next_attempt_at = now + dt.timedelta(seconds=retry_delay(attempts=delivery.attempts))
        _endpoint_failed(endpoint_id=delivery.endpoint_id, now=now, outcome=outcome)
    delivery.save()
    if delivery.status != Delivery.Status.PENDING:
        _next_in_line(delivery=delivery, now=now)
    return delivery.status


def _next_in_line(*, delivery: Delivery, now: dt.datetime) -> None:
    """Done with this one (delivered or given up): the next delivery of its endpoint and key goes now."""
    following = (
        Delivery.objects.filter(
            endpoint_id=delivery.endpoint_id,
            ordering_key=delivery.ordering_key,
            id__gt=delivery.pk,
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now,
        )
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        Delivery.objects.filter(pk=following).update(enqueued_at=now)
        _enqueue_on_commit([following])


def _endpoint_failed(*, endpoint_id: int, now: dt.datetime, outcome: transport.Outcome) -> None:
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    if (
        endpoint.active
        and endpoint.consecutive_failures >= DISABLE_MIN_FAILURES
        and now - endpoint.failing_since >= DISABLE_AFTER
    ):
        endpoint.active, endpoint.disabled_at = False, now
        endpoint.disabled_reason = (
            f"Turned off automatically: every delivery since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC "
            f"failed ({endpoint.consecutive_failures} attempts; the last: "
            f"{outcome.words})."
        )[:300]
        transaction.on_commit(partial(_disabled_notice, endpoint.pk))
    endpoint.save(
        update_fields=["consecutive_failures", "failing_since", "active", "disabled_at", "disabled_reason"]
    )


def _disabled_notice(endpoint_id: int) -> None:
    """Email the clinic's admins that an endpoint turned itself off (the page shows it too)."""
    endpoint = Endpoint.objects.select_related("account").filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    app_label, codename = MANAGE_PERMISSION.split(".")
    granted = Q(
        groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label
    ) | Q(user_permissions__codename=codename, user_permissions__content_type__app_label=app_label)
    recipients = list(
        User.objects.filter(granted, account=endpoint.account, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        return
    try:
        send_mail(
            subject=f"Webhook endpoint turned off: {endpoint.url}"[:200],
            message=(
                f"The webhook endpoint {endpoint.url} of {endpoint.account.name} was turned off.\n\n"
                f"{endpoint.disabled_reason}\n\nNew events are not recorded for it until a clinic admin "
                "turns it on again on the Webhooks page; what waited is then sent, in order."
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:  # mail is a courtesy: the page shows the notice whatever happens here
        log.exception("Could not email the admins about webhook endpoint %s", endpoint_id)


def deliveries_sweep(*, now: dt.datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Beat: enqueue deliveries that are due, first in line for their endpoint and key, on an active
    endpoint, and not on the queue (never enqueued, retries, lost messages, a crashed sender's claim)."""
    now = now or timezone.now()
    earlier_open = Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        ordering_key=OuterRef("ordering_key"),
        id__lt=OuterRef("id"),
        status__in=OPEN_STATUSES,
    )
    with transaction.atomic():
        due = list(
            Delivery.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now, endpoint__active=True)
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=now - ENQUEUE_LEASE))
            .filter(~Exists(earlier_open))
            .order_by("next_attempt_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        if due:
            Delivery.objects.filter(pk__in=due).update(enqueued_at=now)
            _enqueue_on_commit(due)
    return len(due)
