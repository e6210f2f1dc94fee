from collections.abc import Iterable

from django.db.models import QuerySet

from clinic.errors import NotAllowed, NotFound
from clinic.models import Account, User
from webhooks.models import Delivery, Endpoint

MANAGE_PERMISSION = "webhooks.manage_webhooks"


def require_webhook_admin(*, actor: User) -> None:
    if not actor.has_perm(MANAGE_PERMISSION):
        raise NotAllowed("Only clinic admins manage webhooks.")


def id_from(value) -> int | None:
    """A positive database id from a client's value, or None (which finds nothing)."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def endpoints_list(*, account: Account, actor: User) -> QuerySet[Endpoint]:
    require_webhook_admin(actor=actor)
    return Endpoint.objects.filter(account=account).order_by("created", "id")


def endpoint_get(*, account: Account, actor: User, endpoint_id) -> Endpoint:
    require_webhook_admin(actor=actor)
    endpoint = Endpoint.objects.filter(account=account, pk=id_from(endpoint_id)).first()
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found.", errors={"id": ["No such endpoint."]})
    return endpoint


def delivery_get(*, account: Account, actor: User, delivery_id) -> Delivery:
    require_webhook_admin(actor=actor)
    delivery = (
        Delivery.objects.select_related("endpoint")
        .filter(pk=id_from(delivery_id), endpoint__account=account)
        .first()
    )
    if delivery is None:
        raise NotFound(f"Delivery {delivery_id} not found.", errors={"id": ["No such delivery."]})
    return delivery


def deliveries_of(*, endpoint: Endpoint) -> QuerySet[Delivery]:
    """The endpoint's delivery log, newest first."""
    return Delivery.objects.filter(endpoint=endpoint).order_by("-id")


def webhook_listeners(*, event_types: Iterable[str]) -> dict[str, set[int]]:
    """For each event type, the accounts with an active endpoint subscribed to it (one read of a small
    table): a caller builds an event's data only when someone listens."""
    wanted = set(event_types)
    listeners: dict[str, set[int]] = {name: set() for name in wanted}
    for account_id, events in Endpoint.objects.filter(active=True).values_list("account_id", "events"):
        for name in wanted.intersection(events):
            listeners[name].add(account_id)
    return listeners
