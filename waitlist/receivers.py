"""Freed slots, told by scheduling (which knows nothing of the waitlist): offers are made after commit,
in a task, so a cancel never waits for messages."""

from django.dispatch import receiver

from clinic.jobs import enqueue_on_commit
from scheduling.services import UNDO_SECONDS
from scheduling.signals import slot_freed


@receiver(slot_freed, dispatch_uid="waitlist.slot_freed")
def slot_freed_received(
    sender, *, account_id, room_id, provider_id, consultation_id, start, end, cause="", **kwargs
):
    enqueue_on_commit(
        "waitlist.tasks.offers_make",
        account_id,
        room_id,
        provider_id,
        consultation_id,
        start.isoformat(),
        end.isoformat(),
        # A cancellation the front desk may still undo is offered once it can no longer be: offering at
        # once would hold the slot and make the undo fail. The task finds the slot booked again if undone.
        countdown=UNDO_SECONDS if cause == "cancelled" else 0,
    )
