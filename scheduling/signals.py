"""What scheduling tells the apps above it (the waitlist), which it does not know.

`slot_freed` is sent inside the transaction that frees a future appointment's time (a cancel, a
reschedule away from it, a visit closed before its start), with `account_id`, `room_id`, `provider_id`
(None for an appointment without a provider), `consultation_id`, `start`, `end` and `cause` ("cancelled",
"moved" or "closed"). Receivers do their
work after commit (waitlist/receivers.py enqueues a task).
"""

from django.dispatch import Signal

slot_freed = Signal()
