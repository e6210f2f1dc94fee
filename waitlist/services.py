"""Waitlist writes: entries, offers of freed slots, their answers, expiry and the front desk's stop.

A freed slot (scheduling's `slot_freed`, after commit, in `tasks.offers_make`) is kept by a
`scheduling.SlotHold` for `WAITLIST_HOLD_MINUTES` and offered to the best-ranked `WAITLIST_OFFER_BATCH`
patients at once; the first to accept books it through `scheduling.services.appointment_book(hold=…)`.
An offer not answered in time, or declined by all, rolls to the next patients on the same hold; with
none left, the hold is released. Lock order: the hold, then its offers (accepts, rolls and stops alike).
"""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import dateformat, timezone

from clinic.errors import Conflict, InvalidInput, NotAllowed, NotFound
from clinic.jobs import enqueue_on_commit
from clinic.models import Account, Consultation, Provider, Room, User
from clinic.selectors import member_by_code, provider_get
from messaging.links import LinkInvalid, link_issue, link_peek, link_redeem
from messaging.services import message_send
from push.events import EventKind
from push.services import publish_on_commit
from scheduling.models import SlotHold
from scheduling.selectors import providers_free_for
from scheduling.services import appointment_book, may_book, slot_hold_create, slot_hold_release
from visits.models import Visit
from waitlist.models import Offer, WaitlistEntry
from waitlist.selectors import candidates_for_slot, offer_by_id

LINK_PURPOSE = "waitlist_offer"


def _hold_time() -> dt.timedelta:
    return dt.timedelta(minutes=settings.WAITLIST_HOLD_MINUTES)


def _announce(*, account_id: int, room_id: int) -> None:
    """The room's waitlist changed: its open pages reload their live part after commit (no patient on
    the event; the reload is the page's audited partial)."""
    publish_on_commit(kind=EventKind.WAITLIST, account_id=account_id, room_ids=[room_id])


# --- entries (the front desk) ----------------------------------------------------------------------------


def _may_manage(actor: User) -> None:
    if not may_book(actor):
        raise NotAllowed("Only the front desk and clinic admins manage the waitlist.")


@transaction.atomic
def waitlist_entry_add(
    *,
    account: Account,
    actor: User,
    room: Room,
    member_code: str,
    consultation: Consultation,
    earliest: dt.date,
    latest: dt.date,
    provider: Provider | None = None,
    weekdays: int = 0,
    times_of_day: int = 0,
    note: str = "",
) -> WaitlistEntry:
    _may_manage(actor)
    if room.account_id != account.pk:
        raise NotFound("No such room.", errors={"room": ["No such room."]})
    if consultation.room_id != room.pk or not consultation.active or consultation.is_group:
        raise InvalidInput.field("consultation", "Choose a one-to-one consultation of this room.")
    if provider is not None:
        provider = provider_get(account=account, provider_id=provider.pk)
        if not provider.rooms.filter(pk=room.pk).exists():
            raise InvalidInput.field("provider", "That provider does not work in this room.")
    if latest < earliest:
        raise InvalidInput.field("latest", "The last day is before the first.")
    if latest < timezone.now().astimezone(room.zone).date():
        raise InvalidInput.field("latest", "The last day has passed.")
    member = member_by_code(account=account, code=member_code)
    if WaitlistEntry.objects.filter(room=room, member=member, status=WaitlistEntry.Status.WAITING).exists():
        raise Conflict(
            "The patient is already on this room's waitlist.", errors={"member": ["Already waiting."]}
        )
    _announce(account_id=account.pk, room_id=room.pk)
    return WaitlistEntry.objects.create(
        account=account,
        room=room,
        member=member,
        provider=provider,
        consultation=consultation,
        earliest=earliest,
        latest=latest,
        weekdays=weekdays,
        times_of_day=times_of_day,
        note=note.strip()[:200],
        joined=timezone.now(),
        added_by=actor,
    )


@transaction.atomic
def waitlist_entry_remove(*, account: Account, actor: User, entry_id) -> WaitlistEntry:
    """Take a patient off the waitlist; an offer of theirs still waiting for an answer is withdrawn."""
    _may_manage(actor)
    entry = (
        WaitlistEntry.objects.for_account(account).select_for_update().filter(pk=_as_int(entry_id)).first()
    )
    if entry is None or entry.status != WaitlistEntry.Status.WAITING:
        raise NotFound("That patient is not waiting (any more).")
    WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.REMOVED)
    for offer in Offer.objects.pending().filter(entry=entry):
        Offer.objects.filter(pk=offer.pk, status=Offer.Status.PENDING).update(
            status=Offer.Status.STOPPED, answered=timezone.now()
        )
        enqueue_on_commit("waitlist.tasks.offers_roll", offer.hold_id)
    entry.status = WaitlistEntry.Status.REMOVED
    _announce(account_id=account.pk, room_id=entry.room_id)
    return entry


# --- offers ----------------------------------------------------------------------------------------------


def offers_make(
    *,
    account_id: int,
    room_id: int,
    provider_id: int | None,
    consultation_id,
    start: dt.datetime,
    end: dt.datetime,
) -> SlotHold | None:
    """Offer a freed slot to the best-ranked waitlisted patients, keeping it for them. None when nobody
    fits, or the time is no longer free (booked again meanwhile, or offered by a run before this one)."""
    room = Room.objects.filter(pk=room_id, account_id=account_id).select_related("account").first()
    now = timezone.now()
    if room is None or start <= now + dt.timedelta(seconds=room.min_notice):
        return None
    length = int((end - start).total_seconds())
    free = providers_free_for(room=room, start=start, end=end, provider_id=provider_id)
    if not free:
        return None
    ranked = candidates_for_slot(
        room=room, provider_ids=sorted(free), length=length, start=start, consultation_id=consultation_id
    )
    if not ranked:
        return None
    provider_pk = ranked[0][1]
    batch = [entry for entry, pid in ranked if pid == provider_pk][: settings.WAITLIST_OFFER_BATCH]
    expires = now + _hold_time()
    try:
        with transaction.atomic():
            hold = slot_hold_create(
                account=room.account,
                room=room,
                provider=Provider.objects.get(pk=provider_pk),
                consultation=batch[0].consultation if consultation_id else None,
                start=start,
                end=end,
                expires=expires,
            )
            _offers_send(hold=hold, entries=batch, expires=expires)
    except Conflict:
        return None  # taken since it was read: nothing to offer
    return hold


def _offers_send(*, hold: SlotHold, entries: list[WaitlistEntry], expires: dt.datetime) -> list[Offer]:
    now = timezone.now()
    start, end = hold.start.astimezone(hold.room.zone), hold.end.astimezone(hold.room.zone)
    offers = []
    for entry in entries:
        offer = Offer.objects.create(
            account_id=hold.account_id, entry=entry, hold=hold, created=now, expires=expires
        )
        path = link_issue(purpose=LINK_PURPOSE, obj_id=str(offer.pk), expires_at=expires)
        message_send(
            account=entry.account,
            patient=entry.member,
            kind="waitlist_offer",
            context={
                # Words only: a clinic's own template must not reach into the models behind them.
                "room": {"name": hold.room.name, "time_zone": hold.room.time_zone},
                "provider": {"display_name": hold.provider.display_name},
                # Formatted here, in the room's zone: the message is rendered outside any request.
                "when": dateformat.format(start, "D j M, H:i"),
                "when_long": f"{dateformat.format(start, 'l j F Y, H:i')}-{dateformat.format(end, 'H:i')}",
                "minutes": settings.WAITLIST_HOLD_MINUTES,
                "url": settings.PUBLIC_URL + path,
            },
            dedupe_key=f"waitlist_offer:{offer.pk}",
            not_after=expires,  # an offer that ran out is not worth a message
        )
        offers.append(offer)
    # The hold's end is checked by the beat sweep too: this is the prompt path.
    enqueue_on_commit("waitlist.tasks.offers_roll", hold.pk, eta=expires)
    _announce(account_id=hold.account_id, room_id=hold.room_id)
    return offers


TAKEN = "Sorry, another patient took this time first."


def offer_words(offer: Offer) -> str:
    """What the patient's page says of an offer that is no longer open."""
    return {
        Offer.Status.ACCEPTED: "This offer was accepted: the appointment is booked.",
        Offer.Status.DECLINED: "This offer was declined.",
        Offer.Status.EXPIRED: "This offer has expired: the time went to the next patient.",
        Offer.Status.TAKEN: TAKEN,
        Offer.Status.STOPPED: "This offer was withdrawn by the clinic.",
    }.get(offer.status, "This offer is no longer open.")


def offer_by_link(*, token: str) -> Offer:
    """The offer a patient's link names, without using the link (mail scanners open links): raises
    `LinkInvalid` for an unknown, used or expired one."""
    link = link_peek(purpose=LINK_PURPOSE, token=token)
    offer = offer_by_id(offer_id=int(link.obj_id))
    if offer is None:
        raise LinkInvalid("unknown")
    return offer


def offer_accept(*, token: str) -> tuple[Offer, Visit]:
    """The patient takes the offered slot: the link is used and the slot booked through the booking
    service, its hold released, all in one transaction (a failure leaves the link unused). Of two accepts
    of one hold, the second waits on the hold's row, then finds it released; the partial unique constraint
    on accepted offers and the visits' exclusion constraint stand behind that."""
    offer = offer_by_link(token=token)
    now = timezone.now()
    if offer.status != Offer.Status.PENDING:
        raise Conflict(offer_words(offer))
    hold, entry = offer.hold, offer.entry
    try:
        with transaction.atomic():
            link_redeem(purpose=LINK_PURPOSE, token=token)
            visit = appointment_book(
                account=entry.account,
                # The patient books for themselves when they have a login; else the front desk who put
                # them on the list does, on their behalf.
                actor=entry.member.user if entry.member.user_id else entry.added_by,
                room_code=hold.room.code,
                start=hold.start,
                end=hold.end,
                provider_id=hold.provider_id,
                member_code=entry.member.code,
                consultation_id=entry.consultation_id,
                hold=hold,
            )
            if not Offer.objects.filter(pk=offer.pk, status=Offer.Status.PENDING).update(
                status=Offer.Status.ACCEPTED, answered=now
            ):
                raise Conflict("This offer is no longer open.")
            Offer.objects.filter(hold=hold, status=Offer.Status.PENDING).update(
                status=Offer.Status.TAKEN, answered=now
            )
            WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.BOOKED, visit=visit)
            _announce(account_id=hold.account_id, room_id=hold.room_id)
    except IntegrityError as exc:
        if "offer_one_accepted" not in str(exc):
            raise
        raise Conflict(TAKEN) from exc
    except Conflict as exc:
        offer.refresh_from_db()
        if offer.status != Offer.Status.PENDING:
            raise Conflict(offer_words(offer)) from exc
        raise
    offer.status = Offer.Status.ACCEPTED
    return offer, visit


@transaction.atomic
def offer_decline(*, token: str) -> Offer:
    """The patient says no (and stays on the waitlist): the slot rolls on once nobody else of the batch
    is still deciding."""
    offer = offer_by_link(token=token)
    if offer.status != Offer.Status.PENDING:
        raise Conflict(offer_words(offer))
    link_redeem(purpose=LINK_PURPOSE, token=token)
    if not Offer.objects.filter(pk=offer.pk, status=Offer.Status.PENDING).update(
        status=Offer.Status.DECLINED, answered=timezone.now()
    ):
        raise Conflict("This offer is no longer open.")
    enqueue_on_commit("waitlist.tasks.offers_roll", offer.hold_id)
    _announce(account_id=offer.account_id, room_id=offer.hold.room_id)
    offer.status = Offer.Status.DECLINED
    return offer


def offers_roll(*, hold_id: int) -> int:
    """A hold's offers ran out (expired, declined, withdrawn): offer the slot to the next patients, or
    release it when nobody fits or it is too late. Returns the number of new offers. Idempotent: a hold
    with an answer still awaited, booked or released is left as it is."""
    now = timezone.now()
    with transaction.atomic():
        hold = (
            SlotHold.objects.select_for_update()
            .select_related("room", "account", "provider")
            .filter(pk=hold_id, released__isnull=True)
            .first()
        )
        if hold is None:
            return 0
        if Offer.objects.filter(hold=hold, status=Offer.Status.PENDING, expires__lte=now).update(
            status=Offer.Status.EXPIRED, answered=now
        ):
            _announce(account_id=hold.account_id, room_id=hold.room_id)
        if Offer.objects.pending().filter(hold=hold).exists():
            return 0
        ranked = []
        if hold.start > now + dt.timedelta(seconds=hold.room.min_notice):
            ranked = candidates_for_slot(
                room=hold.room,
                provider_ids=[hold.provider_id],
                length=int((hold.end - hold.start).total_seconds()),
                start=hold.start,
                consultation_id=hold.consultation_id,
            )
        batch = [entry for entry, _ in ranked][: settings.WAITLIST_OFFER_BATCH]
        if not batch:
            slot_hold_release(hold_id=hold.pk)
            _announce(account_id=hold.account_id, room_id=hold.room_id)
            return 0
        expires = now + _hold_time()
        SlotHold.objects.filter(pk=hold.pk).update(expires=expires)
        return len(_offers_send(hold=hold, entries=batch, expires=expires))


def offers_sweep() -> int:
    """The beat's safety net for the eta task: roll every hold whose time is up. Returns holds rolled."""
    due = list(
        SlotHold.objects.active()
        .filter(expires__lte=timezone.now())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for hold_id in due:
        offers_roll(hold_id=hold_id)
    return len(due)


@transaction.atomic
def offers_stop(*, account: Account, actor: User, hold_id) -> int:
    """The front desk stops offering a slot: answers still awaited are withdrawn, the slot is free."""
    _may_manage(actor)
    hold = SlotHold.objects.for_account(account).select_for_update().filter(pk=_as_int(hold_id)).first()
    if hold is None or hold.released is not None:
        raise NotFound("Those offers have ended already.")
    stopped = Offer.objects.filter(hold=hold, status=Offer.Status.PENDING).update(
        status=Offer.Status.STOPPED, answered=timezone.now()
    )
    slot_hold_release(hold_id=hold.pk)
    _announce(account_id=account.pk, room_id=hold.room_id)
    return stopped


def _as_int(value) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return -1
