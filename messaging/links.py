"""Signed, single-use links sent to patients (confirm, cancel, reschedule, accept an offer).

A link is a random token in a URL path. Only an HMAC of the token (keyed with SECRET_KEY) is stored, so
neither the table nor a backup opens anything; the token itself carries nothing to forge. A link is used
by one conditional UPDATE (`used_at` still empty, not expired), so two clicks racing each other act once.

A purpose's page is the URL named `link_<purpose>` taking a `token` argument, in the app that owns the
purpose (e.g. `path("a/<str:token>/confirm/", ..., name="link_appointment_confirm")`): `link_issue` returns
that path. The page shows what the link will do on GET (`link_peek`, which uses nothing: mail scanners
open links) and acts on POST (`link_redeem`, in the same transaction as the action, so an action that
fails leaves the link unused).
"""

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from clinic.errors import ServiceError
from messaging.models import LinkToken


class LinkInvalid(ServiceError):
    """The link cannot be used: `reason` is "unknown", "used" or "expired"; the message says it in words."""

    status_code = 410
    MESSAGES = {
        "unknown": "This link is not valid. Please use the latest message the clinic sent you.",
        "used": "This link was already used.",
        "expired": "This link has expired.",
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason])
        self.reason = reason
        if reason == "unknown":
            self.status_code = 404


@dataclass(frozen=True)
class LinkRequest:
    purpose: str
    obj_id: str
    expires_at: dt.datetime


def link_digest(token: str) -> str:
    return salted_hmac("messaging.links", token, algorithm="sha256").hexdigest()


def link_issue(*, purpose: str, obj_id: str, expires_at: dt.datetime) -> str:
    """A new link's URL path (relative to the site: prefix `settings.PUBLIC_URL` in a message)."""
    return links_issue(requests=[LinkRequest(purpose=purpose, obj_id=obj_id, expires_at=expires_at)])[0]


# Per row what differs, as arrays: a sweep's 6,000 links are five parameters, not 30,000 (as clinic.audit).
_INSERT = (
    f"INSERT INTO {LinkToken._meta.db_table} (purpose, obj_id, digest, expires_at, created) "
    "SELECT p, o, d, e, %s "
    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[]) AS r(p, o, d, e)"
)
_PLACEHOLDER = "--token--"  # never a token (43 URL-safe characters), never in a route


def links_issue(*, requests: Sequence[LinkRequest]) -> list[str]:
    """Many links in one insert (a reminder sweep issues three per message), their paths in order."""
    if not requests:
        return []
    tokens = [secrets.token_urlsafe(32) for _ in requests]
    # Each purpose's route reversed once: a token is URL-safe, so it stands in the path as it is.
    routes = {r.purpose: reverse(f"link_{r.purpose}", kwargs={"token": _PLACEHOLDER}) for r in requests}
    paths = [routes[r.purpose].replace(_PLACEHOLDER, t) for r, t in zip(requests, tokens, strict=True)]
    rows = [
        (r.purpose, r.obj_id, link_digest(t), r.expires_at) for r, t in zip(requests, tokens, strict=True)
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_INSERT, [timezone.now(), *(list(column) for column in zip(*rows, strict=True))])
    else:
        LinkToken.objects.bulk_create(
            LinkToken(purpose=p, obj_id=o, digest=d, expires_at=e) for p, o, d, e in rows
        )
    return paths


def _usable(purpose: str, token: str, now: dt.datetime) -> LinkToken:
    link = LinkToken.objects.filter(purpose=purpose, digest=link_digest(token)).first()
    if link is None:
        raise LinkInvalid("unknown")
    if link.used_at is not None:
        raise LinkInvalid("used")
    if link.expires_at <= now:
        raise LinkInvalid("expired")
    return link


def link_peek(*, purpose: str, token: str) -> LinkToken:
    """The link, if it could be used now (it is not used by this): raises LinkInvalid otherwise."""
    return _usable(purpose, token, timezone.now())


@transaction.atomic
def link_redeem(*, purpose: str, token: str) -> LinkToken:
    """Use the link once: raises LinkInvalid when it is unknown, used or expired. Call it inside the
    transaction of what the link does, so that a failed action rolls the use back."""
    now = timezone.now()
    used = LinkToken.objects.filter(
        purpose=purpose, digest=link_digest(token), used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not used:
        _usable(purpose, token, now)  # raises, saying why
        raise LinkInvalid("used")  # used between the update and the read
    return LinkToken.objects.get(purpose=purpose, digest=link_digest(token))


def links_sweep(*, older_than: dt.timedelta = dt.timedelta(days=30)) -> int:
    """Remove links that expired long ago (their pages then say "not valid" rather than "expired")."""
    deleted, _ = LinkToken.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted
