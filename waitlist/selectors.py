"""Reads of the waitlist: who fits a freed slot, in rank order, and what the front desk's page shows."""

import datetime as dt

from django.db.models import Prefetch, QuerySet

from clinic.models import Account, Member, Room, User
from messaging.models import Channel
from messaging.selectors import consents_granted
from push.events import Audience, EventKind
from waitlist.models import Offer, WaitlistEntry, time_of_day_bit


def entry_fits(entry: WaitlistEntry, *, local_start: dt.datetime) -> int | None:
    """None when the slot is outside what the patient asked for; else how well it fits their stated
    preferences (a slot on a day and at a time they named beats one they merely accept)."""
    day = local_start.date()
    if not (entry.earliest <= day <= entry.latest):
        return None
    fit = 0
    if entry.weekdays:
        if not entry.weekdays & (1 << day.weekday()):
            return None
        fit += 1
    if entry.times_of_day:
        if not entry.times_of_day & time_of_day_bit(local_start):
            return None
        fit += 1
    return fit


def candidates_for_slot(
    *, room: Room, provider_ids: list[int], length: int, start: dt.datetime, consultation_id=None
) -> list[tuple[WaitlistEntry, int]]:
    """Waiting entries of the room that fit a free slot of one of `provider_ids` starting at `start`,
    with the provider each would get: ranked by when they joined, then by preference fit. An entry with a
    pending offer, or offered this very time before (by a hold since released), is not asked again, nor is
    a patient no message can reach."""
    local_start = start.astimezone(room.zone)
    offered_before = Offer.objects.filter(hold__room=room, hold__start=start).values("entry_id")
    entries = (
        WaitlistEntry.objects.filter(
            room=room,
            status=WaitlistEntry.Status.WAITING,
            consultation__active=True,
            earliest__lte=local_start.date(),
            latest__gte=local_start.date(),
        )
        .exclude(pk__in=Offer.objects.pending().values("entry_id"))
        .exclude(pk__in=offered_before)
        .select_related("member", "consultation")
        .order_by("joined", "pk")
    )
    # The freed appointment's consultation; one booked without any frees time for any of that length.
    if consultation_id:
        entries = entries.filter(consultation_id=consultation_id)
    else:
        entries = entries.filter(consultation__duration=length)
    entries = list(entries)
    can_hear = reachable([entry.member for entry in entries])
    ranked = []
    for entry in entries:
        if entry.member_id not in can_hear:
            continue
        fit = entry_fits(entry, local_start=local_start)
        if fit is None:
            continue
        if entry.provider_id and entry.provider_id not in provider_ids:
            continue
        provider_id = entry.provider_id or provider_ids[0]
        ranked.append((entry, fit, provider_id))
    ranked.sort(key=lambda r: (r[0].joined, -r[1], r[0].pk))
    return [(entry, provider_id) for entry, _, provider_id in ranked]


def reachable(members: list[Member]) -> set[int]:
    """The patients among `members` a message can reach (an address and consent for it): only they are
    offered slots, since they answer through the message's link."""
    granted = consents_granted(member_ids=[m.pk for m in members])
    return {
        m.pk
        for m in members
        if (m.email and (m.pk, Channel.EMAIL) in granted) or (m.phone and (m.pk, Channel.SMS) in granted)
    }


def waitlist_of_room(*, account: Account, room: Room) -> QuerySet[WaitlistEntry]:
    """The room's waiting entries, oldest first, with their offers (newest first) and the slots offered."""
    offers = Offer.objects.select_related("hold", "hold__provider__user").order_by("-created", "-pk")
    return (
        WaitlistEntry.objects.for_account(account)
        .filter(room=room, status=WaitlistEntry.Status.WAITING)
        .select_related("member", "provider__user", "consultation")
        .prefetch_related(Prefetch("offers", queryset=offers))
        .order_by("joined", "pk")
    )


def recent_offers(*, account: Account, room: Room, limit: int = 20) -> QuerySet[Offer]:
    """The room's latest offers, live ones first: what the front desk watches and may stop."""
    return (
        Offer.objects.for_account(account)
        .filter(entry__room=room)
        .select_related("entry__member", "hold", "hold__provider__user")
        .order_by("-hold__created", "-hold_id", "entry__joined", "pk")[:limit]
    )


def offer_by_id(*, offer_id: int) -> Offer | None:
    """An offer named by a signed link (the link is the patient's proof, no account is known yet)."""
    return (
        Offer.objects.select_related(
            "entry__account",
            "entry__member__user",
            "entry__added_by",
            "entry__consultation",
            "hold__room",
            "hold__provider__user",
        )
        .filter(pk=offer_id)
        .first()
    )


def waitlist_audience(*, user: User) -> Audience | None:
    """Who hears the waitlist's changes on its page's stream: those who manage it (the front desk and
    clinic admins), for every room of their clinic; nobody else."""
    if not user.is_authenticated or user.account_id is None or not user.has_perm("visits.book_appointment"):
        return None
    return Audience(account_id=user.account_id, room_ids=None, kinds=frozenset({EventKind.WAITLIST}))
