"""A freed slot goes to the patients who waited longest, is held for them, and the first to accept gets it."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail

from clinic.errors import Conflict
from messaging.links import LinkInvalid
from scheduling import selectors as scheduling_selectors
from scheduling import services as scheduling_services
from scheduling.models import SlotHold
from tests.scheduling.conftest import NOW
from tests.waitlist.conftest import QUARTER, TEN, patient, wait
from visits.models import Visit, VisitStatus
from waitlist import services
from waitlist.models import MORNING, Offer, WaitlistEntry

pytestmark = pytest.mark.usefixtures("clock", "hours")


@pytest.fixture
def booked(account, front_desk, provider):
    """Someone's appointment at TEN, about to be cancelled."""
    somebody = patient(account, "Sam", "Booked")
    return scheduling_services.appointment_book(
        account=account, actor=front_desk, room_code="main", start=TEN, end=TEN + QUARTER,
        provider_id=provider.pk, member_code=somebody.code,
    )  # fmt: skip


@pytest.fixture
def waiting(account, room, consultation, front_desk):
    """Three patients, in the order they joined."""
    people = [patient(account, n, "Waiting") for n in ("Ada", "Ben", "Cleo")]
    entries = []
    for i, person in enumerate(people):
        with time_machine.travel(NOW - dt.timedelta(days=3 - i), tick=False):
            entries.append(wait(account, room, consultation, front_desk, person))
    return entries


def cancel(account, front_desk, visit, capture):
    with capture(execute=True):
        scheduling_services.appointment_cancel(
            account=account, actor=front_desk, visit_id=visit.pk, reason="Ill"
        )


def link_of(message) -> str:
    return re.search(r"https://clinic\.example(/offer/[^/\s]+/)", message.body).group(1)


def token_of(message) -> str:
    return link_of(message).split("/")[2]


def free_at(room, start):
    slots = scheduling_selectors.available_slots(room=room, slot_length=900, start=start, end=start + QUARTER)
    return [s.start for s in slots]


def test_a_cancelled_slot_is_offered_to_the_two_who_waited_longest_and_held_for_them(
    account, room, front_desk, booked, waiting, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    cancel(account, front_desk, booked, django_capture_on_commit_callbacks)
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.org", "ben@example.org"]
    assert "Mon 8 Mar, 10:00" in mail.outbox[0].subject
    assert "kept for you for 15 minutes" in mail.outbox[0].body
    hold = SlotHold.objects.active().get()
    assert (hold.start, hold.end) == (TEN, TEN + QUARTER)
    assert int(TEN.timestamp()) not in free_at(room, TEN)  # nobody else is offered it meanwhile
    offers = Offer.objects.order_by("entry__joined")
    assert [(o.entry.member.first_name, o.status) for o in offers] == [("Ada", "pending"), ("Ben", "pending")]
    assert offers[0].expires == NOW + dt.timedelta(minutes=15)


def test_the_first_to_accept_books_it_and_the_other_offer_says_taken(
    account, room, provider, front_desk, booked, waiting, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    cancel(account, front_desk, booked, django_capture_on_commit_callbacks)
    tokens = {m.to[0]: token_of(m) for m in mail.outbox}
    with django_capture_on_commit_callbacks(execute=True):
        _, visit = services.offer_accept(token=tokens["ben@example.org"])
    assert (visit.member.first_name, visit.start, visit.provider_id) == ("Ben", TEN, provider.pk)
    assert visit.status == VisitStatus.WAITING
    assert visit.events.get().actor == visit.member.user  # the patient booked it, through their link
    assert WaitlistEntry.objects.get(member=visit.member).status == WaitlistEntry.Status.BOOKED
    assert SlotHold.objects.active().count() == 0
    with pytest.raises(Conflict, match="another patient took this time first"):
        services.offer_accept(token=tokens["ada@example.org"])
    with pytest.raises(LinkInvalid, match="already used"):
        services.offer_accept(token=tokens["ben@example.org"])
    assert Visit.objects.filter(start=TEN, status=VisitStatus.WAITING).count() == 1


def test_ranking_is_by_joining_then_by_how_well_the_slot_fits(
    account, room, consultation, front_desk, booked, settings, django_capture_on_commit_callbacks
):
    settings.WAITLIST_OFFER_BATCH = 1
    anyone = patient(account, "Any", "Time")
    mornings = patient(account, "Monday", "Mornings")
    evenings = patient(account, "Only", "Evenings")
    wait(
        account, room, consultation, front_desk, evenings, times_of_day=4
    )  # joined first, but 10:00 is no evening
    wait(account, room, consultation, front_desk, anyone)
    wait(account, room, consultation, front_desk, mornings, weekdays=1, times_of_day=MORNING)
    mail.outbox.clear()
    cancel(account, front_desk, booked, django_capture_on_commit_callbacks)
    # Same time of joining (the clock is frozen): the one who asked for Monday mornings fits best.
    assert [m.to[0] for m in mail.outbox] == ["monday@example.org"]


def test_a_declined_offer_rolls_to_the_next_patient(
    account, room, front_desk, booked, waiting, settings, django_capture_on_commit_callbacks
):
    settings.WAITLIST_OFFER_BATCH = 1
    mail.outbox.clear()
    cancel(account, front_desk, booked, django_capture_on_commit_callbacks)
    [first] = mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        services.offer_decline(token=token_of(first))
    assert [m.to[0] for m in mail.outbox] == ["ada@example.org", "ben@example.org"]
    entry = WaitlistEntry.objects.get(member__first_name="Ada")
    assert entry.status == WaitlistEntry.Status.WAITING  # still waiting for another time
    assert SlotHold.objects.active().count() == 1


def test_unanswered_offers_expire_roll_on_and_the_slot_is_freed_when_nobody_is_left(
    account, room, front_desk, booked, waiting, django_capture_on_commit_callbacks, clock
):
    mail.outbox.clear()
    cancel(account, front_desk, booked, django_capture_on_commit_callbacks)
    clock.shift(dt.timedelta(minutes=16))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.offers_sweep() == 1
    assert [m.to[0] for m in mail.outbox][-1] == "cleo@example.org"
    statuses = dict(Offer.objects.values_list("entry__member__first_name", "status"))
    assert statuses == {"Ada": "expired", "Ben": "expired", "Cleo": "pending"}
    assert int(TEN.timestamp()) not in free_at(room, TEN)
    clock.shift(dt.timedelta(minutes=16))
    with django_capture_on_commit_callbacks(execute=True):
        services.offers_sweep()
    assert SlotHold.objects.active().count() == 0
    assert int(TEN.timestamp()) in free_at(room, TEN)  # the cache knows: the release bumped the version
    with pytest.raises(LinkInvalid, match="expired"):
        services.offer_accept(token=token_of(mail.outbox[-1]))


def test_the_front_desk_stops_the_offers_and_the_slot_is_bookable_again(
    account, room, front_desk, booked, waiting, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    cancel(account, front_desk, booked, django_capture_on_commit_callbacks)
    hold = SlotHold.objects.active().get()
    assert services.offers_stop(account=account, actor=front_desk, hold_id=hold.pk) == 2
    assert int(TEN.timestamp()) in free_at(room, TEN)
    with pytest.raises(Conflict, match="withdrawn by the clinic"):
        services.offer_accept(token=token_of(mail.outbox[0]))


def test_nobody_is_offered_a_slot_outside_what_they_asked_for(
    account,
    room,
    consultation,
    provider,
    other_provider,
    front_desk,
    booked,
    django_capture_on_commit_callbacks,
):
    later = patient(account, "Next", "Week")
    wait(account, room, consultation, front_desk, later, earliest=TEN.date() + dt.timedelta(days=1))
    other = patient(account, "Other", "Doctor")
    wait(account, room, consultation, front_desk, other, provider=other_provider)
    mail.outbox.clear()
    cancel(account, front_desk, booked, django_capture_on_commit_callbacks)
    assert mail.outbox == [] and SlotHold.objects.count() == 0


def test_a_patient_waits_once_per_room_and_a_past_range_is_refused(account, room, consultation, front_desk):
    person = patient(account, "Dee", "Twice")
    wait(account, room, consultation, front_desk, person)
    with pytest.raises(Conflict, match="already on this room's waitlist"):
        wait(account, room, consultation, front_desk, person)
    with pytest.raises(Exception, match="has passed"):
        old = patient(account, "Old", "Range")
        past = TEN.date() - dt.timedelta(days=9)
        wait(account, room, consultation, front_desk, old, earliest=past, latest=past + dt.timedelta(days=7))


def test_a_patient_cancelling_through_the_api_frees_the_slot_for_the_waitlist(
    account, room, provider, member, member_api, waiting, front_desk, django_capture_on_commit_callbacks
):
    visit = scheduling_services.appointment_book(
        account=account, actor=member.user, room_code="main", start=TEN, end=TEN + QUARTER,
        provider_id=provider.pk,
    )  # fmt: skip
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = member_api.post("visits/close", {"id": visit.pk, "reason": "patient_cancel_appointment"})
    assert response.status_code == 200
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.org", "ben@example.org"]
    assert SlotHold.objects.active().get().provider_id == provider.pk


def test_a_slot_freed_without_a_provider_is_held_with_one_who_is_free(
    account, room, provider, other_provider, front_desk, waiting, django_capture_on_commit_callbacks
):
    from tests.scheduling.factories import work

    work(other_provider, room)
    somebody = patient(account, "Tbd", "Booked")
    tbd = scheduling_services.appointment_book(
        account=account, actor=front_desk, room_code="main", start=TEN, end=TEN + QUARTER,
        member_code=somebody.code,
    )  # fmt: skip
    assert tbd.provider_id is None
    cancel(account, front_desk, tbd, django_capture_on_commit_callbacks)
    hold = SlotHold.objects.active().get()
    assert hold.provider_id == min(provider.pk, other_provider.pk)
    # The other provider's time stays free for anyone.
    assert int(TEN.timestamp()) in free_at(room, TEN)


def test_a_patient_is_asked_about_one_slot_at_a_time(
    account, room, provider, front_desk, waiting, django_capture_on_commit_callbacks
):
    def offer(start):
        return services.offers_make(
            account_id=account.pk, room_id=room.pk, provider_id=provider.pk, consultation_id=None,
            start=start, end=start + QUARTER,
        )  # fmt: skip

    offer(TEN)
    offer(TEN + QUARTER)
    asked = list(Offer.objects.pending().values_list("entry__member__first_name", "hold__start"))
    assert sorted(asked) == [("Ada", TEN), ("Ben", TEN), ("Cleo", TEN + QUARTER)]


def test_across_the_dst_change_the_wall_clock_time_decides_and_is_shown(
    account, room, consultation, provider, front_desk, settings, django_capture_on_commit_callbacks
):
    from tests.scheduling.conftest import la

    settings.WAITLIST_OFFER_BATCH = 1
    # Clocks go forward on Sunday 14 March 2027: 09:00 on the Monday after is 16:00 UTC, not 17:00.
    after = la(2027, 3, 15, 9)
    assert after.utcoffset() == dt.timedelta(hours=-7)
    evenings = patient(account, "Eve", "Nings")
    wait(account, room, consultation, front_desk, evenings, times_of_day=4)
    mornings = patient(account, "Mo", "Rnings")
    wait(account, room, consultation, front_desk, mornings, times_of_day=MORNING)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.offers_make(
            account_id=account.pk, room_id=room.pk, provider_id=provider.pk, consultation_id=None,
            start=after, end=after + QUARTER,
        )  # fmt: skip
    [message] = mail.outbox
    assert message.to == ["mo@example.org"] and "Mon 15 Mar, 09:00" in message.subject


def test_a_cancellation_is_offered_only_once_it_can_no_longer_be_undone(
    account, room, front_desk, booked, waiting, monkeypatch, django_capture_on_commit_callbacks
):
    from waitlist import receivers

    queued = []
    monkeypatch.setattr(receivers, "enqueue_on_commit", lambda path, *args, **options: queued.append(options))
    cancel(account, front_desk, booked, django_capture_on_commit_callbacks)
    assert queued == [{"countdown": 300}]
    # Booked again meanwhile (an undo): when the task runs, nobody is offered the slot.
    scheduling_services.appointment_book(
        account=account, actor=front_desk, room_code="main", start=TEN, end=TEN + QUARTER,
        provider_id=booked.provider_id, member_code=booked.member.code,
    )  # fmt: skip
    mail.outbox.clear()
    assert services.offers_make(
        account_id=account.pk, room_id=room.pk, provider_id=booked.provider_id, consultation_id=None,
        start=TEN, end=TEN + QUARTER,
    ) is None  # fmt: skip
    assert mail.outbox == [] and SlotHold.objects.count() == 0
