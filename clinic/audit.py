"""The audit trail of access to patient data: who read or changed whose data, how and from where.

Recorded at the interface: views, API views and tasks call `audit_record` / `audit_record_many` next to
the selector or service they call, so selectors stay pure and services stay callable from anywhere.
One call is one INSERT, whatever the number of objects: a list page records all its rows at once.
Rows are only ever added (`clinic.models.AuditEvent` refuses changes); clinic admins read them through
`clinic.audit_views` and `GET /api/v3/audit_events`.
"""

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.request import Request

from clinic.errors import NotAllowed
from clinic.models import Account, AuditEvent, Member, User

Action = AuditEvent.Action
ObjectType = AuditEvent.ObjectType
Via = AuditEvent.Via
_READS = frozenset({Action.READ, Action.LIST, Action.SEARCH, Action.DOWNLOAD})

# The models whose rows are patient data, by label (clinic imports no other app).
_OBJECT_TYPES = {
    "visits.visit": ObjectType.VISIT,
    "visits.intake": ObjectType.INTAKE,
    "visits.attachment": ObjectType.FILE,
    "clinic.member": ObjectType.MEMBER,
    "clinic.user": ObjectType.USER,
}


@dataclass(frozen=True)
class Actor:
    """Who acts (None: the system), from where, through what, and the clinic of objects read with only some
    of their columns (which may leave out their own)."""

    account_id: int | None
    user_id: int | None
    ip: str | None
    via: str


# Celery tasks: no user, no address; each row goes to the account of its object.
SYSTEM = Actor(account_id=None, user_id=None, ip=None, via=Via.TASK)


@dataclass(frozen=True)
class Target:
    """What was read or changed, and whose it is."""

    object_type: str
    object_id: str
    member_id: int | None
    account_id: int | None = None


def client_ip(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or behind `TRUSTED_PROXY_COUNT` proxies that each append the
    address they saw to X-Forwarded-For, the one the outermost proxy saw. Entries further left were
    written by the client and are never believed."""
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def actor_of(request) -> Actor:
    """The actor of a page request (session user) or an API request (token user; none for an API key)."""
    user = request.user
    account = getattr(request, "account", None)
    return Actor(
        account_id=account.pk if account is not None else getattr(user, "account_id", None),
        user_id=user.pk if user.is_authenticated else None,
        ip=client_ip(request),
        via=Via.API if isinstance(request, Request) else Via.PAGE,
    )


def link_actor(request, *, account_id: int) -> Actor:
    """The actor of a public page opened through a signed link sent to a patient: nobody is logged in, the
    link stands for the patient it was sent to (the rows name that patient), from the request's address."""
    return Actor(account_id=account_id, user_id=None, ip=client_ip(request), via=Via.LINK)


def target(obj, *, member_id: int | None = None) -> Target:
    """The target of a model instance. The patient is the member itself, a user's member, the object's
    `member_id`, or the one given (a file carries none of its own)."""
    if member_id is None and isinstance(obj, User):
        member_id = obj.member.pk if obj.is_member else None
    elif member_id is None:
        member_id = obj.pk if isinstance(obj, Member) else getattr(obj, "member_id", None)
    return Target(
        object_type=_OBJECT_TYPES[obj._meta.label_lower],
        object_id=str(obj.pk),
        member_id=member_id,
        # Read without loading it: list rows are fetched with only the columns they show.
        account_id=obj.__dict__.get("account_id"),
    )


def audit_record(who, action: str, *objects, detail: str = "") -> int:
    """Record `action` on each object (model instances or Targets) by `who` (a request or an Actor)."""
    return audit_record_many(who, action, objects, detail=detail)


def audit_record_many(who, action: str, objects: Iterable, *, detail: str = "") -> int:
    """The bulk form: one INSERT for all the objects; nothing when there are none. Returns the row count."""
    actor = who if isinstance(who, Actor) else actor_of(who)
    targets = dict.fromkeys(obj if isinstance(obj, Target) else target(obj) for obj in objects)
    # A row goes to the trail of the object's clinic (for a request, the caller's: every read starts from
    # it). An object of no clinic (a superuser's own user row) is nobody's patient data.
    rows = [
        (t.account_id or actor.account_id, t.member_id, t.object_type, t.object_id)
        for t in targets
        if t.account_id or actor.account_id
    ]
    window, listed = settings.AUDIT_LIST_REPEAT_SECONDS, []
    if action == Action.LIST and window and actor.user_id:
        rows, listed = _not_listed_lately(actor, rows)
    if not rows:
        return 0
    # What the rows share, in the order of _INSERT's columns.
    shared = {
        "at": timezone.now(),
        "user_id": actor.user_id,
        "action": action,
        "ip": actor.ip,
        "via": actor.via,
        "detail": detail[:200],
    }
    if connection.vendor != "postgresql":
        AuditEvent.objects.bulk_create(
            AuditEvent(account_id=a, member_id=m, object_type=t, object_id=o, **shared) for a, m, t, o in rows
        )
    elif action in _READS and settings.AUDIT_ASYNC_READ_COMMIT and not connection.in_atomic_block:
        # A read's record need not wait for the disk: PostgreSQL's asynchronous commit, for this insert
        # alone, takes the WAL flush off the request (a database crash may lose the last ~0.6 s of read
        # records, never a change's). Inside a caller's transaction the caller's durability applies.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            _insert(cursor, shared, rows)
    else:
        with connection.cursor() as cursor:
            _insert(cursor, shared, rows)
    if listed:
        cache.set_many(dict.fromkeys(listed, True), timeout=window)
    return len(rows)


def _not_listed_lately(actor: Actor, rows: list[tuple]) -> tuple[list[tuple], list[str]]:
    """The rows this user has not been shown in a list within AUDIT_LIST_REPEAT_SECONDS, and their cache
    keys (set once they are recorded). A dashboard refreshing every few seconds shows mostly the same
    patients: each is recorded when it first appears, not 1,800 times an hour. The cache may forget
    early (another process, an eviction): then a row is recorded again, never left out."""
    keys = [f"audit:list:{actor.user_id}:{actor.via}:{t}:{o}" for _, _, t, o in rows]
    listed = cache.get_many(keys)
    fresh = [(row, key) for row, key in zip(rows, keys, strict=True) if key not in listed]
    return [row for row, _ in fresh], [key for _, key in fresh]


# Per row what differs, as four arrays; once what the rows share: a list page's 50 rows are 10 parameters,
# not 500 (measured: under half the time of bulk_create's VALUES list, bench/audit.py).
_INSERT = (
    f"INSERT INTO {AuditEvent._meta.db_table} "
    "(account_id, member_id, object_type, object_id, at, user_id, action, ip, via, detail) "
    "SELECT a, m, t, o, %s, %s, %s, %s::inet, %s, %s "
    "FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS r(a, m, t, o)"
)


def _insert(cursor, shared: dict, rows: list[tuple]) -> None:
    columns = [list(column) for column in zip(*rows, strict=True)]
    cursor.execute(_INSERT, [*shared.values(), *columns])


# --- reading the trail (clinic admins) --------------------------------------------------------------------


def _people_matching(text: str) -> Q:
    """Every word of `text` in the first or the last name."""
    query = Q()
    for word in text.split():
        query &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
    return query


def audit_events(
    *,
    account: Account,
    user: User,
    member: str = "",
    patient: str = "",
    user_id: int | None = None,
    person: str = "",
    object_type: str = "",
    object_id: str = "",
    action: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The account's trail, newest first, for clinic admins only. `member` is a patient's code or id (the
    API's `member_id`); `patient` and `person` are what an admin types: a patient's name or code, a user's
    name or username."""
    if not user.has_perm("clinic.view_auditevent"):
        raise NotAllowed("Only clinic admins read the audit trail.")
    events = AuditEvent.objects.for_account(account)
    members = Member.objects.for_account(account)
    if member:
        # The API's person id: the patient's user (as SSO returns it and member.id shows).
        by_id = Q(user_id=int(member)) if member.isdecimal() and len(member) < 19 else Q(pk__in=[])
        events = events.filter(member_id__in=members.filter(Q(code=member) | by_id).values("pk"))
    if patient := patient.strip():
        matching = members.filter(Q(code__iexact=patient) | _people_matching(patient))
        events = events.filter(member_id__in=matching.values("pk"))
    if user_id is not None:
        events = events.filter(user_id=user_id)
    if person := person.strip():
        people = User.objects.for_account(account)
        people = people.filter(Q(username__iexact=person) | _people_matching(person))
        events = events.filter(user_id__in=people.values("pk"))
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    if action:
        events = events.filter(action=action)
    if start:
        events = events.filter(at__gte=start)
    if end:
        events = events.filter(at__lt=end)
    return events.select_related("user", "member").order_by("-at", "-id")
